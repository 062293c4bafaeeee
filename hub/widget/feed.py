"""The widget feed: what a customer's chat widget shows, numbered for resuming.

Every visitor message and every agent reply on the chat channel is one row, written
before the hub acknowledges it (to the visitor, or to the outbox). ``seq`` only grows, so
a widget that reconnects asks for what came after the last one it showed, from any hub
process. ``origin`` is unique, so a message sent twice, or a reply the outbox retries,
is one row.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.model import Attachment
from hub.store.tables import messages, widget_feed
from hub.store.times import iso

TOPIC = "widget.feed"  # bus topic: {"customer_id", "event"}
HISTORY = 500  # events a fresh page gets


def file_signature(secret: str, sha256: str) -> str:
    return hmac.new(secret.encode(), f"widget-file:{sha256}".encode(), hashlib.sha256).hexdigest()[:32]


def file_refs(site_key: str, secret: str, files: tuple[Attachment, ...]) -> list[dict[str, Any]]:
    """Attachments as the widget links them: capability URLs under /widget/files/."""
    return [
        {
            "name": f.filename,
            "type": f.content_type,
            "size": f.size,
            "url": f"/widget/files/{site_key}/{f.sha256}/{quote(f.filename)}"
            f"?sig={file_signature(secret, f.sha256)}",
        }
        for f in files
    ]


async def append(
    conn: AsyncConnection, customer_id: str, origin: str, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Write an event once; a second write of the same ``origin`` returns the first."""
    existing = (
        await conn.execute(
            sa.select(widget_feed.c.seq, widget_feed.c.data).where(widget_feed.c.origin == origin)
        )
    ).one_or_none()
    if existing is not None:
        return {**existing.data, "seq": existing.seq}
    seq = (
        await conn.execute(
            sa.insert(widget_feed)
            .values(customer_id=customer_id, origin=origin, data=data, at=now)
            .returning(widget_feed.c.seq)
        )
    ).scalar_one()
    return {**data, "seq": int(seq)}


async def since(conn: AsyncConnection, customer_id: str, seq: int) -> list[dict[str, Any]]:
    """The customer's events after ``seq``, oldest first (at most the latest ``HISTORY``)."""
    rows = (
        await conn.execute(
            sa.select(widget_feed.c.seq, widget_feed.c.data)
            .where(widget_feed.c.customer_id == customer_id, widget_feed.c.seq > seq)
            .order_by(widget_feed.c.seq.desc())
            .limit(HISTORY)
        )
    ).all()
    return [{**r.data, "seq": int(r.seq)} for r in reversed(rows)]


def visitor_message(
    message_id: str, client_id: str, name: str | None, text: str, files: list[dict[str, Any]], at: datetime
) -> dict[str, Any]:
    return {
        "type": "message",
        "id": message_id,
        "client_id": client_id,
        "from": "visitor",
        "name": name or "",
        "text": text,
        "attachments": files,
        "at": iso(at),
    }


async def agent_reply(
    conn: AsyncConnection, reply_id: str, files: list[dict[str, Any]], now: datetime
) -> tuple[str, dict[str, Any]] | None:
    """Put an agent's chat reply (the outbound message ``reply_id``) in the feed; returns
    the customer and the event, or None if the message is gone (erased)."""
    row = (
        await conn.execute(
            sa.select(
                messages.c.customer_id, messages.c.sender_name, messages.c.text, messages.c.received_at
            ).where(messages.c.id == reply_id)
        )
    ).one_or_none()
    if row is None:
        return None
    data = {
        "type": "message",
        "id": reply_id,
        "client_id": None,
        "from": "agent",
        "name": row.sender_name or "",
        "text": row.text,
        "attachments": files,
        "at": iso(row.received_at),
    }
    return row.customer_id, await append(conn, row.customer_id, f"out:{reply_id}", data, now)
