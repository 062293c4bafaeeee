"""Auto-replies ("we received your message"), per mailbox, RFC 3834-safe.

One is queued, in the ingest transaction that stores the mail, when a mail opens a new
conversation on a mailbox with ``auto_reply`` set, unless the mail must never be
answered automatically: it is itself automatic (Auto-Submitted, Precedence, X-Loop, a
list, an absence note, a bounce) or comes from one of our own addresses (the edge
flags all of these as ``meta["auto"]``). The sender sends it with
``Auto-Submitted: auto-replied`` and an empty envelope sender, so nothing answers it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.outbox.system_reply import is_automatic, queue_system_reply
from hub.store.ingest_batch import StoredMessage
from hub.store.tables import messages


def auto_reply_text(stored: StoredMessage, texts: Mapping[str, str]) -> str | None:
    """The auto-reply a stored message gets, or None. Pure."""
    meta = stored.meta
    if stored.channel != "email" or not stored.conversation_opened or stored.kind != "message":
        return None
    if is_automatic(meta):
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
        await queue_system_reply(
            conn,
            conversation_id=s.conversation_id,
            customer_id=s.customer_id,
            channel="email",
            sender=original.recipient,
            recipient=original.sender_value,
            text=text,
            reason="auto_reply",
            now=now,
        )
    return len(due)
