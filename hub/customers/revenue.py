"""Revenue over time: what an ERP books per customer, month and currency, and the figures
the tier rules read, derived from it.

Derived, per customer, in the currency of its periods (or, when they are in several,
the tier rules' currency, converted with their rates):

- ``revenue.revenue_12m``: the sum of the last 12 complete months (not the current one);
- ``revenue_trend``: how that sum compares with the 12 months before, as a share
  (``-0.2``: a fifth less), none while the earlier year holds no revenue;
- the last 24 complete months, for the customer panel's sparkline.

They are derived again when a period of the customer arrives and when a month ends
(``roll``); a customer with periods has no typed-in ``revenue_12m``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.customers.batches import Upserted, another_customers, upsert_each
from hub.customers.records import CustomerRecords, load_customer
from hub.customers.tiers import TierRules
from hub.errors import Conflict, InputError
from hub.store.engine import Store
from hub.store.repos import revenue as repo
from hub.store.repos.revenue import Period

log = logging.getLogger("contacthub.revenue")
HISTORY = 24  # months the panel shows
ACTOR = "system:revenue"


def month_of(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, n: int) -> date:
    years, index = divmod(month.month - 1 + n, 12)
    return date(month.year + years, index + 1, 1)


@dataclass(frozen=True, slots=True)
class Derived:
    currency: str
    last_12m: float
    trend: float | None
    months: list[tuple[date, float]]  # the last HISTORY complete months, oldest first


def derive(periods: Iterable[Period], today: date, tiers: TierRules) -> Derived:
    """The figures of one customer's periods, as of ``today``. Pure."""
    periods = list(periods)
    currencies = {p.currency for p in periods}
    currency = currencies.pop() if len(currencies) == 1 else tiers.currency
    by_month: dict[date, float] = defaultdict(float)
    for p in periods:
        amount = p.amount if p.currency == currency else tiers.in_base(p.external_ref, _figure(p))
        by_month[p.month] += amount
    this = month_of(today)
    months = [
        (add_months(this, -k), round(by_month.get(add_months(this, -k), 0.0), 2))
        for k in range(HISTORY, 0, -1)
    ]
    last = sum(amount for _, amount in months[-12:])
    previous = sum(amount for _, amount in months[-24:-12])
    trend = round((last - previous) / previous, 4) if previous > 0 else None
    return Derived(currency, round(last, 2), trend, months)


def _figure(p: Period) -> dict[str, object]:
    return {"amount": p.amount, "currency": p.currency}


async def history(
    conn: AsyncConnection, customer_id: str, today: date, tiers: TierRules
) -> dict[str, object] | None:
    """The panel's sparkline: the last HISTORY complete months (none without periods)."""
    periods = await repo.of_customers(conn, [customer_id], add_months(month_of(today), -HISTORY))
    if not periods and not await repo.has_periods(conn, customer_id):
        return None
    derived = derive(periods, today, tiers)
    return {
        "currency": derived.currency,
        "trend": derived.trend,
        "months": [{"month": m.strftime("%Y-%m"), "amount": amount} for m, amount in derived.months],
    }


async def rederive(
    conn: AsyncConnection, records: CustomerRecords, customer_ids: Iterable[str], today: date
) -> None:
    """Derive these customers' figures again and let the tier rules read them."""
    ids = sorted(set(customer_ids))
    periods: dict[str, list[Period]] = defaultdict(list)
    for period in await repo.of_customers(conn, ids, add_months(month_of(today), -HISTORY)):
        periods[period.customer_id].append(period)
    as_of = month_of(today).strftime("%Y-%m")
    for customer_id in ids:
        row = await load_customer(conn, customer_id)
        try:
            derived = derive(periods.get(customer_id, ()), today, records.tiers)
            figure = {"amount": derived.last_12m, "currency": derived.currency, "source": "periods"}
            changes = {
                "revenue": {**(row.attributes.get("revenue") or {}), "revenue_12m": figure},
                "revenue_trend": derived.trend,
                "revenue_as_of": as_of,
            }
            await records.update(conn, customer_id, changes, ACTOR)  # refuses before it writes
        except InputError as exc:
            # a currency the tier rules no longer convert: the figures stay as they were
            # (not tried again each hour, nor holding up the customers after it)
            log.warning("revenue figures of customer %s not derived: %s", customer_id, exc.detail)
            await records.update(conn, customer_id, {"revenue_as_of": as_of}, ACTOR)


async def with_derived(conn: AsyncConnection, customer_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` to a customer's record, keeping the ``revenue_12m`` its revenue periods
    derive: typing one in (or clearing every figure) is a 409, other figures may change."""
    if "revenue" not in changes or not await repo.has_periods(conn, customer_id):
        return dict(changes)
    typed = changes["revenue"]
    if typed is None or "revenue_12m" in typed:
        raise Conflict(
            "revenue.revenue_12m: derived from the customer's revenue periods (PUT /api/v1/revenue);"
            " other revenue figures may be set",
            field="revenue.revenue_12m",
        )
    current = (await load_customer(conn, customer_id)).attributes.get("revenue") or {}
    kept = {"revenue_12m": current["revenue_12m"]} if "revenue_12m" in current else {}
    return {**changes, "revenue": {**typed, **kept}}


async def upsert(
    conn: AsyncConnection,
    records: CustomerRecords,
    items: Sequence[Mapping[str, Any]],
    now: datetime,
) -> list[Upserted]:
    """Each period by its ``external_ref`` (``hub.customers.batches``): created, changed,
    or left; then the touched customers' figures are derived again."""
    known = await repo.by_refs(conn, [str(item["external_ref"]) for item in items])
    touched: set[str] = set()

    async def store_one(item: Mapping[str, Any], customer_id: str) -> tuple[str, str]:
        ref = str(item["external_ref"])
        _convertible(records.tiers, str(item["currency"]))
        values = {"month": item["month"], "currency": item["currency"], "amount": item["amount"]}
        existing = known.get(ref)
        if existing is not None and existing.customer_id != customer_id:
            raise another_customers(ref, "a period")
        if existing is not None and (existing.month, existing.currency, existing.amount) == tuple(
            values.values()
        ):
            return "unchanged", existing.id
        touched.add(customer_id)
        if existing is None:
            return "created", await repo.insert_one(
                conn, {**values, "customer_id": customer_id, "external_ref": ref}, now
            )
        await repo.update(conn, existing.id, values, now)
        return "updated", existing.id

    results = await upsert_each(conn, items, store_one)
    await rederive(conn, records, touched, now.date())
    return results


def _convertible(tiers: TierRules, currency: str) -> None:
    if currency != tiers.currency and currency not in tiers.rates:
        known = ", ".join([tiers.currency, *sorted(tiers.rates)])
        raise InputError(
            f"currency: no exchange rate for {currency}; the tier rules count in {tiers.currency}"
            f" and convert {known}: add a rate for {currency} to the tier rules",
            field="currency",
        )


async def roll(conn: AsyncConnection, records: CustomerRecords, today: date, limit: int = 500) -> int:
    """Derive again, up to ``limit`` at a time, the figures of customers derived before
    this month began; how many (0: all are current)."""
    behind = await repo.behind(conn, month_of(today).strftime("%Y-%m"), limit)
    await rederive(conn, records, behind, today)
    return len(behind)


async def roll_all(store: Store, records: CustomerRecords, now: datetime) -> int:
    """Every customer's figures as of this month, ``roll`` after ``roll``, each in its own
    transaction; how many were derived again."""
    done = 0
    while True:
        async with store.write() as conn:
            count = await roll(conn, records, now.date())
        if not count:
            return done
        done += count
