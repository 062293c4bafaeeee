"""Customers as far as the store answers for them directly: who owns an address.

The customer record itself (create, change, identities, consent, tiers, merges) is the
customer service's (hub/customers), which keeps its audit trail with each change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.model import Address, AddressKind
from hub.store.bulk import any_of
from hub.store.tables import customers, identities


async def owner_of(conn: AsyncConnection, address: Address) -> str | None:
    """The id of the customer with this (normalised) address, or None."""
    owner: str | None = await conn.scalar(
        sa.select(identities.c.customer_id).where(
            identities.c.kind == address.kind, identities.c.value == address.value
        )
    )
    return owner


async def by_external_id(conn: AsyncConnection, values: Sequence[str]) -> dict[str, str]:
    """The customers with these ``external`` identities (an ERP's or CRM's ids, trimmed):
    value -> customer id."""
    wanted = sorted({v.strip() for v in values})
    if not wanted:
        return {}
    rows = await conn.execute(
        sa.select(identities.c.value, identities.c.customer_id).where(
            identities.c.kind == AddressKind.EXTERNAL, any_of(conn, identities.c.value, wanted)
        )
    )
    found = {r.value: r.customer_id for r in rows}
    return {v: found[v.strip()] for v in values if v.strip() in found}


async def is_live(conn: AsyncConnection, customer_id: str) -> bool:
    """Whether there is a customer with this id that was not erased."""
    found = await conn.scalar(
        sa.select(customers.c.id).where(customers.c.id == customer_id, customers.c.erased_at.is_(None))
    )
    return found is not None
