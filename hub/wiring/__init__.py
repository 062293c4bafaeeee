"""How ``create_app`` wires the hub: one module per area, each a cleanup context (a
resource opened at start-up and closed at shutdown) or a small ``wire_*`` function.

Contexts read what they need from the app's keys (``hub.keys``); ``create_app`` lists them
in the order they open, and they close in reverse.
"""
