"""The routing core: pure functions of (conversation, floor, rules, now).

No ``await``, no database, no clock reads: ``now`` is passed in. The Router service
(``hub/dispatch``) feeds it and applies its decisions.
"""
