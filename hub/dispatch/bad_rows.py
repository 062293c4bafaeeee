"""Rows the router cannot use: one bad agent or conversation must not stop routing.

The API refuses what would make a row unreadable (``null`` capacity, a role of None),
but a row can still go bad behind its back: an old version's data, a hand-made fix in the
database, an import. The router then skips that row, logs it once (not on every pass),
and routes everyone else; the row is used again as soon as it reads well.
"""

from __future__ import annotations

import logging
from typing import Any

import rule_engine

from hub.dispatch.facts import agent_state
from hub.routing.types import AgentState

# What reading a malformed row raises in the router's own code (no I/O happens there),
# and what a rule raises on a value of an unexpected type.
ROW_ERRORS: tuple[type[Exception], ...] = (
    TypeError,
    ValueError,
    KeyError,
    AttributeError,
    rule_engine.errors.EngineError,
)


def checked_agent_state(row: Any) -> AgentState:
    """``agent_state`` of a row whose skills and capacity have the types routing counts
    with; ValueError (or TypeError) naming the field otherwise."""
    state = agent_state(row)
    for name in ("languages", "departments", "tags", "teams"):
        if not all(isinstance(v, str) for v in getattr(state, name)):
            raise ValueError(f"{name}: expected a list of strings")
    if not all(isinstance(k, str) and type(v) is int for k, v in state.capacity.items()):
        raise ValueError("capacity: expected whole numbers per channel")
    if not isinstance(state.presence, str):
        raise ValueError("presence: expected a string")
    return state


class BadRows:
    """Which rows are skipped now; each is logged when it goes bad, and when it reads again."""

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._bad: set[tuple[str, str]] = set()

    def skipped(self, kind: str, row_id: str, exc: Exception) -> None:
        if (kind, row_id) in self._bad:
            return
        self._bad.add((kind, row_id))
        self._log.error(
            "router skips %s %s until its record is fixed: %s: %s",
            kind,
            row_id,
            type(exc).__name__,
            exc,
            extra={"row_kind": kind, "row_id": row_id},
        )

    def read(self, kind: str, row_id: str) -> None:
        if (kind, row_id) in self._bad:
            self._bad.discard((kind, row_id))
            self._log.info("router uses %s %s again", kind, row_id)

    def ids(self, kind: str) -> set[str]:
        """The ids of the rows of this kind skipped now (to be tried again)."""
        return {row_id for k, row_id in self._bad if k == kind}
