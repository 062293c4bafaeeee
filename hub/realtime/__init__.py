"""Realtime events: the bus interface and its implementations."""
