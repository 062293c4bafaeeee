"""Contracts as records on both backends: kept by supervisors with their notice
deadlines, checked field by field, upserted by an ERP's token by external reference
(idempotent, a result per item), moved by merges, gone with an erasure, and learnt
from an import's ``contracts`` column."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from hub.keys import STORE, TOKENS
from hub.store.tables import contracts
from tests.conftest import HubClient, sign_in_all

TODAY = datetime.now(UTC).date()


@pytest.fixture
async def roles(hub: HubClient) -> dict[str, dict[str, str]]:
    return await sign_in_all(hub)


async def customer(hub: HubClient, headers: dict[str, str], name: str, *identities: tuple[str, str]) -> str:
    resp = await hub.client.post(
        "/api/v1/customers",
        json={"name": name, "identities": [{"kind": k, "value": v} for k, v in identities]},
        headers=headers,
    )
    assert resp.status == 201, await resp.text()
    cid: str = (await resp.json())["id"]
    return cid


async def add(hub: HubClient, headers: dict[str, str], cid: str, body: dict[str, Any]) -> Any:
    return await hub.client.post(f"/api/v1/customers/{cid}/contracts", json=body, headers=headers)


async def record(hub: HubClient, headers: dict[str, str], cid: str) -> dict[str, Any]:
    resp = await hub.client.get(f"/api/v1/customers/{cid}", headers=headers)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def stored(hub: HubClient, cid: str) -> list[str]:
    async with hub.app[STORE].read() as conn:
        rows = await conn.execute(sa.select(contracts.c.name).where(contracts.c.customer_id == cid))
        return sorted(r.name for r in rows)


async def test_a_supervisor_keeps_contracts_with_their_notice_deadlines(hub: HubClient, roles) -> None:
    sup, agent = roles["supervisor"], roles["agent"]
    cid = await customer(hub, sup, "Vertrag GmbH", ("email", "einkauf@vertrag.example"))
    ends = TODAY + timedelta(days=100)
    body = {
        "name": "Strom Gewerbe",
        "starts_on": "2026-01-01",
        "ends_on": ends.isoformat(),
        "notice_days": 90,
        "value": 1200.5,
        "currency": "EUR",
        "billing_interval": "month",
        "external_ref": "SAP-4711",
    }
    assert (await add(hub, agent, cid, body)).status == 403  # agents see contracts, supervisors keep them
    resp = await add(hub, sup, cid, body)
    assert resp.status == 201, await resp.text()
    made = await resp.json()
    assert made["status"] == "active" and made["value"] == 1200.5 and made["external_ref"] == "SAP-4711"
    assert made["notice_by"] == (ends - timedelta(days=90)).isoformat() and made["days_to_notice"] == 10
    open_ended = await (await add(hub, sup, cid, {"name": "Wartung"})).json()
    assert open_ended["notice_by"] is None and open_ended["days_to_notice"] is None
    shown = (await record(hub, sup, cid))["contracts"]
    assert [c["name"] for c in shown] == ["Strom Gewerbe", "Wartung"]  # soonest end first

    resp = await hub.client.patch(
        f"/api/v1/contracts/{made['id']}", json={"status": "cancelled"}, headers=sup
    )
    assert (
        resp.status == 200 and (await resp.json())["days_to_notice"] is None
    )  # nothing left to give notice on
    listed = await (await hub.client.get(f"/api/v1/customers/{cid}/contracts", headers=sup)).json()
    assert [c["name"] for c in listed["items"]] == ["Wartung", "Strom Gewerbe"]  # active first
    assert (await hub.client.delete(f"/api/v1/contracts/{open_ended['id']}", headers=agent)).status == 403
    assert (await hub.client.delete(f"/api/v1/contracts/{open_ended['id']}", headers=sup)).status == 204
    assert (await hub.client.delete(f"/api/v1/contracts/{open_ended['id']}", headers=sup)).status == 404
    assert await stored(hub, cid) == ["Strom Gewerbe"]

    timeline = await (await hub.client.get(f"/api/v1/customers/{cid}/timeline", headers=sup)).json()
    actions = [
        i["action"] for i in timeline["items"] if i["type"] == "event" and i["action"].startswith("contract")
    ]
    assert sorted(actions) == ["contract.added", "contract.added", "contract.changed", "contract.removed"]


BAD: list[tuple[dict[str, Any], str]] = [
    ({"name": ""}, "name"),
    ({}, "name"),
    ({"name": None}, "name"),
    ({"name": "x", "starts_on": "2026-05-01", "ends_on": "2026-04-30"}, "ends_on"),
    ({"name": "x", "value": 10}, "currency"),
    ({"name": "x", "currency": "EUR"}, "value"),
    ({"name": "x", "value": 10, "currency": "eur"}, "currency"),
    ({"name": "x", "notice_days": "30"}, "notice_days"),
    ({"name": "x", "notice_days": -1}, "notice_days"),
    ({"name": "x", "notice_days": 2.5}, "notice_days"),
    ({"name": "x", "value": True, "currency": "EUR"}, "value"),
    ({"name": "x", "value": "12", "currency": "EUR"}, "value"),
    ({"name": "x", "value": -1, "currency": "EUR"}, "value"),
    ({"name": "x", "starts_on": 1767225600}, "starts_on"),
    ({"name": "x", "starts_on": "2026-02-30"}, "starts_on"),
    ({"name": "x", "starts_on": "2026-02-01T00:00:00"}, "starts_on"),
    ({"name": "x", "billing_interval": "weekly"}, "billing_interval"),
    ({"name": "x", "status": None}, "status"),
    ({"name": "x", "status": "paused"}, "status"),
    ({"name": "x", "owner": "me"}, "owner"),
]


async def test_contract_fields_are_checked(hub: HubClient, roles) -> None:
    sup = roles["supervisor"]
    cid = await customer(hub, sup, "Prüf AG", ("email", "pruef@example.com"))
    for body, field in BAD:
        resp = await add(hub, sup, cid, body)
        assert resp.status == 422, (body, await resp.text())
        assert (await resp.json())["field"] == field, body
    made = await (
        await add(hub, sup, cid, {"name": "Gas", "starts_on": "2026-03-01", "external_ref": "R-1"})
    ).json()
    one = f"/api/v1/contracts/{made['id']}"
    patches: list[tuple[dict[str, Any], str]] = [
        ({"name": None}, "name"),
        ({"ends_on": "2026-02-28"}, "ends_on"),
        ({"value": 5}, "currency"),
    ]
    for body, field in patches:
        resp = await hub.client.patch(one, json=body, headers=sup)
        assert resp.status == 422 and (await resp.json())["field"] == field, body
    resp = await add(hub, sup, cid, {"name": "Strom", "external_ref": "R-1"})
    assert resp.status == 409 and "R-1" in (await resp.json())["detail"]
    assert (await add(hub, sup, "no-such-customer", {"name": "x"})).status == 404
    assert (await hub.client.patch("/api/v1/contracts/nope", json={"name": "y"}, headers=sup)).status == 404
    assert await stored(hub, cid) == ["Gas"]


async def test_an_erp_upserts_contracts_by_reference(hub: HubClient, roles) -> None:
    sup = roles["supervisor"]
    anna = await customer(hub, sup, "Anna", ("email", "anna@example.com"), ("external", "ERP-1001"))
    bert = await customer(hub, sup, "Bert", ("email", "bert@example.com"))
    _, token = await hub.app[TOKENS].create("erp", ["contracts:write"])
    erp = {"Authorization": f"Bearer {token}"}

    async def upsert(items: list[dict[str, Any]]) -> Any:
        return await hub.client.put("/api/v1/contracts", json={"items": items}, headers=erp)

    strom: dict[str, Any] = {
        "external_ref": "V-1",
        "customer_external_id": "ERP-1001",
        "name": "Strom",
        "notice_days": 30,
    }
    gas: dict[str, Any] = {
        "external_ref": "V-2",
        "customer_id": bert,
        "name": "Gas",
        "value": 80,
        "currency": "EUR",
    }
    batch: list[dict[str, Any]] = [
        strom,
        gas,
        {"external_ref": "V-3", "customer_external_id": "ERP-404", "name": "Wasser"},
        {"external_ref": "V-4", "customer_id": bert, "name": "Wärme", "value": "viel"},
        {**strom, "name": "Strom doppelt"},
        {"external_ref": "V-5", "name": "niemandes"},
    ]
    resp = await upsert(batch)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert [(r["index"], r["status"]) for r in body["items"]] == [
        (0, "created"),
        (1, "created"),
        (2, "error"),
        (3, "error"),
        (4, "error"),
        (5, "error"),
    ]
    assert [r.get("field") for r in body["items"][2:]] == [
        "customer_external_id",
        "value",
        "external_ref",
        "customer_id",
    ]
    assert "ERP-404" in body["items"][2]["error"] and "customer" in body["items"][5]["error"]
    assert (body["created"], body["updated"], body["unchanged"], body["error"]) == (2, 0, 0, 4)
    assert await stored(hub, anna) == ["Strom"] and await stored(hub, bert) == ["Gas"]

    again = await (await upsert([strom, gas])).json()
    assert [r["status"] for r in again["items"]] == ["unchanged", "unchanged"]
    assert [r["id"] for r in again["items"]] == [r["id"] for r in body["items"][:2]]
    changed = await (await upsert([{**strom, "notice_days": 60}, {**gas, "customer_id": anna}])).json()
    assert [r["status"] for r in changed["items"]] == ["updated", "error"]
    assert "another customer" in changed["items"][1]["error"]
    shown = (await record(hub, sup, anna))["contracts"]
    assert [(c["name"], c["notice_days"], c["external_ref"]) for c in shown] == [("Strom", 60, "V-1")]

    resp = await upsert([{"external_ref": f"N-{i}", "customer_id": bert, "name": "x"} for i in range(1001)])
    assert resp.status == 422 and (await resp.json())["field"] == "items"
    for items in ([], "V-1", [1]):  # not a list of 1 to 1,000 objects: the request's error
        resp = await hub.client.put("/api/v1/contracts", json={"items": items}, headers=erp)
        assert resp.status == 422 and (await resp.json())["field"].startswith("items"), items
    assert await stored(hub, bert) == ["Gas"]


async def test_contracts_follow_a_merge_and_leave_with_an_erasure(hub: HubClient, roles) -> None:
    sup, admin = roles["supervisor"], roles["admin"]
    keeper = await customer(hub, sup, "Kunde A", ("email", "a@merge.example"))
    other = await customer(hub, sup, "Kunde B", ("email", "b@merge.example"))
    await add(hub, sup, keeper, {"name": "Strom"})
    await add(hub, sup, other, {"name": "Gas", "external_ref": "M-2"})
    resp = await hub.client.post(f"/api/v1/customers/{keeper}/merge", json={"other_id": other}, headers=sup)
    assert resp.status == 200, await resp.text()
    merged = await resp.json()
    assert sorted(c["name"] for c in merged["contracts"]) == ["Gas", "Strom"]
    resp = await hub.client.post(
        f"/api/v1/customers/{keeper}/unmerge", json={"merge_event_id": merged["merge_event_id"]}, headers=sup
    )
    assert resp.status == 200, await resp.text()
    assert await stored(hub, keeper) == ["Strom"] and await stored(hub, other) == ["Gas"]

    exported = await (await hub.client.get(f"/api/v1/customers/{other}/export", headers=sup)).json()
    assert [c["name"] for c in exported["customer"]["contracts"]] == ["Gas"]
    resp = await hub.client.delete(f"/api/v1/customers/{other}", params={"confirm": other}, headers=admin)
    assert resp.status in (200, 204), await resp.text()
    assert await stored(hub, other) == []
    assert await stored(hub, keeper) == ["Strom"]


async def test_an_import_learns_contracts_once(hub: HubClient, roles) -> None:
    sup = roles["supervisor"]
    csv = "email,name,contracts\nimport@example.com,Import KG,Strom; Gas ;Strom\n"
    for _ in range(2):  # again: nothing new
        resp = await hub.client.post(
            "/api/v1/customers/import", data=csv.encode(), headers={**sup, "Content-Type": "text/csv"}
        )
        assert resp.status == 200, await resp.text()
    found = await (
        await hub.client.get("/api/v1/customers", params={"q": "import@example.com"}, headers=sup)
    ).json()
    cid = found["items"][0]["id"]
    shown = (await record(hub, sup, cid))["contracts"]
    assert sorted((c["name"], c["status"]) for c in shown) == [("Gas", "active"), ("Strom", "active")]
    long_name = "x" * 301
    resp = await hub.client.post(
        "/api/v1/customers/import",
        data=f"email,contracts\nlong@example.com,{long_name}\n".encode(),
        headers={**sup, "Content-Type": "text/csv"},
    )
    report = await resp.json()
    assert report["created"] == 0 and "contracts" in report["rejected"][0]["reason"]


async def test_a_json_lines_import_keeps_contracts_and_bookings_by_reference(hub: HubClient, roles) -> None:
    sup = roles["supervisor"]
    month = (TODAY.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")  # last month
    row: dict[str, Any] = {
        "external_id": "ERP-77",
        "name": "Import GmbH",
        "contracts": [
            "Wartung",
            {"external_ref": "C-77", "name": "Strom", "ends_on": "2027-12-31", "notice_days": 90},
        ],
        "revenue_periods": [
            {"external_ref": "B-77-1", "month": month, "currency": "EUR", "amount": 30000},
            {"external_ref": "B-77-2", "month": month, "currency": "JPY", "amount": 5},
        ],
    }
    bad = {
        "external_id": "ERP-78",
        "contracts": [{"external_ref": "C-78", "name": "Gas", "ends_on": "morgen"}],
    }

    async def post(*rows: dict[str, Any]) -> dict[str, Any]:
        body = "\n".join(json.dumps(r) for r in rows).encode()
        resp = await hub.client.post(
            "/api/v1/customers/import", data=body, headers={**sup, "Content-Type": "application/x-ndjson"}
        )
        assert resp.status == 200, await resp.text()
        report: dict[str, Any] = await resp.json()
        return report

    report = await post(row, bad)
    assert report["created"] == 1 and report["rejected"][0]["line"] == 2
    assert "contracts[0].ends_on" in report["rejected"][0]["reason"]
    assert len(report["item_errors"]) == 1 and "JPY" in report["item_errors"][0]["reason"]
    found = await (await hub.client.get("/api/v1/customers", params={"q": "ERP-77"}, headers=sup)).json()
    cid = found["items"][0]["id"]
    shown = await record(hub, sup, cid)
    assert sorted((c["name"], c["external_ref"]) for c in shown["contracts"]) == [
        ("Strom", "C-77"),
        ("Wartung", None),
    ]
    assert shown["revenue"]["revenue_12m"]["amount"] == 30000 and shown["tier"] == "gold"
    again = await post(row)
    assert again["updated"] == 1 and len(again["item_errors"]) == 1  # the same; the JPY booking again refused
    assert len((await record(hub, sup, cid))["contracts"]) == 2
