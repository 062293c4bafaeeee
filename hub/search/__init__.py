"""Search over everything said (issue 25): ``words`` and ``query`` are pure (layer 1);
``service`` is the domain service over ``hub.store.search_index``."""
