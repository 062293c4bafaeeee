"""Widget visitors: their tokens, and which customer record each one belongs to.

A visitor's token is a secret kept in the browser; the hub stores only its digest. The
visitor's id is the value of a ``chat_visitor`` identity, so the customer record is
found (and follows merges) through the identities table like any other sender. A
verified identifier joins the visitor to the customer holding it; a contact the
visitor merely typed is a claim: kept on the visitor and shown to agents, never an
identity, so it never decides where a verified person or an incoming message lands.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.customers.merge import merge
from hub.customers.records import CustomerRecords
from hub.errors import InputError
from hub.model import AddressKind
from hub.store.tables import identities, widget_visitors
from hub.text.addresses import normalise_address

CHAT_VISITOR = AddressKind.CHAT_VISITOR.value


@dataclass(frozen=True, slots=True)
class Claim:
    """An address a visitor typed, and the customer holding it as an identity, if any."""

    kind: str
    value: str
    held_by: str | None

    def shown(self) -> str:
        return self.value if self.held_by is None else f"{self.value} (customer {self.held_by})"


@dataclass(slots=True)
class Visitor:
    id: str
    site_key: str
    customer_id: str | None
    identified: str | None = None
    contact: dict[str, Any] = field(default_factory=dict)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def customer_of(conn: AsyncConnection, visitor_id: str) -> str | None:
    return await conn.scalar(
        sa.select(identities.c.customer_id).where(
            identities.c.kind == CHAT_VISITOR, identities.c.value == visitor_id
        )
    )


async def find_visitor(conn: AsyncConnection, site_key: str, token: str, now: datetime) -> Visitor | None:
    """The visitor holding ``token`` on this site; None for a token we never issued there."""
    row = (
        await conn.execute(
            sa.select(widget_visitors).where(
                widget_visitors.c.token_hash == digest(token), widget_visitors.c.site_key == site_key
            )
        )
    ).one_or_none()
    if row is None:
        return None
    await conn.execute(
        sa.update(widget_visitors).where(widget_visitors.c.id == row.id).values(last_seen_at=now)
    )
    return Visitor(row.id, site_key, await customer_of(conn, row.id), row.identified, dict(row.contact))


async def new_visitor(conn: AsyncConnection, site_key: str, now: datetime) -> tuple[Visitor, str]:
    """A visitor and the token its browser keeps."""
    token = secrets.token_urlsafe(32)
    visitor = Visitor(str(uuid.uuid4()), site_key, None)
    await conn.execute(
        sa.insert(widget_visitors).values(
            id=visitor.id,
            site_key=site_key,
            token_hash=digest(token),
            contact={},
            created_at=now,
            last_seen_at=now,
        )
    )
    return visitor, token


async def ensure_customer(
    conn: AsyncConnection, records: CustomerRecords, visitor: Visitor, actor: str
) -> str:
    """The visitor's customer, created (with the chat_visitor identity) if it has none."""
    if visitor.customer_id is None:
        visitor.customer_id = await customer_of(conn, visitor.id) or await records.create(
            conn, {"name": visitor.contact.get("name")}, [(CHAT_VISITOR, visitor.id)], actor
        )
    return visitor.customer_id


def identity_of(site_key: str, identifier: str, region: str) -> tuple[str, str]:
    """The identity a website's signed-in user is: their email address or phone number
    when the identifier is one, else the site's own id for them (``external``)."""
    text = identifier.strip()
    kind = AddressKind.EMAIL if "@" in text else AddressKind.PHONE if text.startswith("+") else None
    if kind is not None:
        try:
            address = normalise_address(kind, text, default_region=region)
            return address.kind.value, address.value
        except InputError:
            pass  # not a usable address after all: the site's own id for the user
    return AddressKind.EXTERNAL.value, f"{site_key}:{text}"[:320]


async def link_verified(
    conn: AsyncConnection,
    records: CustomerRecords,
    visitor: Visitor,
    identity: tuple[str, str],
    actor: str,
) -> str:
    """Join the visitor to the customer holding the verified ``identity`` (merging the
    visitor's anonymous record into it), or give the visitor's record that identity."""
    kind, value = identity
    owner = await conn.scalar(
        sa.select(identities.c.customer_id).where(identities.c.kind == kind, identities.c.value == value)
    )
    mine = visitor.customer_id or await customer_of(conn, visitor.id)
    if owner is None:
        mine = await ensure_customer(conn, records, visitor, actor)
        await records.add_identity(conn, mine, kind, value, actor)
    elif mine is None:
        await records.add_identity(conn, owner, CHAT_VISITOR, visitor.id, actor)
    elif mine != owner:
        await merge(conn, records, owner, mine, actor, reason="the website verified the chat visitor")
    visitor.customer_id = owner or mine
    await conn.execute(
        sa.update(widget_visitors).where(widget_visitors.c.id == visitor.id).values(identified=value)
    )
    visitor.identified = value
    assert visitor.customer_id is not None
    return visitor.customer_id


async def claim_contact(
    conn: AsyncConnection,
    records: CustomerRecords,
    visitor: Visitor,
    contact: dict[str, str],
    actor: str,
) -> None:
    """Record what the visitor says of themselves, on the visitor only.

    A typed email address or phone number is a claim: checked for form, kept in the
    visitor's ``contact`` and shown to agents (``claims_of``), but never made an identity:
    anyone can type anyone's address, and an identity decides where a verified sign-in
    and incoming mail land. An agent who confirms it adds the identity (audited)."""
    for kind in ("email", "phone"):
        if contact.get(kind):
            records.normalise(kind, contact[kind], field=kind)  # refuse a malformed one
    visitor.contact = {**visitor.contact, **{k: v for k, v in contact.items() if v}}
    await conn.execute(
        sa.update(widget_visitors).where(widget_visitors.c.id == visitor.id).values(contact=visitor.contact)
    )
    await ensure_customer(conn, records, visitor, actor)


async def claims_of(conn: AsyncConnection, records: CustomerRecords, visitor: Visitor) -> list[Claim]:
    """The email and phone number the visitor typed that their record does not hold,
    each with the customer who does hold it (if anyone): for agents to see and confirm."""
    claims = []
    for kind in ("email", "phone"):
        typed = visitor.contact.get(kind)
        if not isinstance(typed, str) or not typed:
            continue
        try:
            kind, value = records.normalise(kind, typed, field=kind)
        except InputError:
            continue  # refused when typed; nothing to show
        holder = await conn.scalar(
            sa.select(identities.c.customer_id).where(identities.c.kind == kind, identities.c.value == value)
        )
        if holder is None or holder != visitor.customer_id:
            claims.append(Claim(kind, value, holder))
    return claims
