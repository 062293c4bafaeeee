"""The customer list: customers matching a filter (``CustomerFilter``), sorted, a page at
a time behind a keyset cursor, and counted; the ids of a filter's customers (a segment's,
for its figures and for reports).

The filter is parsed and checked by ``hub.customers.listing``; visibility comes in as a
clause on a customer id column (``Scope.customer_clause``), so this module never decides
who sees whom. Commercial fields live in ``customers.attributes`` (JSON): the revenue
figure filtered and sorted on is ``revenue.revenue_12m`` (amount and currency).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.model import ConversationStatus
from hub.store.bulk import holds_any
from hub.store.repos.contracts import held
from hub.store.tables import consents, contracts, conversations, customers
from hub.store.times import utc_or_none

cu = customers.c
c = conversations.c
REVENUE_KEY = "revenue_12m"
Visible = Callable[[Any], sa.ColumnElement[bool]]


class SortKey(StrEnum):
    NAME = "name"
    CREATED = "created"
    REVENUE = "revenue"
    LAST_CONTACT = "last_contact"


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerFilter:
    """What a listed customer must match; an empty field does not filter. Within one
    field, any of the values; across fields, all of them."""

    tiers: tuple[str, ...] = ()
    key_account: bool | None = None
    key_account_managers: tuple[str, ...] = ()
    revenue_min: float | None = None
    revenue_max: float | None = None
    currency: str | None = None
    contracts: tuple[str, ...] = ()  # an active contract of one of these names
    contract_ends_before: date | None = None  # an active contract ending before this day
    payment_terms: tuple[str, ...] = ()
    last_contact_after: datetime | None = None
    last_contact_before: datetime | None = None
    open_conversations: bool | None = None
    conversation_tags: tuple[str, ...] = ()
    consents: tuple[tuple[str, str], ...] = ()  # (channel, purpose): all granted
    languages: tuple[str, ...] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None
    customer_ids: tuple[str, ...] | None = None  # only these (a KAM's accounts, a segment)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sort:
    key: SortKey = SortKey.NAME
    descending: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    """Where a page ended: the last row's sort value (None: it had none) and id."""

    value: str | float | datetime | None
    customer_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ListedCustomer:
    id: str
    name: str | None
    organisation: str | None
    tier: str
    key_account: bool
    key_account_manager_id: str | None
    language: str | None
    revenue: Mapping[str, Any] | None
    contracts: Sequence[str]  # the names of its active contracts
    payment_terms: str | None
    last_contact_at: datetime | None
    open_conversations: int
    created_at: datetime
    sort_value: str | float | datetime | None


def _attribute(*path: str) -> Any:
    return cu.attributes[path]


def revenue_amount() -> sa.ColumnElement[float]:
    amount: sa.ColumnElement[float] = _attribute("revenue", REVENUE_KEY, "amount").as_float()
    return amount


def revenue_currency() -> sa.ColumnElement[str]:
    currency: sa.ColumnElement[str] = _attribute("revenue", REVENUE_KEY, "currency").as_string()
    return currency


def last_contact() -> sa.ScalarSelect[Any]:
    """When the customer last wrote or was written to (their latest conversation message)."""
    return sa.select(sa.func.max(c.last_message_at)).where(c.customer_id == cu.id).scalar_subquery()


def _open_count() -> sa.ScalarSelect[Any]:
    return (
        sa.select(sa.func.count())
        .where(c.customer_id == cu.id, c.status == ConversationStatus.OPEN.value)
        .scalar_subquery()
    )


def _has_contract(f: CustomerFilter) -> sa.ColumnElement[bool]:
    """An active contract that meets the name and the end filters (the same contract)."""
    k = contracts.c
    conditions = [k.status == "active"]
    if f.contracts:
        conditions.append(k.name.in_(list(f.contracts)))
    if f.contract_ends_before is not None:
        conditions.append(k.ends_on < f.contract_ends_before)
    return held(cu.id, *conditions)


def _has_tagged_conversation(conn: AsyncConnection, tags: Sequence[str]) -> sa.ColumnElement[bool]:
    tagged = conversations.alias("tagged")
    return sa.exists(
        sa.select(sa.literal(1))
        .select_from(tagged)
        .where(tagged.c.customer_id == cu.id, holds_any(conn, tagged.c.route, "tags", tags))
    )


def _record_parts(f: CustomerFilter) -> list[sa.ColumnElement[bool]]:
    """The clauses on the customer's own columns and attributes."""
    parts: list[sa.ColumnElement[bool]] = []
    if f.customer_ids is not None:
        parts.append(cu.id.in_(list(f.customer_ids)))
    for column, values in ((cu.tier, f.tiers), (cu.key_account_manager_id, f.key_account_managers)):
        if values:
            parts.append(column.in_(list(values)))
    if f.languages:
        parts.append(cu.language.in_(list(f.languages)))
    if f.key_account is not None:
        parts.append(cu.key_account.is_(f.key_account))
    if f.currency is not None:
        parts.append(revenue_currency() == f.currency)
    if f.revenue_min is not None:
        parts.append(revenue_amount() >= f.revenue_min)
    if f.revenue_max is not None:
        parts.append(revenue_amount() <= f.revenue_max)
    if f.payment_terms:
        parts.append(_attribute("payment_terms").as_string().in_(list(f.payment_terms)))
    if f.created_after is not None:
        parts.append(cu.created_at >= f.created_after)
    if f.created_before is not None:
        parts.append(cu.created_at < f.created_before)
    return parts


def _related_parts(conn: AsyncConnection, f: CustomerFilter) -> list[sa.ColumnElement[bool]]:
    """The clauses on the customer's contracts, conversations and consent."""
    parts: list[sa.ColumnElement[bool]] = []
    if f.contracts or f.contract_ends_before is not None:
        parts.append(_has_contract(f))
    if f.last_contact_after is not None:
        parts.append(last_contact() >= f.last_contact_after)
    if f.last_contact_before is not None:
        parts.append(last_contact() < f.last_contact_before)
    if f.open_conversations is not None:
        has_open = sa.exists().where(c.customer_id == cu.id, c.status == ConversationStatus.OPEN.value)
        parts.append(has_open if f.open_conversations else ~has_open)
    if f.conversation_tags:
        parts.append(_has_tagged_conversation(conn, f.conversation_tags))
    k = consents.c
    for channel, purpose in f.consents:
        parts.append(
            sa.exists().where(
                k.customer_id == cu.id, k.channel == channel, k.purpose == purpose, k.granted.is_(True)
            )
        )
    return parts


def where(conn: AsyncConnection, f: CustomerFilter, visible: Visible) -> list[sa.ColumnElement[bool]]:
    """The filter as WHERE clauses on ``customers`` (erased customers never match)."""
    return [cu.erased_at.is_(None), visible(cu.id), *_record_parts(f), *_related_parts(conn, f)]


def _sort_value(key: SortKey) -> sa.ColumnElement[Any]:
    if key is SortKey.NAME:
        return sa.func.lower(sa.func.coalesce(cu.name, ""))
    if key is SortKey.CREATED:
        return cu.created_at
    if key is SortKey.REVENUE:
        return revenue_amount()
    return last_contact()


def _after(value: sa.ColumnElement[Any], sort: Sort, pos: Position) -> sa.ColumnElement[bool]:
    """Rows after ``pos`` in the order (missing values last, whatever the direction;
    ties by id)."""
    later_id = cu.id > pos.customer_id
    if pos.value is None:
        return sa.and_(value.is_(None), later_id)
    beyond = value < pos.value if sort.descending else value > pos.value
    return sa.or_(value.is_(None), beyond, sa.and_(value == pos.value, later_id))


async def page(
    conn: AsyncConnection,
    f: CustomerFilter,
    visible: Visible,
    sort: Sort,
    after: Position | None,
    limit: int,
    extra: Sequence[sa.ColumnElement[bool]] = (),
) -> list[ListedCustomer]:
    """Up to ``limit`` customers matching ``f`` (and ``extra``, e.g. a search), in
    ``sort`` order, after ``after``. The page is chosen first, by id and sort value
    alone; the last contact and open conversations are read for its rows only (a
    database evaluates the select list before sorting: for every match, else)."""
    value = _sort_value(sort.key).label("sort_value")
    parts = [*where(conn, f, visible), *extra]
    if after is not None:
        parts.append(_after(_sort_value(sort.key), sort, after))
    direction = value.desc() if sort.descending else value.asc()
    chosen = (
        await conn.execute(
            sa.select(cu.id, value)
            .where(*parts)
            .order_by(sa.case((value.is_(None), 1), else_=0), direction, cu.id)
            .limit(limit)
        )
    ).all()
    if not chosen:
        return []
    details = {
        row.id: row
        for row in await conn.execute(
            sa.select(
                cu.id,
                cu.name,
                cu.organisation,
                cu.tier,
                cu.key_account,
                cu.key_account_manager_id,
                cu.language,
                cu.attributes,
                cu.created_at,
                last_contact().label("last_contact_at"),
                _open_count().label("open_conversations"),
            ).where(cu.id.in_([row.id for row in chosen]))
        )
    }
    held_names = await _active_contracts(conn, [row.id for row in chosen])
    found = []
    for customer_id, sort_value in chosen:
        row = details[customer_id]
        attributes = row.attributes if isinstance(row.attributes, dict) else {}
        if sort.key in (SortKey.CREATED, SortKey.LAST_CONTACT):
            sort_value = utc_or_none(_as_time(sort_value))
        found.append(
            ListedCustomer(
                id=row.id,
                name=row.name,
                organisation=row.organisation,
                tier=row.tier,
                key_account=bool(row.key_account),
                key_account_manager_id=row.key_account_manager_id,
                language=row.language,
                revenue=attributes.get("revenue"),
                contracts=held_names.get(row.id, []),
                payment_terms=attributes.get("payment_terms"),
                last_contact_at=utc_or_none(_as_time(row.last_contact_at)),
                open_conversations=int(row.open_conversations or 0),
                created_at=row.created_at,
                sort_value=sort_value,
            )
        )
    return found


async def _active_contracts(conn: AsyncConnection, customer_ids: Sequence[str]) -> dict[str, list[str]]:
    """The names of these customers' active contracts, soonest end first."""
    k = contracts.c
    names: dict[str, list[str]] = {}
    rows = await conn.execute(
        sa.select(k.customer_id, k.name)
        .where(k.customer_id.in_(list(customer_ids)), k.status == "active")
        .order_by(k.customer_id, k.ends_on.is_(None), k.ends_on, k.name)
    )
    for row in rows:
        names.setdefault(row.customer_id, []).append(row.name)
    return names


def _as_time(value: Any) -> datetime | None:
    """A time from a scalar subquery (SQLite answers a max() of times as text)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


async def count(
    conn: AsyncConnection,
    f: CustomerFilter,
    visible: Visible,
    extra: Sequence[sa.ColumnElement[bool]] = (),
) -> int:
    stmt = sa.select(sa.func.count()).select_from(customers).where(*where(conn, f, visible), *extra)
    return int(await conn.scalar(stmt) or 0)


async def ids(
    conn: AsyncConnection,
    f: CustomerFilter,
    visible: Visible,
    extra: Sequence[sa.ColumnElement[bool]] = (),
) -> list[str]:
    """The ids of every matching customer (a segment's members), in id order."""
    stmt = sa.select(cu.id).where(*where(conn, f, visible), *extra).order_by(cu.id)
    return list((await conn.execute(stmt)).scalars())
