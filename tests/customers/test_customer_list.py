"""``GET /api/v1/customers`` without a search word: every filter, sort and the cursor on
the fixed population of tests/customers/population.py (expectations from its tables),
strict parameters, visibility, and q combined with filters; on both backends."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from hub.keys import STORE
from hub.store.tables import agents
from tests.conftest import HubClient, sign_in_all
from tests.customers.population import write_population

URL = "/api/v1/customers"


async def agent_id(hub: HubClient, email: str) -> str:
    async with hub.app[STORE].read() as conn:
        found = await conn.scalar(sa.select(agents.c.id).where(agents.c.email == email))
    assert isinstance(found, str)
    return found


@pytest.fixture
async def roles(hub: HubClient) -> dict[str, dict[str, str]]:
    headers = await sign_in_all(hub)
    kam = await agent_id(hub, "agent@test.example")
    async with hub.app[STORE].write() as conn:
        await write_population(conn, kam)
    return headers


async def listed(hub: HubClient, headers: dict[str, str], **params: str) -> dict[str, Any]:
    resp = await hub.client.get(URL, params=params, headers=headers)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def ids(hub: HubClient, headers: dict[str, str], **params: str) -> list[str]:
    return [c["id"] for c in (await listed(hub, headers, **params))["items"]]


FILTERS: list[tuple[dict[str, str], list[str]]] = [
    ({}, ["k1", "k2", "k3", "k4"]),  # by name, case-blind; the erased k5 never
    ({"tier": "standard"}, ["k3", "k4"]),
    ({"tier": "gold,silver"}, ["k1", "k2"]),
    ({"key_account": "true"}, ["k1"]),
    ({"key_account": "false"}, ["k2", "k3", "k4"]),
    ({"currency": "EUR", "revenue_min": "50000"}, ["k1", "k2"]),
    ({"currency": "EUR", "revenue_max": "50000"}, ["k2"]),
    ({"currency": "EUR", "revenue_min": "50000.01", "revenue_max": "120000"}, ["k1"]),
    ({"currency": "USD"}, ["k3"]),
    ({"contract": "Support"}, ["k1", "k2"]),
    ({"contract": "Premium"}, ["k1"]),  # k2's is cancelled
    ({"contract_ends_before": "2026-12-31"}, ["k1"]),
    ({"contract_ends_before": "2027-04-01"}, ["k1", "k2"]),
    ({"contract_ends_before": "2026-06-30"}, []),  # before: not on
    ({"contract": "Support", "contract_ends_before": "2026-12-31"}, []),  # one contract meets both
    ({"payment_terms": "14 days"}, ["k2"]),
    ({"last_contact_after": "2026-03-01"}, ["k1", "k4"]),
    ({"last_contact_before": "2026-03-01"}, ["k2"]),  # k3 has had no contact: it matches neither
    ({"last_contact_after": "2026-03-05T09:00:00+00:00"}, ["k1", "k4"]),
    ({"last_contact_after": "2026-03-05T09:00:01Z"}, ["k4"]),
    ({"open_conversations": "true"}, ["k1", "k4"]),
    ({"open_conversations": "false"}, ["k2", "k3"]),
    ({"tag": "complaint"}, ["k1", "k4"]),
    ({"tag": "billing"}, ["k2", "k4"]),
    ({"consent": "email:marketing"}, ["k1"]),  # k2 refused it
    ({"consent": "sms:service"}, ["k2"]),
    ({"consent": "email:marketing,sms:service"}, []),  # all of them
    ({"language": "de"}, ["k1", "k3"]),
    ({"language": "de,de-AT"}, ["k1", "k3", "k4"]),
    ({"created_after": "2026-02-01"}, ["k2", "k3", "k4"]),
    ({"created_before": "2026-02-01"}, ["k1"]),
    ({"tier": "standard", "language": "de"}, ["k3"]),
    ({"tag": "complaint", "open_conversations": "true", "key_account": "false"}, ["k4"]),
    ({"q": "Dietz", "open_conversations": "true"}, ["k4"]),
    ({"q": "Dietz", "open_conversations": "false"}, []),
    ({"q": "bau", "sort": "name"}, ["k2"]),
]


async def test_every_filter(hub: HubClient, roles: dict[str, dict[str, str]]) -> None:
    key_account_manager = await agent_id(hub, "agent@test.example")
    cases = [*FILTERS, ({"key_account_manager": key_account_manager}, ["k1"])]
    for params, expected in cases:
        assert await ids(hub, roles["supervisor"], **params) == expected, params


async def test_item_fields(hub: HubClient, roles: dict[str, dict[str, str]]) -> None:
    k1 = (await listed(hub, roles["admin"], tier="gold"))["items"][0]
    assert k1 == {
        "id": "k1",
        "name": "Anna Adler",
        "organisation": None,
        "tier": "gold",
        "key_account": True,
        "key_account_manager_id": await agent_id(hub, "agent@test.example"),
        "language": "de",
        "revenue": {"revenue_12m": {"amount": 120000, "currency": "EUR"}},
        "contracts": ["Premium", "Support"],
        "payment_terms": "30 days",
        "last_contact_at": "2026-03-05T09:00:00+00:00",
        "open_conversations": 1,
        "created_at": "2026-01-10T00:00:00+00:00",
    }


SORTS = [
    ("name", ["k1", "k2", "k3", "k4"]),
    ("-name", ["k4", "k3", "k2", "k1"]),
    ("created", ["k1", "k2", "k3", "k4"]),
    ("-created", ["k4", "k3", "k2", "k1"]),
    ("revenue", ["k3", "k2", "k1", "k4"]),  # amounts as they are, whatever the currency; none last
    ("-revenue", ["k1", "k2", "k3", "k4"]),
    ("last_contact", ["k2", "k1", "k4", "k3"]),  # 02-20, 03-05, 03-06, never
    ("-last_contact", ["k4", "k1", "k2", "k3"]),
]


async def test_sorts_and_cursor_pages(hub: HubClient, roles: dict[str, dict[str, str]]) -> None:
    for sort, expected in SORTS:
        assert await ids(hub, roles["supervisor"], sort=sort) == expected, sort
        # one at a time through the cursor: the same order, then no cursor
        walked: list[str] = []
        params = {"sort": sort, "limit": "1"}
        for _ in range(6):
            page = await listed(hub, roles["supervisor"], **params)
            walked += [c["id"] for c in page["items"]]
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
        assert walked == expected, sort
    # pages of three, then one
    page = await listed(hub, roles["supervisor"], sort="-revenue", limit="3")
    assert [c["id"] for c in page["items"]] == ["k1", "k2", "k3"]
    rest = await listed(hub, roles["supervisor"], sort="-revenue", limit="3", cursor=page["next_cursor"])
    assert [c["id"] for c in rest["items"]] == ["k4"] and rest["next_cursor"] is None
    # a cursor belongs to its sort
    resp = await hub.client.get(
        URL, params={"sort": "name", "cursor": page["next_cursor"]}, headers=roles["supervisor"]
    )
    assert resp.status == 422 and (await resp.json())["field"] == "cursor"


async def test_visibility_applies(hub: HubClient, roles: dict[str, dict[str, str]]) -> None:
    # the plain agent sees none of the conversations; k1 only, as its key account manager
    assert await ids(hub, roles["agent"]) == ["k1"]
    assert await ids(hub, roles["agent"], tier="standard") == []
    assert await ids(hub, roles["agent"], tag="complaint") == ["k1"]


BAD = [
    ({"key_account": "yes"}, "key_account"),
    ({"open_conversations": "1"}, "open_conversations"),
    ({"revenue_min": "abc", "currency": "EUR"}, "revenue_min"),
    ({"revenue_min": "1e5", "currency": "EUR"}, "revenue_min"),
    ({"revenue_min": "100"}, "revenue_min"),
    ({"revenue_min": "200", "revenue_max": "100", "currency": "EUR"}, "revenue_max"),
    ({"currency": "eur"}, "currency"),
    ({"consent": "email:spam"}, "consent"),
    ({"consent": "pigeon:service"}, "consent"),
    ({"language": "german"}, "language"),
    ({"created_after": "2026-13-01"}, "created_after"),
    ({"last_contact_before": "yesterday"}, "last_contact_before"),
    ({"created_after": "2026-03-01", "created_before": "2026-02-01"}, "created_before"),
    ({"tier": "gold,,silver"}, "tier"),
    ({"sort": "revenue_12m"}, "sort"),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"contract_ends_before": "31.12.2026"}, "contract_ends_before"),
    ({"contract_ends_before": "2026-02-30"}, "contract_ends_before"),
    ({"nonsense": "1"}, "nonsense"),
    ({"q": " ", "tier": "gold"}, "q"),
]


async def test_strict_parameters(hub: HubClient, roles: dict[str, dict[str, str]]) -> None:
    for params, field in BAD:
        resp = await hub.client.get(URL, params=params, headers=roles["supervisor"])
        assert resp.status == 422, (params, await resp.text())
        assert (await resp.json())["field"] == field, params
    resp = await hub.client.get(f"{URL}?tier=gold&tier=silver", headers=roles["supervisor"])
    assert resp.status == 422 and (await resp.json())["field"] == "tier"
    for limit in ("0", "201", "-1", "1.5"):
        resp = await hub.client.get(URL, params={"limit": limit}, headers=roles["supervisor"])
        assert resp.status in (400, 422), limit


async def test_search_word_alone_still_searches(hub: HubClient, roles: dict[str, dict[str, str]]) -> None:
    resp = await hub.client.get(URL, params={"q": "Conti"}, headers=roles["supervisor"])
    assert resp.status == 200
    assert [c["id"] for c in (await resp.json())["items"]] == ["k3"]
