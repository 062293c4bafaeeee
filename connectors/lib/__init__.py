"""Libraries the connectors share (a provider's API client, its webhook signatures).

Nothing here is a connector: no ``SPEC``, no routes of its own, and it is not listed in
``connectors/__init__.py``. A connector may import from here; a library never imports a
connector (``scripts/check_connectors.py`` keeps both rules).
"""
