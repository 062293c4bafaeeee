"""The stateful side of routing: the Router service (``router.py``, the leadership loop,
with ``view_loader.py``, ``decisions.py`` and ``sla_scan.py`` for its jobs), its in-memory
view, the live rules, and what agents do to routed conversations (``actions.py``)."""
