"""Revenue over time: the derived figures worked out by hand (pure), and on both
backends an ERP's upsert by external reference (idempotent, a result per item), the tier
moving with the derived figure, no typed-in ``revenue_12m`` beside the periods, the
panel's 24 months, the month roll, merges and erasure."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from hub.customers.revenue import add_months, derive, month_of, roll_all
from hub.customers.tiers import DEFAULT_TIERS, parse_tier_rules
from hub.keys import RECORDS, STORE, TOKENS
from hub.store.repos.revenue import Period
from hub.store.tables import revenue_periods
from tests.conftest import HubClient, sign_in_all

TIERS = parse_tier_rules(DEFAULT_TIERS, "built-in tiers")  # EUR, with rates for GBP, USD and CHF
THIS = month_of(datetime.now(UTC).date())


def period(month: date, amount: float, currency: str = "EUR", ref: str = "") -> Period:
    return Period(
        id=ref or f"{month}-{amount}",
        customer_id="c",
        month=month,
        currency=currency,
        amount=amount,
        external_ref=ref or f"{month}-{amount}",
    )


def test_the_last_twelve_complete_months_and_the_trend() -> None:
    today = date(2026, 12, 7)
    periods = [
        period(date(2024, 11, 1), 999.0),  # 25 months back: in neither year
        period(date(2024, 12, 1), 1000.0),  # the year before: Dec 2024 … Nov 2025
        period(date(2025, 11, 1), 1000.0),
        period(date(2025, 12, 1), 700.0),  # the last year: Dec 2025 … Nov 2026
        period(date(2026, 6, 1), 1000.0),
        period(date(2026, 6, 1), -200.0),  # a credit note in the same month
        period(date(2026, 11, 1), 500.0),
        period(date(2026, 12, 1), 5000.0),  # the current month: not complete, not counted
    ]
    found = derive(periods, today, TIERS)
    assert found.currency == "EUR" and found.last_12m == 2000.0
    assert found.trend == 0.0  # 2,000 against 2,000
    assert len(found.months) == 24 and found.months[0] == (date(2024, 12, 1), 1000.0)
    assert found.months[-1] == (date(2026, 11, 1), 500.0) and (date(2026, 6, 1), 800.0) in found.months
    less = derive([*periods, period(date(2025, 1, 1), 2000.0)], today, TIERS)
    assert less.trend == -0.5  # 2,000 against 4,000
    assert derive([period(date(2026, 3, 1), 10.0)], today, TIERS).trend is None  # no year before


def test_periods_in_several_currencies_count_in_the_tier_currency() -> None:
    today = date(2026, 12, 7)
    one = derive([period(date(2026, 1, 1), 100.0, "GBP")], today, TIERS)
    assert (one.currency, one.last_12m) == ("GBP", 100.0)  # one currency: its own
    mixed = derive([period(date(2026, 1, 1), 100.0, "GBP"), period(date(2026, 2, 1), 100.0)], today, TIERS)
    assert (mixed.currency, mixed.last_12m) == ("EUR", 217.0)  # 100 GBP at 1.17, and 100 EUR


def test_months_are_counted_across_years() -> None:
    assert add_months(date(2026, 12, 1), 1) == date(2027, 1, 1)
    assert add_months(date(2026, 1, 1), -13) == date(2024, 12, 1)
    none = derive([], date(2026, 1, 31), TIERS)  # no bookings: nothing, in the rules' currency
    assert (none.currency, none.last_12m, none.trend) == ("EUR", 0.0, None)
    assert none.months[0] == (date(2024, 1, 1), 0.0) and none.months[-1] == (date(2025, 12, 1), 0.0)


@pytest.fixture
async def roles(hub: HubClient) -> dict[str, dict[str, str]]:
    return await sign_in_all(hub)


async def customer(hub: HubClient, headers: dict[str, str], name: str, external: str) -> str:
    resp = await hub.client.post(
        "/api/v1/customers",
        json={"name": name, "identities": [{"kind": "external", "value": external}]},
        headers=headers,
    )
    assert resp.status == 201, await resp.text()
    cid: str = (await resp.json())["id"]
    return cid


async def erp(hub: HubClient) -> Any:
    _, token = await hub.app[TOKENS].create("erp", ["revenue:write"])

    async def upsert(items: list[dict[str, Any]]) -> dict[str, Any]:
        resp = await hub.client.put(
            "/api/v1/revenue", json={"items": items}, headers={"Authorization": f"Bearer {token}"}
        )
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body

    return upsert


def month(n: int) -> str:
    """The month ``n`` months before this one, as YYYY-MM."""
    return add_months(THIS, -n).strftime("%Y-%m")


async def test_an_erp_books_revenue_and_the_tier_follows(hub: HubClient, roles) -> None:
    sup = roles["supervisor"]
    anna = await customer(hub, sup, "Anna", "ERP-1")
    bert = await customer(hub, sup, "Bert", "ERP-2")
    upsert = await erp(hub)
    booked: list[dict[str, Any]] = [
        {
            "external_ref": "R-1",
            "customer_external_id": "ERP-1",
            "month": month(1),
            "currency": "EUR",
            "amount": 8000,
        },
        {"external_ref": "R-2", "customer_id": anna, "month": month(2), "currency": "EUR", "amount": 4000.5},
        {"external_ref": "R-3", "customer_id": anna, "month": month(14), "currency": "EUR", "amount": 6000},
        {"external_ref": "R-4", "customer_id": anna, "month": month(1), "currency": "JPY", "amount": 1},
        {"external_ref": "R-5", "customer_id": anna, "month": "2026-13", "currency": "EUR", "amount": 1},
        {"external_ref": "R-6", "customer_id": anna, "month": month(1), "currency": "EUR", "amount": "9"},
        {
            "external_ref": "R-7",
            "customer_external_id": "ERP-404",
            "month": month(1),
            "currency": "EUR",
            "amount": 1,
        },
        {"external_ref": "R-8", "month": month(1), "currency": "EUR", "amount": 1},
    ]
    body = await upsert(booked)
    assert [r["status"] for r in body["items"]] == ["created"] * 3 + ["error"] * 5
    assert [r["field"] for r in body["items"][3:]] == [
        "currency",
        "month",
        "amount",
        "customer_external_id",
        "customer_id",
    ]
    assert "JPY" in body["items"][3]["error"] and "rate" in body["items"][3]["error"]
    record = await (await hub.client.get(f"/api/v1/customers/{anna}", headers=sup)).json()
    assert record["revenue"]["revenue_12m"] == {"amount": 12000.5, "currency": "EUR", "source": "periods"}
    assert record["revenue_trend"] == 1.0001  # 12,000.50 against 6,000
    assert record["tier"] == "gold" and record["tier_reason"]["values"]["revenue_12m"] == 12000.5

    again = await upsert(booked[:3])
    assert [r["status"] for r in again["items"]] == ["unchanged"] * 3
    changed = await upsert([{**booked[0], "amount": 98000}, {**booked[1], "customer_id": bert}])
    assert [r["status"] for r in changed["items"]] == ["updated", "error"]
    assert "another customer" in changed["items"][1]["error"]
    record = await (await hub.client.get(f"/api/v1/customers/{anna}", headers=sup)).json()
    assert record["revenue"]["revenue_12m"]["amount"] == 102000.5 and record["tier"] == "platinum"

    history = await (await hub.client.get(f"/api/v1/customers/{anna}/revenue", headers=sup)).json()
    assert history["currency"] == "EUR" and len(history["months"]) == 24
    assert history["months"][-1] == {"month": month(1), "amount": 98000.0}
    assert history["months"][-14] == {"month": month(14), "amount": 6000.0}
    none = await (await hub.client.get(f"/api/v1/customers/{bert}/revenue", headers=sup)).json()
    assert none == {"currency": None, "trend": None, "months": []}


async def test_a_derived_figure_is_not_typed_over(hub: HubClient, roles) -> None:
    sup = roles["supervisor"]
    cid = await customer(hub, sup, "Carla", "ERP-3")
    resp = await hub.client.patch(
        f"/api/v1/customers/{cid}",
        json={"revenue": {"revenue_12m": {"amount": 5, "currency": "EUR"}}},
        headers=sup,
    )
    assert resp.status == 200  # no periods yet: typed in as before
    await (await erp(hub))(
        [{"external_ref": "C-1", "customer_id": cid, "month": month(3), "currency": "EUR", "amount": 20000}]
    )
    for revenue in ({"revenue_12m": {"amount": 5, "currency": "EUR"}}, None):
        resp = await hub.client.patch(f"/api/v1/customers/{cid}", json={"revenue": revenue}, headers=sup)
        assert resp.status == 409 and (await resp.json())["field"] == "revenue.revenue_12m", revenue
    resp = await hub.client.patch(
        f"/api/v1/customers/{cid}",
        json={"revenue": {"budget": {"amount": 7, "currency": "EUR"}}},
        headers=sup,
    )
    assert resp.status == 200, await resp.text()
    figures = (await resp.json())["revenue"]
    assert figures["budget"]["amount"] == 7 and figures["revenue_12m"]["amount"] == 20000


async def test_a_new_month_moves_the_window(hub: HubClient, roles) -> None:
    sup = roles["supervisor"]
    cid = await customer(hub, sup, "Dora", "ERP-4")
    await (await erp(hub))(
        [{"external_ref": "D-1", "customer_id": cid, "month": month(12), "currency": "EUR", "amount": 50000}]
    )
    store, records = hub.app[STORE], hub.app[RECORDS]
    assert await roll_all(store, records, datetime.now(UTC)) == 0  # derived this month already
    next_month = datetime.combine(add_months(THIS, 1), datetime.min.time(), UTC)
    assert await roll_all(store, records, next_month) == 1
    record = await (await hub.client.get(f"/api/v1/customers/{cid}", headers=sup)).json()
    assert record["revenue"]["revenue_12m"]["amount"] == 0  # 13 months back now
    assert record["revenue_as_of"] == add_months(THIS, 1).strftime("%Y-%m") and record["tier"] == "standard"
    assert await roll_all(store, records, next_month) == 0


async def test_periods_follow_a_merge_and_leave_with_an_erasure(hub: HubClient, roles) -> None:
    sup, admin = roles["supervisor"], roles["admin"]
    keeper = await customer(hub, sup, "Emil", "ERP-5")
    other = await customer(hub, sup, "Emil GmbH", "ERP-6")
    await (await erp(hub))(
        [
            {
                "external_ref": "E-1",
                "customer_id": keeper,
                "month": month(1),
                "currency": "EUR",
                "amount": 6000,
            },
            {
                "external_ref": "E-2",
                "customer_id": other,
                "month": month(2),
                "currency": "EUR",
                "amount": 6000,
            },
        ]
    )
    merged = await (
        await hub.client.post(f"/api/v1/customers/{keeper}/merge", json={"other_id": other}, headers=sup)
    ).json()
    assert merged["revenue"]["revenue_12m"]["amount"] == 12000 and merged["tier"] == "gold"
    resp = await hub.client.post(
        f"/api/v1/customers/{keeper}/unmerge", json={"merge_event_id": merged["merge_event_id"]}, headers=sup
    )
    assert resp.status == 200, await resp.text()
    back = await (await hub.client.get(f"/api/v1/customers/{keeper}", headers=sup)).json()
    assert back["revenue"]["revenue_12m"]["amount"] == 6000 and back["tier"] == "standard"
    resp = await hub.client.delete(f"/api/v1/customers/{other}", params={"confirm": other}, headers=admin)
    assert resp.status in (200, 204), await resp.text()
    async with hub.app[STORE].read() as conn:
        owners = (await conn.execute(sa.select(revenue_periods.c.customer_id))).scalars().all()
    assert owners == [keeper]


async def test_a_currency_the_rules_no_longer_convert_holds_up_nobody(hub: HubClient, roles) -> None:
    """The month roll derives each customer on its own: one whose bookings the tier rules
    can no longer convert keeps its figures, and the customers after it are derived."""
    sup = roles["supervisor"]
    pounds = await customer(hub, sup, "Pounds Ltd", "ERP-7")
    euros = await customer(hub, sup, "Euro GmbH", "ERP-8")
    await (await erp(hub))(
        [
            {
                "external_ref": "P-1",
                "customer_id": pounds,
                "month": month(1),
                "currency": "GBP",
                "amount": 100,
            },
            {
                "external_ref": "P-2",
                "customer_id": euros,
                "month": month(1),
                "currency": "EUR",
                "amount": 20000,
            },
        ]
    )
    records = hub.app[RECORDS]
    records.tiers = parse_tier_rules(DEFAULT_TIERS.replace("GBP: 1.17, ", ""), "without pounds")
    next_month = datetime.combine(add_months(THIS, 1), datetime.min.time(), UTC)
    assert await roll_all(hub.app[STORE], records, next_month) == 2
    assert await roll_all(hub.app[STORE], records, next_month) == 0  # not tried again each hour
    kept = await (await hub.client.get(f"/api/v1/customers/{pounds}", headers=sup)).json()
    assert kept["revenue"]["revenue_12m"] == {"amount": 100.0, "currency": "GBP", "source": "periods"}
    moved = await (await hub.client.get(f"/api/v1/customers/{euros}", headers=sup)).json()
    assert moved["revenue"]["revenue_12m"]["amount"] == 20000  # month(1) is still in the window
    assert moved["revenue_as_of"] == add_months(THIS, 1).strftime("%Y-%m")
