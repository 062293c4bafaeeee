"""The consents repository: one row per customer, channel and purpose."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.tables import consents


async def replace_consent(
    conn: AsyncConnection,
    *,
    customer_id: str,
    channel: str,
    purpose: str,
    granted: bool,
    source: str,
    now: datetime,
) -> None:
    key = sa.and_(
        consents.c.customer_id == customer_id,
        consents.c.channel == channel,
        consents.c.purpose == purpose,
    )
    await conn.execute(sa.delete(consents).where(key))
    await conn.execute(
        sa.insert(consents).values(
            customer_id=customer_id,
            channel=channel,
            purpose=purpose,
            granted=granted,
            source=source,
            updated_at=now,
        )
    )


async def customers_with_consent(
    conn: AsyncConnection, customer_ids: list[str], channel: str, purpose: str
) -> set[str]:
    """Those of ``customer_ids`` with consent for ``purpose`` on ``channel`` on record,
    granted or withdrawn."""
    if not customer_ids:
        return set()
    rows = await conn.execute(
        sa.select(consents.c.customer_id).where(
            consents.c.customer_id.in_(customer_ids),
            consents.c.channel == channel,
            consents.c.purpose == purpose,
        )
    )
    return {r.customer_id for r in rows}
