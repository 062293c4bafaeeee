"""The typed records' own rules (hub.model), and that the web layer builds no SQL. Pure."""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hub.model import Channel, Conversation, ConversationState, ConversationStatus, Priority

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WEB = Path(__file__).resolve().parents[1] / "hub" / "web"


def conversation(**fields: Any) -> Conversation:
    base = Conversation(
        id="c1",
        customer_id="u1",
        channel=Channel.EMAIL,
        thread_key="t",
        status=ConversationStatus.OPEN,
        needs_routing=False,
        message_count=1,
        opened_at=NOW - timedelta(hours=2),
        last_message_at=NOW - timedelta(hours=1),
    )
    return replace(base, **fields)


def test_state_follows_status_then_routing() -> None:
    assert conversation().state is ConversationState.WAITING
    assert conversation(offered_to="a1").state is ConversationState.OFFERED
    assert conversation(offered_to="a1", assignee_id="a2").state is ConversationState.ASSIGNED
    assert conversation(assignee_id="a2", status=ConversationStatus.CLOSED).state is ConversationState.CLOSED


def test_snoozed_until_the_time_or_until_the_customer_writes() -> None:
    snoozed_at = NOW - timedelta(minutes=30)
    later = NOW + timedelta(hours=1)
    assert conversation(snoozed_until=later, snoozed_at=snoozed_at).snoozed(NOW)
    assert not conversation(snoozed_until=later, snoozed_at=snoozed_at).snoozed(later)
    woken = conversation(snoozed_until=later, snoozed_at=snoozed_at, last_message_at=NOW)
    assert not woken.snoozed(NOW)
    assert not conversation().snoozed(NOW)


def test_priority_ranks_round_trip_and_unknown_is_normal() -> None:
    for priority in Priority:
        assert Priority.of_rank(priority.rank) is priority
    assert Priority.of_rank(None) is Priority.NORMAL
    assert Priority.of_rank(0) is Priority.NORMAL


def test_status_enum_keeps_the_stored_and_shown_values() -> None:
    assert ConversationStatus("open") is ConversationStatus.OPEN
    assert f"{ConversationStatus.CLOSED}" == "closed"


def test_web_handlers_import_no_sql() -> None:
    """hub/web calls repositories and services: it never imports SQLAlchemy or the tables."""
    offenders = []
    for path in sorted(WEB.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}"
                for n in names
                if n.split(".")[0] == "sqlalchemy" or n == "hub.store.tables"
            ]
    assert offenders == []
