"""The integration API on both backends: customers upserted by external id (a result per
item, idempotent), a record read by external id (audited as the token's), and the event
feed after a cursor; each route only for a token of its scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hub.keys import STORE, TOKENS
from hub.store.tables import events
from tests.conftest import HubClient


async def bearer(hub: HubClient, *scopes: str) -> dict[str, str]:
    info, token = await hub.app[TOKENS].create("erp", list(scopes))
    return {"Authorization": f"Bearer {token}", "X-Token-Id": info.id}


async def upsert(hub: HubClient, headers: dict[str, str], items: list[dict[str, Any]]) -> dict[str, Any]:
    resp = await hub.client.put("/api/v1/customers", json={"items": items}, headers=headers)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def test_an_erp_upserts_customers_by_external_id(hub: HubClient) -> None:
    writer, reader = await bearer(hub, "customers:write"), await bearer(hub, "customers:read")
    acme: dict[str, Any] = {
        "external_id": "ERP-1",
        "name": "ACME GmbH",
        "email": "einkauf@acme.example",
        "revenue_12m": 25000,
        "contracts": ["Strom"],
    }
    items: list[dict[str, Any]] = [
        acme,
        {"external_id": "ERP-2", "name": "Beta AG", "phone": "+49 30 1234567"},
        {"name": "no external id", "email": "x@example.com"},
        {"external_id": "ERP-3", "email": "einkauf@acme.example"},  # ACME's address
        {"external_id": "ERP-4", "key_account": "maybe"},
    ]
    body = await upsert(hub, writer, items)
    assert [r["status"] for r in body["items"]] == ["created", "created", "error", "error", "error"]
    assert (
        "external_id" in body["items"][2]["error"] and "external id is 'ERP-1'" in body["items"][3]["error"]
    )
    assert "key_account" in body["items"][4]["error"]
    assert (body["created"], body["updated"], body["unchanged"], body["error"]) == (2, 0, 0, 3)
    again = await upsert(hub, writer, items[:2])
    assert [r["status"] for r in again["items"]] == ["unchanged", "unchanged"]
    assert [r["id"] for r in again["items"]] == [r["id"] for r in body["items"][:2]]
    changed = await upsert(
        hub, writer, [{**acme, "name": "ACME Holding GmbH", "contracts": ["Strom", "Gas"]}]
    )
    assert changed["items"][0]["status"] == "updated"

    resp = await hub.client.get("/api/v1/integration/customers/ERP-1", headers=reader)
    assert resp.status == 200, await resp.text()
    record = await resp.json()
    assert record["name"] == "ACME Holding GmbH" and record["tier"] == "gold"
    assert sorted(c["name"] for c in record["contracts"]) == ["Gas", "Strom"]
    assert {(i["kind"], i["value"]) for i in record["identities"]} == {
        ("external", "ERP-1"),
        ("email", "einkauf@acme.example"),
    }
    assert (await hub.client.get("/api/v1/integration/customers/ERP-404", headers=reader)).status == 404
    assert (await hub.client.get("/api/v1/integration/customers/ERP-1", headers=writer)).status == 403
    revenue_only = await bearer(hub, "revenue:write")  # the example: it cannot read customers
    assert (await hub.client.get("/api/v1/integration/customers/ERP-1", headers=revenue_only)).status == 403
    assert (await hub.client.put("/api/v1/customers", json={"items": [acme]}, headers=reader)).status == 403
    async with hub.app[STORE].read() as conn:
        reads = (
            await conn.execute(
                sa.select(events.c.actor).where(
                    events.c.action == "audit.read", events.c.subject_id == record["id"]
                )
            )
        ).scalars()
        assert list(reads) == [f"token:{reader['X-Token-Id']}"]


async def test_the_event_feed_pages_after_a_cursor(hub: HubClient) -> None:
    feed = await bearer(hub, "events:read")
    now = datetime.now(UTC)

    def event(action: str, age_s: float, subject: str) -> dict[str, Any]:
        return {
            "at": now - timedelta(seconds=age_s),
            "actor": "system:test",
            "action": action,
            "subject_type": "conversation",
            "subject_id": subject,
            "customer_id": None,
            "reason": None,
            "data": {"n": subject},
        }

    async with hub.app[STORE].write() as conn:
        start = int(await conn.scalar(sa.select(sa.func.coalesce(sa.func.max(events.c.id), 0))) or 0)
        await conn.execute(
            sa.insert(events),
            [
                event("conversation.opened", 60, "a"),
                event("audit.read", 60, "not-in-the-feed"),
                event("customer.updated", 50, "b"),
                event("contract.added", 40, "c"),
                event("conversation.closed", 0, "too-recent"),
            ],
        )

    async def page(**params: str) -> dict[str, Any]:
        resp = await hub.client.get("/api/v1/integration/events", params=params, headers=feed)
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body

    first = await page(after=str(start), limit="2")
    assert [e["subject_id"] for e in first["items"]] == ["a", "b"]
    rest = await page(after=str(first["next_after"]), limit="2")
    assert [e["subject_id"] for e in rest["items"]] == ["c"]  # the last one is 10 s old only later
    assert rest["items"][0]["action"] == "contract.added" and rest["items"][0]["data"] == {"n": "c"}
    done = await page(after=str(rest["next_after"]))
    assert done["items"] == [] and done["next_after"] == rest["next_after"]
    only = await page(after=str(start), actions="customer.,contract.")
    assert [e["subject_id"] for e in only["items"]] == ["b", "c"]
    for params, status in (({"actions": "audit."}, 422), ({"after": "-1"}, 400), ({"limit": "1001"}, 400)):
        resp = await hub.client.get("/api/v1/integration/events", params=params, headers=feed)
        assert resp.status == status, params
    assert (await hub.client.get("/api/v1/integration/events", headers=hub.auth)).status == 403  # ingest only
