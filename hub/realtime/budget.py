"""How many frames a socket's client may send: at most ``limit`` per ``seconds``, counted
in fixed windows. Pure: the caller passes the monotonic time."""

from __future__ import annotations


class FrameBudget:
    def __init__(self, limit: int, seconds: float, now: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._window_start = now
        self._count = 0

    def take(self, now: float) -> bool:
        """Count one frame; False when it is over the budget (drop or refuse it)."""
        if now - self._window_start > self.seconds:
            self._window_start, self._count = now, 0
        self._count += 1
        return self._count <= self.limit
