"""Customers as far as the store answers for them directly: who owns an address.

The customer record itself (create, change, identities, consent, tiers, merges) is the
customer service's (hub/customers), which keeps its audit trail with each change.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.model import Address
from hub.store.tables import identities


async def owner_of(conn: AsyncConnection, address: Address) -> str | None:
    """The id of the customer with this (normalised) address, or None."""
    owner: str | None = await conn.scalar(
        sa.select(identities.c.customer_id).where(
            identities.c.kind == address.kind, identities.c.value == address.value
        )
    )
    return owner
