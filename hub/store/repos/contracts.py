"""Contracts: many per customer, each with its dates, notice period, value and status, and
the ERP's or CRM's reference (``external_ref``) by which an integration upserts it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.bulk import any_of, insert_rows
from hub.store.tables import contracts
from hub.store.times import utc

k = contracts.c
STATUSES = ("active", "cancelled", "ended")
INTERVALS = ("month", "quarter", "year", "once")
# what a caller may set; the rest is the store's
WRITABLE = (
    "name",
    "starts_on",
    "ends_on",
    "notice_days",
    "value",
    "currency",
    "billing_interval",
    "status",
    "external_ref",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Contract:
    id: str
    customer_id: str
    name: str
    starts_on: date | None
    ends_on: date | None
    notice_days: int | None
    value: float | None
    currency: str | None
    billing_interval: str | None
    status: str
    external_ref: str | None
    created_at: datetime
    updated_at: datetime

    def fields(self) -> dict[str, Any]:
        """What a caller set, as the columns hold it."""
        return {name: getattr(self, name) for name in WRITABLE}


def _contract(row: Any) -> Contract:
    return Contract(
        id=row.id,
        customer_id=row.customer_id,
        name=row.name,
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        notice_days=row.notice_days,
        value=row.value,
        currency=row.currency,
        billing_interval=row.billing_interval,
        status=row.status,
        external_ref=row.external_ref,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
    )


async def of_customer(conn: AsyncConnection, customer_id: str) -> list[Contract]:
    """Active ones first, then by end (open-ended last) and name."""
    rows = await conn.execute(
        sa.select(contracts)
        .where(k.customer_id == customer_id)
        .order_by(k.status != "active", k.ends_on.is_(None), k.ends_on, k.name, k.id)
    )
    return [_contract(r) for r in rows]


async def get(conn: AsyncConnection, contract_id: str) -> Contract | None:
    row = (await conn.execute(sa.select(contracts).where(k.id == contract_id))).one_or_none()
    return None if row is None else _contract(row)


async def by_refs(conn: AsyncConnection, refs: Sequence[str]) -> dict[str, Contract]:
    """The contracts with these external references, by reference."""
    if not refs:
        return {}
    rows = await conn.execute(sa.select(contracts).where(any_of(conn, k.external_ref, list(refs))))
    return {r.external_ref: _contract(r) for r in rows}


async def ref_taken(conn: AsyncConnection, ref: str, other_than: str | None = None) -> bool:
    query = sa.select(k.id).where(k.external_ref == ref)
    if other_than is not None:
        query = query.where(k.id != other_than)
    return await conn.scalar(query) is not None


async def insert(
    conn: AsyncConnection, contract_id: str, customer_id: str, fields: Mapping[str, Any], now: datetime
) -> None:
    await conn.execute(
        sa.insert(contracts).values(
            id=contract_id, customer_id=customer_id, **fields, created_at=now, updated_at=now
        )
    )


async def update(conn: AsyncConnection, contract_id: str, fields: Mapping[str, Any], now: datetime) -> None:
    await conn.execute(sa.update(contracts).where(k.id == contract_id).values(**fields, updated_at=now))


async def delete(conn: AsyncConnection, contract_id: str) -> bool:
    result = await conn.execute(sa.delete(contracts).where(k.id == contract_id))
    return bool(result.rowcount)


async def move(conn: AsyncConnection, contract_ids: Sequence[str], customer_id: str) -> None:
    """These contracts now belong to ``customer_id`` (a merge, or its undoing)."""
    if contract_ids:
        await conn.execute(
            sa.update(contracts).where(any_of(conn, k.id, list(contract_ids))).values(customer_id=customer_id)
        )


async def forget_customer(conn: AsyncConnection, customer_id: str) -> int:
    """Every contract of the customer gone (an erasure); how many."""
    result = await conn.execute(sa.delete(contracts).where(k.customer_id == customer_id))
    return int(result.rowcount or 0)


def held(customer_id: Any, *conditions: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """Whether the customer (a column) holds a contract meeting ``conditions`` (the
    customer list's filters)."""
    return sa.exists(sa.select(k.id).where(k.customer_id == customer_id, *conditions))


async def add_names(conn: AsyncConnection, names: Mapping[str, Sequence[str]], now: datetime) -> set[str]:
    """Active contracts of only a name (an import's ``contracts`` column), for each
    customer the names it holds no contract of yet; the customers that got one."""
    if not names:
        return set()
    held_now = {
        (r.customer_id, r.name)
        for r in await conn.execute(
            sa.select(k.customer_id, k.name).where(any_of(conn, k.customer_id, sorted(names)))
        )
    }
    missing = [
        (customer_id, name)
        for customer_id, wanted in names.items()
        for name in dict.fromkeys(wanted)
        if (customer_id, name) not in held_now
    ]
    await insert_rows(
        conn,
        contracts,
        [
            {
                "id": str(uuid.uuid4()),
                "customer_id": customer_id,
                "name": name,
                "status": "active",
                "created_at": now,
                "updated_at": now,
            }
            for customer_id, name in missing
        ],
    )
    return {customer_id for customer_id, _ in missing}
