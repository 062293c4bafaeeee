"""Revenue periods: a customer's revenue per month and currency, one row per source (the
ERP's ``external_ref``), upserted by that reference."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.bulk import any_of
from hub.store.tables import customers, revenue_periods

p = revenue_periods.c
CHUNK = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    id: str
    customer_id: str
    month: date
    currency: str
    amount: float
    external_ref: str


def _period(row: Any) -> Period:
    return Period(
        id=row.id,
        customer_id=row.customer_id,
        month=row.month,
        currency=row.currency,
        amount=float(row.amount),
        external_ref=row.external_ref,
    )


async def by_refs(conn: AsyncConnection, refs: Sequence[str]) -> dict[str, Period]:
    if not refs:
        return {}
    rows = await conn.execute(sa.select(revenue_periods).where(any_of(conn, p.external_ref, list(refs))))
    return {r.external_ref: _period(r) for r in rows}


async def insert_one(conn: AsyncConnection, values: Mapping[str, Any], now: datetime) -> str:
    """A new period (customer_id, month, currency, amount, external_ref); its id."""
    period_id = str(uuid.uuid4())
    await conn.execute(
        sa.insert(revenue_periods).values(id=period_id, **values, created_at=now, updated_at=now)
    )
    return period_id


async def update(conn: AsyncConnection, period_id: str, values: Mapping[str, Any], now: datetime) -> None:
    await conn.execute(sa.update(revenue_periods).where(p.id == period_id).values(**values, updated_at=now))


async def of_customers(conn: AsyncConnection, customer_ids: Sequence[str], since: date) -> list[Period]:
    """The periods of these customers from the month ``since`` on, oldest first."""
    found: list[Period] = []
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), CHUNK):
        rows = await conn.execute(
            sa.select(revenue_periods)
            .where(any_of(conn, p.customer_id, ids[start : start + CHUNK]), p.month >= since)
            .order_by(p.customer_id, p.month, p.external_ref)
        )
        found += [_period(r) for r in rows]
    return found


async def has_periods(conn: AsyncConnection, customer_id: str) -> bool:
    return await conn.scalar(sa.select(p.id).where(p.customer_id == customer_id).limit(1)) is not None


async def behind(conn: AsyncConnection, as_of: str, limit: int) -> list[str]:
    """Up to ``limit`` customers with periods whose derived figures are not as of the
    month ``as_of`` (``YYYY-MM``): a month has ended since they were derived."""
    derived = customers.c.attributes["revenue_as_of"].as_string()
    rows = await conn.execute(
        sa.select(customers.c.id)
        .where(
            customers.c.erased_at.is_(None),
            sa.exists().where(p.customer_id == customers.c.id),
            sa.or_(derived.is_(None), derived != as_of),
        )
        .order_by(customers.c.id)
        .limit(limit)
    )
    return [r.id for r in rows]


async def move(conn: AsyncConnection, from_customer: str, to_customer: str) -> list[str]:
    """Every period of one customer now the other's (a merge); the ids moved."""
    ids = list((await conn.execute(sa.select(p.id).where(p.customer_id == from_customer))).scalars())
    await reassign(conn, ids, to_customer)
    return ids


async def reassign(conn: AsyncConnection, period_ids: Sequence[str], customer_id: str) -> None:
    if period_ids:
        await conn.execute(
            sa.update(revenue_periods)
            .where(any_of(conn, p.id, list(period_ids)))
            .values(customer_id=customer_id)
        )


async def forget_customer(conn: AsyncConnection, customer_id: str) -> None:
    await conn.execute(sa.delete(revenue_periods).where(p.customer_id == customer_id))
