"""Search over everything said (issue 25): the domain service over
``hub.store.search_index``; the terms and the query language are pure, in
``hub.text.index_terms`` and ``hub.text.search_query``."""
