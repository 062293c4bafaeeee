"""Routing rules and agents through the API, on both backends."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from hub.keys import ROUTING, SETTINGS
from tests.conftest import HubClient, sign_in, sign_in_all
from tests.waits import eventually

VIP_RULES = """
queues:
  vip: {hours: always, reservation_timeout: 15}
  service: {hours: always}
rules:
  - name: platinum sms
    when: customer.tier == "platinum" and channel == "sms"
    targets:
      - {queue: vip, agents: '"de" in languages'}
  - name: everyone
    targets:
      - {queue: service}
"""


@pytest.fixture
async def roles(hub: HubClient) -> dict[str, dict[str, str]]:
    return await sign_in_all(hub)


async def simulate(hub: HubClient, headers: dict[str, str], **body) -> dict:
    resp = await hub.client.post(
        "/api/v1/routing/simulate",
        headers=headers,
        json={"channel": "sms", "customer": {"tier": "platinum"}, **body},
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_save_simulate_and_roll_back(hub: HubClient, roles) -> None:
    admin, sup = roles["admin"], roles["supervisor"]
    assert (await (await hub.client.get("/api/v1/routing/rules", headers=sup)).json())["version"] == 1
    assert (await simulate(hub, sup))["rule"] == "everyone"

    broken = VIP_RULES.replace('channel == "sms"', 'channel === "sms"')
    resp = await hub.client.put(
        "/api/v1/routing/rules", data=broken, headers={**admin, "Content-Type": "application/yaml"}
    )
    assert resp.status == 422
    detail = (await resp.json())["detail"]
    assert "rule 'platinum sms': when" in detail and "position" in detail
    # a draft can be tried before saving, and the live rules stay in force meanwhile
    draft = await simulate(hub, sup, rules=VIP_RULES)
    assert draft["rule"] == "platinum sms" and draft["decision"]["type"] == "Wait"
    assert len(draft["excluded"]) == 3 and set(draft["excluded"].values()) == {"not available (offline)"}
    assert (await simulate(hub, sup))["rule"] == "everyone"

    resp = await hub.client.put(
        "/api/v1/routing/rules",
        data=VIP_RULES,
        headers={**admin, "Content-Type": "application/yaml", "X-Change-Comment": "VIP lane"},
    )
    assert (await resp.json()) == {"version": 2}
    live = await simulate(hub, sup)
    assert (live["rule"], live["targets"][0]["queue"], live["rules_version"]) == ("platinum sms", "vip", 2)
    assert (await simulate(hub, sup, channel="email"))["rule"] == "everyone"

    versions = (await (await hub.client.get("/api/v1/routing/rules/versions", headers=sup)).json())["items"]
    assert [(v["version"], v["live"]) for v in versions] == [(2, True), (1, False)]
    assert versions[0]["author"].startswith("agent:") and versions[0]["comment"] == "VIP lane"

    resp = await hub.client.post("/api/v1/routing/rules/rollback", headers=admin, json={"version": 1})
    assert (await resp.json()) == {"version": 3}
    assert (await simulate(hub, sup))["rule"] == "everyone"
    assert (
        await hub.client.post("/api/v1/routing/rules/rollback", headers=admin, json={"version": 99})
    ).status == 404
    assert (
        await hub.client.put(
            "/api/v1/routing/rules", data=VIP_RULES, headers={**sup, "Content-Type": "application/yaml"}
        )
    ).status == 403


async def test_rules_as_json(hub: HubClient, roles) -> None:
    import yaml

    resp = await hub.client.put(
        "/api/v1/routing/rules", json=yaml.safe_load(VIP_RULES), headers=roles["admin"]
    )
    assert resp.status == 200
    doc = await (await hub.client.get("/api/v1/routing/rules", headers=roles["supervisor"])).json()
    assert doc["rules"]["rules"][0]["name"] == "platinum sms"


async def test_the_rules_file_is_reloaded_and_a_bad_one_refused(hub: HubClient, roles) -> None:
    path = hub.app[SETTINGS].routing.rules_file
    path.write_text(VIP_RULES)
    await eventually(lambda: hub.app[ROUTING].version == 2, what="the rules file reloaded")
    assert hub.app[ROUTING].rules.rules[0].name == "platinum sms"
    path.write_text(VIP_RULES.replace("queue: vip", "queue: nowhere"))
    await asyncio.sleep(0.6)  # a window, not a wait: reloads pass (every 0.2 s) and refuse it
    assert hub.app[ROUTING].version == 2  # refused; the running rules stay


async def test_agents_created_by_an_admin_can_sign_in_with_their_skills(hub: HubClient, roles) -> None:
    admin = roles["admin"]
    body = {
        "email": "Neu@Example.com",
        "name": "Neu",
        "password": "a-long-password",
        "languages": ["de"],
        "departments": ["sales"],
        "teams": ["key_accounts"],
        "capacity": {"chat": 2, "voice": 1},
    }
    resp = await hub.client.post("/api/v1/agents", json=body, headers=admin)
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert (created["email"], created["capacity"], created["role"]) == (
        "neu@example.com",
        {"chat": 2, "voice": 1},
        "agent",
    )
    assert (await hub.client.post("/api/v1/agents", json=body, headers=admin)).status == 409
    assert (
        await hub.client.post(
            "/api/v1/agents", json={**body, "email": "x@example.com"}, headers=roles["supervisor"]
        )
    ).status == 403
    cookie = await sign_in(hub, "neu@example.com", "a-long-password")
    assert (
        await (
            await hub.client.put("/api/v1/me/presence", json={"presence": "available"}, headers=cookie)
        ).json()
    ) == {"presence": "available"}
    sim = await simulate(
        hub,
        roles["supervisor"],
        channel="chat",
        customer={"key_account": True},
        rules=VIP_RULES.replace('channel == "sms"', "customer.key_account").replace(
            '"de" in languages', '"key_accounts" in teams'
        ),
    )
    assert sim["decision"]["type"] == "Offer" and sim["decision"]["agent_id"] == created["id"]
    resp = await hub.client.patch(f"/api/v1/agents/{created['id']}", json={"active": False}, headers=admin)
    assert (await resp.json())["active"] is False
    assert (await hub.client.get("/api/v1/me", headers=cookie)).status == 401
    short = await hub.client.post(
        "/api/v1/agents", json={**body, "email": "y@example.com", "password": "short"}, headers=admin
    )
    assert short.status == 422 and (await short.json())["field"] == "password"


async def test_a_large_rules_body_is_read_whole(hub: HubClient, roles) -> None:
    big = "# " + "x" * 150 + "\n"
    text = big * 1000 + VIP_RULES  # ~150 KB: arrives in several chunks
    resp = await hub.client.put(
        "/api/v1/routing/rules",
        data=text.encode(),
        headers={**roles["admin"], "Content-Type": "application/yaml"},
    )
    assert resp.status == 200, await resp.text()
    doc = await (await hub.client.get("/api/v1/routing/rules", headers=roles["supervisor"])).json()
    assert doc["text"] == text
    too_big = await hub.client.put(
        "/api/v1/routing/rules",
        data=(big * 2000).encode(),
        headers={**roles["admin"], "Content-Type": "application/yaml"},
    )
    assert too_big.status == 413


KEYWORD_RULES = """
queues:
  sales: {hours: always}
  service: {hours: always}
rules:
  - name: offers to sales
    when: text =~~ "(?i)angebot"
    actions: {set_department: sales}
    targets: [{queue: sales}]
  - name: everyone
    targets: [{queue: service}]
"""


async def test_rules_read_the_message_text_live_as_in_the_simulator(hub: HubClient, roles) -> None:
    """An SMS, chat or API message has no subject: a keyword rule reads its text, and the
    simulator's answer for the same message is what live routing then does."""
    from hub.keys import STORE
    from hub.store.tables import conversations

    resp = await hub.client.put(
        "/api/v1/routing/rules",
        data=KEYWORD_RULES,
        headers={**roles["admin"], "Content-Type": "application/yaml"},
    )
    assert resp.status == 200, await resp.text()
    texts = {
        "offer": "Guten Tag, ich hätte gern ein Angebot für 20 Geräte.",
        "other": "Mein Gerät ist kaputt.",
    }
    for n, text in enumerate(texts.values()):
        sender = {"kind": "email", "value": f"kunde{n}@example.com"}
        assert (
            await hub.post_message({"external_id": f"kw-{n}", "from": sender, "text": text})
        ).status == 202

    async def routed() -> dict[str, str] | None:
        async with hub.app[STORE].read() as conn:
            rows = (await conn.execute(sa.select(conversations.c.queue, conversations.c.route))).all()
        queues = {r.route.get("text", ""): r.queue for r in rows if r.queue and r.route}
        return queues if len(queues) == 2 else None

    live = await eventually(routed, what="both conversations routed")
    for text in texts.values():
        simulated = await simulate(hub, roles["supervisor"], channel="api", text=text)
        assert simulated["targets"][0]["queue"] == live[text]
    assert live[texts["offer"]] == "sales" and live[texts["other"]] == "service"
