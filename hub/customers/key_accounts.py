"""A key account manager's accounts: each customer with its open conversations, the last
contact and the revenue, as the console's "My key accounts" shows them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.model import ConversationStatus
from hub.store.tables import conversations, customers
from hub.store.times import iso

MAX_ACCOUNTS = 500


async def accounts_of(
    conn: AsyncConnection, agent_id: str, may_see: Callable[[Any], bool]
) -> list[dict[str, Any]]:
    """The customers this agent manages; ``may_see`` says which conversations they may open."""
    rows = (
        await conn.execute(
            sa.select(
                customers.c.id,
                customers.c.name,
                customers.c.organisation,
                customers.c.tier,
                customers.c.attributes,
            )
            .where(customers.c.key_account_manager_id == agent_id, customers.c.erased_at.is_(None))
            .order_by(customers.c.organisation, customers.c.name)
            .limit(MAX_ACCOUNTS)
        )
    ).all()
    ids = [r.id for r in rows]
    last: dict[str, Any] = {}
    open_convs: dict[str, list[dict[str, Any]]] = {}
    if ids:
        c = conversations.c
        found = await conn.execute(
            sa.select(c.customer_id, sa.func.max(c.last_message_at).label("at"))
            .where(c.customer_id.in_(ids))
            .group_by(c.customer_id)
        )
        last = {r.customer_id: r.at for r in found}
        for conv in await conn.execute(
            sa.select(c.id, c.customer_id, c.channel, c.queue, c.assignee_id, c.offered_to, c.last_message_at)
            .where(c.customer_id.in_(ids), c.status == ConversationStatus.OPEN)
            .order_by(c.last_message_at.desc())
        ):
            shown = {"channel": conv.channel, "last_message_at": iso(conv.last_message_at)}
            if may_see(conv):
                shown |= {"id": conv.id, "queue": conv.queue, "assignee_id": conv.assignee_id}
            # of one the manager may not open: that it exists, never its id or who holds it
            open_convs.setdefault(conv.customer_id, []).append({**shown, "visible": may_see(conv)})
    return [
        {
            "id": r.id,
            "name": r.name,
            "organisation": r.organisation,
            "tier": r.tier,
            "revenue": (r.attributes or {}).get("revenue"),
            "last_contact_at": iso(last.get(r.id)),
            "open_conversations": open_convs.get(r.id, []),
        }
        for r in rows
    ]
