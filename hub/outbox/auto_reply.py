"""Auto-replies ("we received your message"), per mailbox, RFC 3834-safe.

One is queued, in the ingest transaction that stores the mail, when a mail opens a new
conversation on a mailbox with ``auto_reply`` set, unless the mail must never be
answered automatically: it is itself automatic (Auto-Submitted, Precedence, X-Loop, a
list, an absence note, a bounce) or comes from one of our own addresses (the edge
flags all of these as ``meta["auto"]``). The sender sends it with
``Auto-Submitted: auto-replied`` and an empty envelope sender, so nothing answers it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.ingest_batch import StoredMessage
from hub.store.tables import messages, outbox


def auto_reply_text(stored: StoredMessage, texts: Mapping[str, str]) -> str | None:
    """The auto-reply a stored message gets, or None. Pure."""
    meta = stored.meta
    if stored.channel != "email" or not stored.conversation_opened or stored.kind != "message":
        return None
    if meta.get("auto") or meta.get("out_of_office") or meta.get("bounce"):
        return None
    return texts.get(meta.get("mailbox", ""))


async def queue_auto_replies(
    conn: AsyncConnection, stored: Sequence[StoredMessage], texts: Mapping[str, str], now: datetime
) -> int:
    """Queue the auto-replies of a stored batch, in its transaction; returns how many."""
    due = [(s, text) for s in stored if (text := auto_reply_text(s, texts))]
    for s, text in due:
        original = (
            await conn.execute(
                sa.select(messages.c.sender_value, messages.c.recipient).where(messages.c.id == s.id)
            )
        ).one()
        reply_id = str(uuid.uuid4())
        await conn.execute(
            sa.insert(messages).values(
                id=reply_id,
                conversation_id=s.conversation_id,
                customer_id=s.customer_id,
                channel="email",
                external_id=f"outbox:{reply_id}",
                direction="out",
                kind="message",
                sender_kind="system",
                sender_value="auto-reply",
                sender_name=None,
                recipient=original.sender_value,
                text=text,
                meta={"auto_reply": "1"},
                received_at=now,
                stored_at=now,
            )
        )
        await conn.execute(
            sa.insert(outbox).values(
                id=reply_id,
                conversation_id=s.conversation_id,
                customer_id=s.customer_id,
                channel="email",
                sender=original.recipient,
                recipient=original.sender_value,
                text=text,
                status="queued",
                attempts=0,
                next_attempt_at=now,
                provider_ids=[],
                details={"auto_reply": True},
                created_at=now,
                updated_at=now,
            )
        )
    return len(due)
