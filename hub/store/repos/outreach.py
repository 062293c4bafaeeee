"""Outbound contacts (hub/outreach): what the contact policy reads of a customer, and the
conversations and contacts the hub starts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.tables import agents, conversations, customers, identities, outbound_contacts
from hub.store.times import utc, utc_or_none

c = conversations.c
o = outbound_contacts.c


@dataclass(frozen=True, slots=True, kw_only=True)
class Recipient:
    """The customer as an outbound contact needs them."""

    id: str
    name: str | None
    language: str | None
    key_account: bool
    manager_id: str | None
    manager_name: str | None
    attributes: Mapping[str, Any]
    addresses: Mapping[str, Sequence[tuple[str, str | None]]]  # kind -> [(value, undeliverable)]


@dataclass(frozen=True, slots=True, kw_only=True)
class PastConversation:
    id: str
    route: Mapping[str, Any]
    opened_at: datetime
    closed_at: datetime | None


async def recipient(conn: AsyncConnection, customer_id: str) -> Recipient | None:
    """The customer (None if unknown or erased) with their addresses, oldest first."""
    manager = agents.alias("manager")
    row = (
        await conn.execute(
            sa.select(
                customers.c.id,
                customers.c.name,
                customers.c.language,
                customers.c.key_account,
                customers.c.key_account_manager_id,
                customers.c.attributes,
                manager.c.name.label("manager_name"),
            )
            .outerjoin(manager, manager.c.id == customers.c.key_account_manager_id)
            .where(customers.c.id == customer_id, customers.c.erased_at.is_(None))
        )
    ).one_or_none()
    if row is None:
        return None
    addresses: dict[str, list[tuple[str, str | None]]] = {}
    for found in await conn.execute(
        sa.select(identities.c.kind, identities.c.value, identities.c.undeliverable)
        .where(identities.c.customer_id == customer_id)
        .order_by(identities.c.created_at, identities.c.id)
    ):
        addresses.setdefault(found.kind, []).append((found.value, found.undeliverable))
    return Recipient(
        id=row.id,
        name=row.name,
        language=row.language,
        key_account=bool(row.key_account),
        manager_id=row.key_account_manager_id,
        manager_name=row.manager_name,
        attributes=row.attributes or {},
        addresses=addresses,
    )


async def conversations_since(
    conn: AsyncConnection, customer_id: str, since: datetime
) -> list[PastConversation]:
    """The customer's open conversations and those closed after ``since``."""
    rows = await conn.execute(
        sa.select(c.id, c.route, c.opened_at, c.closed_at).where(
            c.customer_id == customer_id, sa.or_(c.status == "open", c.closed_at > since)
        )
    )
    return [
        PastConversation(
            id=r.id,
            route=r.route if isinstance(r.route, dict) else {},
            opened_at=utc(r.opened_at),
            closed_at=utc_or_none(r.closed_at),
        )
        for r in rows
    ]


async def contacts_since(
    conn: AsyncConnection, customer_id: str, since: datetime
) -> list[tuple[datetime, str]]:
    """(at, purpose) of every contact the hub started with the customer after ``since``."""
    rows = await conn.execute(
        sa.select(o.at, o.purpose).where(o.customer_id == customer_id, o.at > since).order_by(o.at)
    )
    return [(utc(r.at), r.purpose) for r in rows]


async def agent_departments(conn: AsyncConnection, agent_id: str) -> list[str]:
    found = await conn.scalar(sa.select(agents.c.departments).where(agents.c.id == agent_id))
    return [str(d) for d in found or []]


async def open_conversation(conn: AsyncConnection, open_key: str) -> tuple[str, datetime] | None:
    """The open conversation holding this thread, with when it opened."""
    row = (await conn.execute(sa.select(c.id, c.opened_at).where(c.open_key == open_key))).one_or_none()
    return None if row is None else (row.id, utc(row.opened_at))


async def open_started(conn: AsyncConnection, values: Mapping[str, Any], contact: Mapping[str, Any]) -> None:
    """A conversation the hub starts, with its contact (``values``: the conversation's
    columns; ``contact``: the outbound contact's, less the conversation)."""
    await conn.execute(sa.insert(conversations).values(**values))
    await record_contact(conn, {**contact, "conversation_id": values["id"]})


async def record_contact(conn: AsyncConnection, contact: Mapping[str, Any]) -> None:
    await conn.execute(sa.insert(outbound_contacts).values(**contact))


async def move_contacts(conn: AsyncConnection, from_customer: str, to_customer: str) -> None:
    """A merge: the contacts count for the surviving record."""
    await conn.execute(
        sa.update(outbound_contacts).where(o.customer_id == from_customer).values(customer_id=to_customer)
    )


async def return_contacts(conn: AsyncConnection, conversation_ids: Sequence[str], to_customer: str) -> None:
    """A merge undone: the contacts of the conversations that go back, with them."""
    await conn.execute(
        sa.update(outbound_contacts)
        .where(o.conversation_id.in_(list(conversation_ids)))
        .values(customer_id=to_customer)
    )
