"""The stateful side of routing: the live rules (versions, reload) and, later, the Router."""
