"""The thread an email reply belongs to: subject, In-Reply-To and References.

Inbound mail is stored with its Message-ID (without angle brackets) as the external id;
our replies carry ``<reply id@domain>`` as their Message-ID, so the customer's answer to
any of them leads back to the stored message (hub/store/threads.py); the subject keeps
the conversation's ``[#ref]`` tag for mail clients that drop the headers.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from connectors.base import MailThread
from hub.store.tables import messages
from hub.store.threads import conversation_ref

MAX_REFERENCES = 20
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|wg|fw|fwd|sv|antw)\s*:\s*)+", re.I)


def reply_subject(subject: str | None, ref: str) -> str:
    """``Re: <subject> [#ref]``, without stacking prefixes or tags. Pure."""
    base = _REPLY_PREFIX.sub("", subject or "").strip()
    base = base.replace(f"[#{ref}]", "").strip()
    return f"Re: {base} [#{ref}]" if base else f"[#{ref}]"


def first_subject(subject: str, ref: str) -> str:
    """The subject of a conversation's first mail when we start it: ``<subject> [#ref]``. Pure."""
    return f"{subject.strip()} [#{ref}]"


def our_message_id(reply_id: str, domain: str) -> str:
    return f"<{reply_id}@{domain}>"


async def mail_thread(conn: AsyncConnection, outbox_row: Any, domain: str) -> MailThread:
    rows = (
        await conn.execute(
            sa.select(
                messages.c.id,
                messages.c.direction,
                messages.c.external_id,
                messages.c.subject,
                messages.c.sender_name,
            )
            .where(messages.c.conversation_id == outbox_row.conversation_id, messages.c.channel == "email")
            .order_by(messages.c.received_at, messages.c.id)
        )
    ).all()
    ids = [
        f"<{r.external_id}>" if r.direction == "in" else our_message_id(r.id, domain)
        for r in rows
        if r.id != outbox_row.id
    ]
    theirs = [r for r in rows if r.direction == "in"]
    ref = conversation_ref(outbox_row.conversation_id)
    latest = next((r.subject for r in reversed(theirs) if r.subject), None)
    ours = next((r for r in rows if r.direction == "out"), None)  # the first: ours, if we started
    if latest is None and ours is not None and ours.id == outbox_row.id and ours.subject:
        subject = first_subject(ours.subject, ref)
    else:
        subject = reply_subject(latest or (ours.subject if ours else None), ref)
    agent = next((r.sender_name for r in rows if r.id == outbox_row.id), None)
    return MailThread(
        subject=subject,
        in_reply_to=f"<{theirs[-1].external_id}>" if theirs else None,
        references=tuple(ids[-MAX_REFERENCES:]),
        message_id=our_message_id(outbox_row.id, domain),
        agent_name=agent,
    )
