"""One customer's timeline across channels: messages and events, newest first.

Paging is by cursor, not offset: the cursor names the last item shown by its time,
source and id, and the next page starts strictly after it, so items that arrive while
someone pages never shift or repeat a page. Reads (``audit.*``) are left out, and so
is whatever the caller's ``Scope`` does not show (``hub.auth.visibility``: messages
and events of conversations they may not see).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth.visibility import Scope
from hub.customers.audit import READ_PREFIX
from hub.errors import PayloadRejected
from hub.store.tables import events, messages
from hub.store.times import utc
from hub.untrusted import strict_int

# Within one instant, messages ("m") come before events ("e") in the newest-first order.
MESSAGE, EVENT = "m", "e"


def encode_cursor(at: datetime, source: str, item_id: str) -> str:
    raw = f"{utc(at).isoformat()}|{source}|{item_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str, str]:
    """The time, source and item id a cursor names; PayloadRejected (400) naming ``before``
    for anything ``encode_cursor`` did not make (an event id must be a whole number that
    fits the column, a message id printable text). Pure."""
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4)).decode()
        at, source, item_id = raw.split("|", 2)
        if source == EVENT:
            strict_int(item_id, "before", low=1)
        elif source != MESSAGE or not item_id.isprintable() or len(item_id) > 200:
            raise ValueError(source)
        return utc(datetime.fromisoformat(at)).astimezone(UTC), source, item_id
    except (ValueError, OverflowError, PayloadRejected) as exc:  # binascii.Error is a ValueError
        raise PayloadRejected("before: not a cursor this API gave out", field="before") from exc


async def timeline(
    conn: AsyncConnection, customer_id: str, *, before: str | None, limit: int, scope: Scope | None = None
) -> dict[str, Any]:
    """A page of the timeline, as ``scope`` may see it (everything when None)."""
    m_stmt = sa.select(messages).where(messages.c.customer_id == customer_id)
    e_stmt = sa.select(events).where(
        events.c.customer_id == customer_id,
        sa.not_(events.c.action.startswith(READ_PREFIX)),
        events.c.action != "message.received",  # the message itself is on the timeline
    )
    if scope is not None:
        m_stmt = m_stmt.where(scope.message_clause(customer_id))
        e_stmt = e_stmt.where(scope.event_clause(customer_id))
    if before:
        at, source, item_id = decode_cursor(before)
        if source == MESSAGE:
            m_stmt = m_stmt.where(
                sa.or_(
                    messages.c.received_at < at,
                    sa.and_(messages.c.received_at == at, messages.c.id < item_id),
                )
            )
            e_stmt = e_stmt.where(events.c.at <= at)
        else:
            m_stmt = m_stmt.where(messages.c.received_at < at)
            e_stmt = e_stmt.where(
                sa.or_(events.c.at < at, sa.and_(events.c.at == at, events.c.id < int(item_id)))
            )
    m_rows = (
        await conn.execute(
            m_stmt.order_by(messages.c.received_at.desc(), messages.c.id.desc()).limit(limit + 1)
        )
    ).all()
    e_rows = (
        await conn.execute(e_stmt.order_by(events.c.at.desc(), events.c.id.desc()).limit(limit + 1))
    ).all()
    items: list[tuple[tuple[datetime, str, Any], dict[str, Any]]] = []
    for m in m_rows:
        items.append(
            (
                (utc(m.received_at), MESSAGE, m.id),
                {
                    "type": "message",
                    "id": m.id,
                    "at": utc(m.received_at).isoformat(),
                    "channel": m.channel,
                    "direction": m.direction,
                    "kind": m.kind,
                    "conversation_id": m.conversation_id,
                    "subject": m.subject,
                    "text": m.text,
                    "sender": {"kind": m.sender_kind, "value": m.sender_value, "name": m.sender_name},
                },
            )
        )
    for e in e_rows:
        items.append(
            (
                (utc(e.at), EVENT, e.id),
                {
                    "type": "event",
                    "id": e.id,
                    "at": utc(e.at).isoformat(),
                    "action": e.action,
                    "actor": e.actor,
                    "subject_type": e.subject_type,
                    "subject_id": e.subject_id,
                    "reason": e.reason,
                    "data": _public(e.action, e.data),
                },
            )
        )
    items.sort(key=lambda item: item[0], reverse=True)
    page = items[:limit]
    next_cursor = None
    if len(items) > limit and page:
        at, source, item_id = page[-1][0]
        next_cursor = encode_cursor(at, source, str(item_id))
    return {"items": [body for _, body in page], "next": next_cursor}


def _public(action: str, data: dict[str, Any]) -> dict[str, Any]:
    """A merge event keeps full snapshots for unmerge; the timeline shows the summary."""
    if action == "customer.merged":
        return {"other_id": data.get("other_id"), "conflicts": data.get("conflicts", [])}
    return data
