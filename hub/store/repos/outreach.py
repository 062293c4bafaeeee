"""Outbound contacts (hub/outreach): what the contact policy reads of a customer, and the
conversations and contacts the hub starts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.bulk import insert_rows
from hub.store.tables import (
    agents,
    consents,
    contact_approvals,
    conversations,
    customers,
    identities,
    messages,
    outbound_contacts,
)
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
    return (await recipients(conn, [customer_id])).get(customer_id)


async def recipients(conn: AsyncConnection, customer_ids: Sequence[str]) -> dict[str, Recipient]:
    """Those of the customers that exist and are not erased, by id (``recipient``)."""
    manager = agents.alias("manager")
    found: dict[str, Recipient] = {}
    for chunk in _chunks(customer_ids):
        rows = await conn.execute(
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
            .where(customers.c.id.in_(chunk), customers.c.erased_at.is_(None))
        )
        addresses: dict[str, dict[str, list[tuple[str, str | None]]]] = {}
        for a in await conn.execute(
            sa.select(
                identities.c.customer_id, identities.c.kind, identities.c.value, identities.c.undeliverable
            )
            .where(identities.c.customer_id.in_(chunk))
            .order_by(identities.c.created_at, identities.c.id)
        ):
            addresses.setdefault(a.customer_id, {}).setdefault(a.kind, []).append((a.value, a.undeliverable))
        for row in rows:
            found[row.id] = Recipient(
                id=row.id,
                name=row.name,
                language=row.language,
                key_account=bool(row.key_account),
                manager_id=row.key_account_manager_id,
                manager_name=row.manager_name,
                attributes=row.attributes or {},
                addresses=addresses.get(row.id, {}),
            )
    return found


async def conversations_since(
    conn: AsyncConnection, customer_ids: Sequence[str], since: datetime
) -> dict[str, list[PastConversation]]:
    """The customers' open conversations and those closed after ``since``, by customer."""
    found: dict[str, list[PastConversation]] = {}
    for chunk in _chunks(customer_ids):
        rows = await conn.execute(
            sa.select(c.id, c.customer_id, c.route, c.opened_at, c.closed_at).where(
                c.customer_id.in_(chunk), sa.or_(c.status == "open", c.closed_at > since)
            )
        )
        for r in rows:
            found.setdefault(r.customer_id, []).append(
                PastConversation(
                    id=r.id,
                    route=r.route if isinstance(r.route, dict) else {},
                    opened_at=utc(r.opened_at),
                    closed_at=utc_or_none(r.closed_at),
                )
            )
    return found


async def contacts_since(
    conn: AsyncConnection, customer_ids: Sequence[str], since: datetime
) -> dict[str, list[tuple[datetime, str]]]:
    """(at, purpose) of every contact the hub started with the customers after ``since``."""
    found: dict[str, list[tuple[datetime, str]]] = {}
    for chunk in _chunks(customer_ids):
        rows = await conn.execute(
            sa.select(o.customer_id, o.at, o.purpose)
            .where(o.customer_id.in_(chunk), o.at > since)
            .order_by(o.at)
        )
        for r in rows:
            found.setdefault(r.customer_id, []).append((utc(r.at), r.purpose))
    return found


async def consent_states(
    conn: AsyncConnection, customer_ids: Sequence[str], channel: str, purpose: str
) -> dict[str, tuple[bool, str]]:
    """Whether each customer granted or withdrew ``purpose`` on ``channel``, and how (absent: neither)."""
    found: dict[str, tuple[bool, str]] = {}
    for chunk in _chunks(customer_ids):
        rows = await conn.execute(
            sa.select(consents.c.customer_id, consents.c.granted, consents.c.source).where(
                consents.c.customer_id.in_(chunk),
                consents.c.channel == channel,
                consents.c.purpose == purpose,
            )
        )
        for r in rows:
            found[r.customer_id] = (bool(r.granted), str(r.source))
    return found


def _chunks(ids: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    """IN lists of a size both backends take (SQLite's bound-parameter limit)."""
    return [ids[i : i + size] for i in range(0, len(ids), size)]


async def last_inbound(
    conn: AsyncConnection, customer_ids: Sequence[str], channel: str
) -> dict[str, datetime]:
    """When each customer last wrote to us on ``channel`` (those who never did: absent)."""
    if not customer_ids:
        return {}
    m = messages.c
    rows = await conn.execute(
        sa.select(m.customer_id, sa.func.max(m.received_at).label("at"))
        .where(m.customer_id.in_(list(customer_ids)), m.channel == channel, m.direction == "in")
        .group_by(m.customer_id)
    )
    return {r.customer_id: utc(r.at) for r in rows}


async def agent_departments(conn: AsyncConnection, agent_id: str) -> list[str]:
    found = await conn.scalar(sa.select(agents.c.departments).where(agents.c.id == agent_id))
    return [str(d) for d in found or []]


async def open_conversation(conn: AsyncConnection, open_key: str) -> tuple[str, datetime] | None:
    """The open conversation holding this thread, with when it opened."""
    row = (await conn.execute(sa.select(c.id, c.opened_at).where(c.open_key == open_key))).one_or_none()
    return None if row is None else (row.id, utc(row.opened_at))


async def open_started(
    conn: AsyncConnection, started: Sequence[dict[str, Any]], contacts: Sequence[Mapping[str, Any]]
) -> set[str]:
    """Conversations the hub starts (their columns, alike), each with its contact (the
    outbound contact's columns, less the conversation: the one at the same place in
    ``started``); the ids of those opened: one whose thread another transaction opened a
    moment ago (its ``open_key`` taken) is not, nor is its contact."""
    if not started:
        return set()
    rows = await insert_rows(conn, conversations, started, skip_conflicts_on=["open_key"], returning=[c.id])
    opened = {row.id for row in rows}
    kept = [
        {**contact, "conversation_id": conv["id"]}
        for conv, contact in zip(started, contacts, strict=True)
        if conv["id"] in opened
    ]
    if kept:
        await conn.execute(sa.insert(outbound_contacts), kept)
    return opened


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


# --- a key account manager's consent to others' contacts ---------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    id: str
    customer_id: str
    department: str | None  # None: any
    purpose: str | None  # None: any
    note: str | None
    granted_by: str
    granted_at: datetime
    until: datetime
    revoked_at: datetime | None


def _approval(row: Any) -> Approval:
    return Approval(
        id=row.id,
        customer_id=row.customer_id,
        department=row.department,
        purpose=row.purpose,
        note=row.note,
        granted_by=row.granted_by,
        granted_at=utc(row.granted_at),
        until=utc(row.until),
        revoked_at=utc_or_none(row.revoked_at),
    )


async def approvals_in_force(
    conn: AsyncConnection, customer_ids: Sequence[str], at: datetime
) -> dict[str, list[Approval]]:
    """Each customer's approvals that hold at ``at`` (not revoked, not run out)."""
    if not customer_ids:
        return {}
    a = contact_approvals.c
    rows = await conn.execute(
        sa.select(contact_approvals).where(
            a.customer_id.in_(list(customer_ids)), a.until > at, a.revoked_at.is_(None)
        )
    )
    found: dict[str, list[Approval]] = {}
    for row in rows:
        found.setdefault(row.customer_id, []).append(_approval(row))
    return found


async def approvals_of(conn: AsyncConnection, customer_id: str, limit: int = 50) -> list[Approval]:
    """The customer's approvals, the latest first (revoked and run out too)."""
    a = contact_approvals.c
    rows = await conn.execute(
        sa.select(contact_approvals)
        .where(a.customer_id == customer_id)
        .order_by(a.granted_at.desc(), a.id)
        .limit(limit)
    )
    return [_approval(row) for row in rows]


async def add_approval(conn: AsyncConnection, values: Mapping[str, Any]) -> None:
    await conn.execute(sa.insert(contact_approvals).values(**values))


async def revoke_approval(conn: AsyncConnection, customer_id: str, approval_id: str, at: datetime) -> bool:
    """Whether an approval in force was revoked now."""
    a = contact_approvals.c
    result = await conn.execute(
        sa.update(contact_approvals)
        .where(a.id == approval_id, a.customer_id == customer_id, a.revoked_at.is_(None), a.until > at)
        .values(revoked_at=at)
    )
    return bool(result.rowcount)


async def forget_customer(conn: AsyncConnection, customer_id: str) -> None:
    """Erasure: the approvals' notes may name the customer."""
    await conn.execute(sa.delete(contact_approvals).where(contact_approvals.c.customer_id == customer_id))
