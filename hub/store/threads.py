"""Following a channel's threading hints to the conversation they name (email above all).

A message whose ``references`` (In-Reply-To, References) match a stored message, ours or
the customer's, joins that message's thread; so does one whose subject names the
conversation (``thread_hint.conversation``, the ``[#ref]`` tag). Both count only within
the sender's own customer, so a stranger cannot write into someone else's conversation
by quoting its tag or ids. What matches nothing keeps the channel's own thread key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.model import Address, InboundMessage, message_id
from hub.store.tables import conversations, messages

# Our replies' Message-IDs are <reply id@domain>: the reply id is the stored message's id.
_OURS = re.compile(r"^<?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})@", re.I)
REF_LENGTH = 8  # the [#ref] tag: the conversation id's first hex digits


def conversation_ref(conversation_id: str) -> str:
    """The [#ref] tag of a conversation (a UUID's first group)."""
    return conversation_id[:REF_LENGTH].lower()


def candidate_ids(msg: InboundMessage) -> list[str]:
    """The stored message ids its references could be: our replies' own ids, and the ids
    the customer's mails were stored under (derived from their Message-ID). Pure."""
    found = []
    for ref in msg.thread_hint.references:
        ours = _OURS.match(ref.strip())
        found.append(ours.group(1).lower() if ours else message_id(msg.channel, ref.strip()))
    return found


async def follow_threads(
    conn: AsyncConnection, batch: Sequence[InboundMessage], owners: dict[Address, str]
) -> list[InboundMessage]:
    """The batch with each message's thread key set to the conversation its hints name."""
    hinted = [m for m in batch if m.thread_hint.references or m.thread_hint.conversation]
    if not hinted:
        return list(batch)
    by_message: dict[str, tuple[str, str, str]] = {}  # message id -> (customer, channel, thread key)
    wanted = sorted({i for m in hinted for i in candidate_ids(m)})
    if wanted:
        rows = await conn.execute(
            sa.select(
                messages.c.id,
                conversations.c.customer_id,
                conversations.c.channel,
                conversations.c.thread_key,
            )
            .join(conversations, conversations.c.id == messages.c.conversation_id)
            .where(messages.c.id.in_(wanted))
        )
        by_message = {r.id: (r.customer_id, r.channel, r.thread_key) for r in rows}
    by_ref = await _named(conn, [m.thread_hint.conversation for m in hinted if m.thread_hint.conversation])
    out = []
    for msg in batch:
        customer = owners[msg.sender]
        mine = [
            key
            for customer_id, channel, key in (
                *(by_ref.get(msg.thread_hint.conversation or "", [])),
                *(by_message[i] for i in candidate_ids(msg) if i in by_message),
            )
            if customer_id == customer and channel == msg.channel.value
        ]
        out.append(replace(msg, thread_hint=replace(msg.thread_hint, key=mine[0])) if mine else msg)
    return out


async def _named(conn: AsyncConnection, refs: list[str]) -> dict[str, list[tuple[str, str, str]]]:
    """Conversations by [#ref] tag: those whose id starts with it (a ref may be ambiguous;
    the customer check decides)."""
    found: dict[str, list[tuple[str, str, str]]] = {}
    for ref in sorted(set(refs)):
        if len(ref) != REF_LENGTH or not re.fullmatch(r"[0-9a-f]+", ref):
            continue
        rows = await conn.execute(
            sa.select(conversations.c.customer_id, conversations.c.channel, conversations.c.thread_key)
            .where(conversations.c.id.like(ref + "%"))
            .order_by(conversations.c.opened_at.desc())
        )
        found[ref] = [(r.customer_id, r.channel, r.thread_key) for r in rows]
    return found
