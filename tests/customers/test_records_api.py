"""The customer record through the HTTP API, on both backends."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import HubClient, sign_in_all


@pytest.fixture
async def roles(hub: HubClient) -> dict[str, dict[str, str]]:
    return await sign_in_all(hub)


async def ingest(hub: HubClient, ext: str, kind: str, value: str, text: str) -> None:
    resp = await hub.post_message({"external_id": ext, "from": {"kind": kind, "value": value}, "text": text})
    assert resp.status == 202


async def find(hub: HubClient, headers: dict[str, str], q: str) -> list[dict]:
    resp = await hub.client.get("/api/v1/customers", params={"q": q}, headers=headers)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["items"]


async def test_one_customer_across_channels_by_merge(hub: HubClient, roles) -> None:
    # as a supervisor: what an agent sees of these customers is tests/test_visibility.py's
    await ingest(hub, "m-email", "email", "x@example.com", "Erste Nachricht per E-Mail")
    await asyncio.sleep(0.01)
    await ingest(hub, "m-phone", "phone", "0171 1234567", "Zweite Nachricht per Telefon")
    await hub.wait_stored(2)
    by_email = (await find(hub, roles["supervisor"], "x@example.com"))[0]
    by_phone = (await find(hub, roles["supervisor"], "+49 171 1234567"))[0]
    assert by_email["id"] != by_phone["id"]

    # the phone customer has revenue that makes it gold; after the merge the survivor is gold
    resp = await hub.client.patch(
        f"/api/v1/customers/{by_phone['id']}",
        headers=roles["supervisor"],
        json={"revenue": {"revenue_12m": {"amount": 25000, "currency": "EUR"}}},
    )
    assert (await resp.json())["tier"] == "gold"

    # adding the other customer's identity is refused, pointing at merge
    resp = await hub.client.post(
        f"/api/v1/customers/{by_email['id']}/identities",
        headers=roles["supervisor"],
        json={"kind": "phone", "value": "0171/1234567"},
    )
    assert resp.status == 409
    assert "merge" in (await resp.json())["detail"]

    resp = await hub.client.post(
        f"/api/v1/customers/{by_email['id']}/merge",
        headers=roles["supervisor"],
        json={"other_id": by_phone["id"]},
    )
    assert resp.status == 200, await resp.text()
    merged = await resp.json()
    assert {(i["kind"], i["value"]) for i in merged["identities"]} == {
        ("email", "x@example.com"),
        ("phone", "+491711234567"),
    }
    assert merged["tier"] == "gold" and merged["tier_reason"]["rule"] == "gold"

    resp = await hub.client.get(f"/api/v1/customers/{by_email['id']}/timeline", headers=roles["supervisor"])
    items = (await resp.json())["items"]
    texts = [i["text"] for i in items if i["type"] == "message"]
    assert texts == ["Zweite Nachricht per Telefon", "Erste Nachricht per E-Mail"]
    assert any(i["type"] == "event" and i["action"] == "customer.merged" for i in items)
    assert (
        await hub.client.get(f"/api/v1/customers/{by_phone['id']}", headers=roles["supervisor"])
    ).status == 404

    # a new message from the phone now lands on the merged customer
    await ingest(hub, "m-phone-2", "phone", "+491711234567", "Dritte")
    await hub.wait_stored(3)
    assert [c["id"] for c in await find(hub, roles["supervisor"], "0171 1234567")] == [by_email["id"]]

    # unmerge restores both records from the audit record
    resp = await hub.client.post(
        f"/api/v1/customers/{by_email['id']}/unmerge",
        headers=roles["supervisor"],
        json={"merge_event_id": merged["merge_event_id"]},
    )
    assert (await resp.json())["restored_id"] == by_phone["id"]
    back = await (
        await hub.client.get(f"/api/v1/customers/{by_phone['id']}", headers=roles["supervisor"])
    ).json()
    assert [(i["kind"], i["value"]) for i in back["identities"]] == [("phone", "+491711234567")]
    assert back["tier"] == "gold"
    email_side = await (
        await hub.client.get(f"/api/v1/customers/{by_email['id']}", headers=roles["supervisor"])
    ).json()
    assert [i["kind"] for i in email_side["identities"]] == ["email"] and email_side["tier"] == "standard"
    timeline = await (
        await hub.client.get(f"/api/v1/customers/{by_phone['id']}/timeline", headers=roles["supervisor"])
    ).json()
    assert [i["text"] for i in timeline["items"] if i["type"] == "message"] == [
        "Zweite Nachricht per Telefon"
    ]
    # what arrived while merged stays in the conversation it was filed in (the survivor's)
    timeline = await (
        await hub.client.get(f"/api/v1/customers/{by_email['id']}/timeline", headers=roles["supervisor"])
    ).json()
    assert [i["text"] for i in timeline["items"] if i["type"] == "message"] == [
        "Dritte",
        "Erste Nachricht per E-Mail",
    ]
    again = await hub.client.post(
        f"/api/v1/customers/{by_email['id']}/unmerge",
        headers=roles["supervisor"],
        json={"merge_event_id": merged["merge_event_id"]},
    )
    assert again.status == 409


async def test_merge_conflicts_keep_the_survivors_values(hub: HubClient, roles) -> None:
    sup = roles["supervisor"]
    a = await (
        await hub.client.post(
            "/api/v1/customers",
            headers=sup,
            json={
                "name": "Erika M.",
                "identities": [{"kind": "email", "value": "erika@example.com"}],
                "custom": {"segment": "retail"},
            },
        )
    ).json()
    b = await (
        await hub.client.post(
            "/api/v1/customers",
            headers=sup,
            json={
                "name": "Erika Mustermann",
                "organisation": "Muster GmbH",
                "key_account": True,
                "identities": [{"kind": "phone", "value": "0171 7654321"}],
                "custom": {"segment": "wholesale", "region": "Nord"},
            },
        )
    ).json()
    merged = await (
        await hub.client.post(f"/api/v1/customers/{a['id']}/merge", headers=sup, json={"other_id": b["id"]})
    ).json()
    assert merged["name"] == "Erika M."  # survivor keeps its value
    assert merged["organisation"] == "Muster GmbH"  # the other fills a gap
    assert merged["custom"] == {"segment": "retail", "region": "Nord"}
    assert merged["key_account"] is True and merged["tier"] == "platinum"
    log = await (
        await hub.client.get(
            "/api/v1/audit", headers=sup, params={"customer_id": a["id"], "action": "customer.merged"}
        )
    ).json()
    assert log["items"][0]["data"]["conflicts"] == ["custom.segment", "name"]


async def test_search_finds_by_any_form(hub: HubClient, roles) -> None:
    agent = roles["supervisor"]  # agents find only customers they may see (tests/test_visibility.py)
    created = await (
        await hub.client.post(
            "/api/v1/customers",
            headers=roles["agent"],
            json={
                "name": "Max Mustermann",
                "organisation": "Beispiel AG",
                "identities": [
                    {"kind": "phone", "value": "+49 (0)171-1234567"},
                    {"kind": "email", "value": "Max.Mustermann@Example.COM"},
                    {"kind": "external", "value": "CRM-0042"},
                ],
            },
        )
    ).json()
    for q in [
        "0171 1234567",
        "0049 171 1234567",
        "max.mustermann@example.com",
        "CRM-0042",
        "muster",
        "Max Must",
        "beispiel",
        "MAX",
    ]:
        assert [c["id"] for c in await find(hub, agent, q)] == [created["id"]], q
    assert await find(hub, agent, "Nobody") == []
    resp = await hub.client.get("/api/v1/customers", params={"q": " "}, headers=agent)
    assert resp.status == 422


async def test_timeline_cursor_is_stable_under_inserts(hub: HubClient, roles) -> None:
    for i in range(30):
        await ingest(hub, f"t-{i:02d}", "email", "pager@example.com", f"message {i:02d}")
    await hub.wait_stored(30)
    cid = (await find(hub, roles["supervisor"], "pager@example.com"))[0]["id"]
    seen: list[str] = []
    cursor = None
    for page in range(10):
        params = {"limit": "7", **({"before": cursor} if cursor else {})}
        resp = await hub.client.get(
            f"/api/v1/customers/{cid}/timeline", params=params, headers=roles["supervisor"]
        )
        doc = await resp.json()
        seen += [i["text"] for i in doc["items"] if i["type"] == "message"]
        await ingest(hub, f"late-{page}", "email", "pager@example.com", f"late {page}")  # arrives meanwhile
        cursor = doc["next"]
        if cursor is None:
            break
    assert seen == [f"message {i:02d}" for i in reversed(range(30))]
    bad = await hub.client.get(
        f"/api/v1/customers/{cid}/timeline", params={"before": "garbage"}, headers=roles["supervisor"]
    )
    assert bad.status == 400 and (await bad.json())["field"] == "before"


async def test_roles_and_audit_of_reads(hub: HubClient, roles) -> None:
    agent, sup, admin = roles["agent"], roles["supervisor"], roles["admin"]
    created = await (
        await hub.client.post(
            "/api/v1/customers",
            headers=agent,
            json={"name": "Audited", "identities": [{"kind": "email", "value": "audit@example.com"}]},
        )
    ).json()
    cid = created["id"]
    assert (
        await hub.client.get(f"/api/v1/customers/{cid}", headers={**sup, "X-Audit-Reason": "ticket 7"})
    ).status == 200
    # agents may not change commercial fields, read the audit log, export, pin or erase
    assert (
        await hub.client.patch(f"/api/v1/customers/{cid}", headers=agent, json={"key_account": True})
    ).status == 403
    assert (await hub.client.get("/api/v1/audit", headers=agent)).status == 403
    assert (await hub.client.get(f"/api/v1/customers/{cid}/export", headers=agent)).status == 403
    assert (
        await hub.client.put(f"/api/v1/customers/{cid}/tier", headers=sup, json={"tier": "gold"})
    ).status == 403
    assert (
        await hub.client.delete(f"/api/v1/customers/{cid}", params={"confirm": cid}, headers=sup)
    ).status == 403
    # admins may pin, and the record shows it
    pinned = await (
        await hub.client.put(
            f"/api/v1/customers/{cid}/tier", headers=admin, json={"tier": "platinum", "reason": "strategic"}
        )
    ).json()
    assert pinned["tier"] == "platinum" and pinned["tier_pinned"] is True
    assert pinned["tier_reason"]["why"] == "strategic"
    after_patch = await (
        await hub.client.patch(
            f"/api/v1/customers/{cid}",
            headers=sup,
            json={"revenue": {"revenue_12m": {"amount": 1, "currency": "EUR"}}},
        )
    ).json()
    assert after_patch["tier"] == "platinum"  # pinned: the rules do not move it
    unpinned = await (
        await hub.client.put(f"/api/v1/customers/{cid}/tier", headers=admin, json={"tier": None})
    ).json()
    assert unpinned["tier"] == "standard" and not unpinned["tier_pinned"]
    bad = await hub.client.put(f"/api/v1/customers/{cid}/tier", headers=admin, json={"tier": "diamond"})
    assert bad.status == 422 and "diamond" in (await bad.json())["detail"]

    log = (await (await hub.client.get("/api/v1/audit", headers=sup, params={"customer_id": cid})).json())[
        "items"
    ]
    reads = [e for e in log if e["action"] == "audit.read"]
    assert reads and reads[-1]["reason"] == "ticket 7" and reads[-1]["actor"].startswith("agent:")
    assert {"tier.pinned", "tier.unpinned", "customer.created"} <= {e["action"] for e in log}


async def test_consent_is_recorded_and_in_the_timeline(hub: HubClient, roles) -> None:
    agent = roles["supervisor"]  # a customer without conversations: not an agent's to see
    created = await (
        await hub.client.post(
            "/api/v1/customers",
            headers=agent,
            json={"identities": [{"kind": "phone", "value": "+4915112345678"}]},
        )
    ).json()
    cid = created["id"]
    resp = await hub.client.put(
        f"/api/v1/customers/{cid}/consent",
        headers=agent,
        json={"channel": "sms", "purpose": "marketing", "granted": False, "source": "sms:STOP"},
    )
    record = await resp.json()
    assert record["consent"][0] | {"updated_at": None} == {
        "channel": "sms",
        "purpose": "marketing",
        "granted": False,
        "source": "sms:STOP",
        "updated_at": None,
    }
    timeline = await (await hub.client.get(f"/api/v1/customers/{cid}/timeline", headers=agent)).json()
    consent = [i for i in timeline["items"] if i.get("action") == "consent.changed"]
    assert consent[0]["data"] == {
        "channel": "sms",
        "purpose": "marketing",
        "granted": False,
        "source": "sms:STOP",
    }
    bad = await hub.client.put(
        f"/api/v1/customers/{cid}/consent",
        headers=agent,
        json={"channel": "pigeon", "purpose": "service", "granted": True},
    )
    assert bad.status == 422 and (await bad.json())["field"] == "channel"


async def test_export_holds_all_personal_data(hub: HubClient, roles) -> None:
    await ingest(hub, "ex-1", "email", "export@example.com", "Bitte um Rückruf")
    await hub.wait_stored(1)
    cid = (await find(hub, roles["supervisor"], "export@example.com"))[0]["id"]
    resp = await hub.client.get(f"/api/v1/customers/{cid}/export", headers=roles["supervisor"])
    assert resp.status == 200
    assert "attachment" in resp.headers["Content-Disposition"]
    doc = await resp.json()
    assert doc["customer"]["identities"][0]["value"] == "export@example.com"
    assert doc["messages"][0]["text"] == "Bitte um Rückruf"
    assert doc["messages"][0]["attachments"] == []
    log = (
        await (
            await hub.client.get(
                "/api/v1/audit", headers=roles["supervisor"], params={"action": "audit.export"}
            )
        ).json()
    )["items"]
    assert log[0]["customer_id"] == cid


async def test_unknown_customer_and_bad_ids_are_404(hub: HubClient, roles) -> None:
    for path in ["/api/v1/customers/nope", "/api/v1/customers/00000000-0000-0000-0000-000000000000/timeline"]:
        resp = await hub.client.get(path, headers=roles["agent"])
        assert resp.status == 404 and resp.content_type == "application/problem+json"
    resp = await hub.client.delete("/api/v1/customers/x/identities/abc", headers=roles["supervisor"])
    assert resp.status == 400 and (await resp.json())["field"] == "identity_id"  # not an id at all
    resp = await hub.client.delete("/api/v1/customers/x/identities/12345", headers=roles["supervisor"])
    assert resp.status == 404
