"""The router writes nothing of what it worked out for a conversation someone changed
after it read the row (regression: an automation that moved a new conversation to
another queue, or tagged it, on its first message was written over by the router's
first route, computed from the row as it was before)."""

from types import SimpleNamespace
from typing import Any

from hub.dispatch.admission import changed_since


def _row(**changes: Any) -> Any:
    read = {"status": "open", "queue": None, "assignee_id": None, "offered_to": None, "route": None}
    return SimpleNamespace(**{**read, **changes})


def _now(**changes: Any) -> dict[str, Any]:
    return {
        "status": "open",
        "queue": None,
        "assignee_id": None,
        "offered_to": None,
        "route": None,
        **changes,
    }


def test_a_row_as_it_was_read_is_not_changed() -> None:
    assert not changed_since(_row(route={"tags": ["a"]}), _now(route={"tags": ["a"]}))


def test_a_queue_tags_an_assignment_or_a_close_since_are_changes() -> None:
    for now in (
        _now(queue="billing"),
        _now(route={"tags": ["vip"]}),
        _now(assignee_id="agent-1"),
        _now(status="closed"),
        None,  # gone (erased)
    ):
        assert changed_since(_row(), now), now
