"""The Router in a running hub, on both backends: offers, lapses, rejects, transfers,
closes that free capacity, SLA breaches, and the queues view."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from hub.keys import QUEUE, ROUTER, STORE
from hub.store.tables import agents, events, messages
from tests.conftest import HubClient, sign_in, sign_in_all
from tests.helpers import inbound
from tests.waits import eventually

RULES = """
queues:
  service: {reservation_timeout: 1}
  sales: {}
sla:
  standard: {default: 2}
max_missed_offers: 2
prefer_last_agent: false
rules:
  - name: everyone
    targets: [{queue: service}]
"""


async def waiting_behind_call(hub: HubClient, call_id: str, kind: str) -> str:
    """The conversation of the ``kind`` message (a voicemail, a missed call), once the router
    counts the line that call ``call_id`` holds and has the conversation waiting in line."""
    router = hub.app[ROUTER]

    async def waiting() -> str | None:
        view = router.view
        if view is None or view.holds.get("call:" + call_id) is None:
            return None
        async with hub.app[STORE].read() as conn:
            conv_id = await conn.scalar(sa.select(messages.c.conversation_id).where(messages.c.kind == kind))
        return conv_id if conv_id is not None and conv_id in view.line else None

    return str(await eventually(waiting, what=f"the {kind} waiting in the router behind call {call_id}"))


class Floor:
    """The hub, an admin, and agents signed in through the API."""

    def __init__(self, hub: HubClient) -> None:
        self.hub = hub
        self.headers: dict[str, dict[str, str]] = {}
        self.ids: dict[str, str] = {}

    async def start(self, rules: str = RULES) -> Floor:
        roles = await sign_in_all(self.hub)
        self.headers |= roles
        resp = await self.hub.client.put(
            "/api/v1/routing/rules",
            data=rules,
            headers={**roles["admin"], "Content-Type": "application/yaml"},
        )
        assert resp.status == 200, await resp.text()
        return self

    async def agent(self, name: str, available: bool = True, **skills: Any) -> str:
        body = {"email": f"{name}@svc.example", "name": name, "password": f"pw-{name}-long", **skills}
        resp = await self.hub.client.post("/api/v1/agents", headers=self.headers["admin"], json=body)
        assert resp.status == 201, await resp.text()
        self.ids[name] = (await resp.json())["id"]
        self.headers[name] = await sign_in(self.hub, body["email"], body["password"])
        if available:
            await self.presence(name, "available")
        return self.ids[name]

    async def presence(self, name: str, presence: str) -> None:
        resp = await self.hub.client.put(
            "/api/v1/me/presence", headers=self.headers[name], json={"presence": presence}
        )
        assert resp.status == 200

    async def arrive(self, *ids: str, now: bool = True) -> None:
        for ext in ids:
            m = inbound(ext, f"{ext}@example.com")
            await self.hub.app[QUEUE].append(replace(m, received_at=datetime.now(UTC)) if now else m)

    async def mine(self, name: str, state: str | None = None) -> list[dict[str, Any]]:
        resp = await self.hub.client.get(
            "/api/v1/conversations?status=open&view=mine", headers=self.headers[name]
        )
        assert resp.status == 200, await resp.text()
        return [c for c in (await resp.json())["items"] if state is None or c["state"] == state]

    async def act(self, name: str, conv_id: str, action: str, **body: Any) -> Any:
        return await self.hub.client.post(
            f"/api/v1/conversations/{conv_id}/{action}", headers=self.headers[name], json=body
        )

    async def log(self, action: str) -> list[Any]:
        async with self.hub.app[STORE].read() as conn:
            return (
                await conn.execute(sa.select(events).where(events.c.action == action).order_by(events.c.id))
            ).all()


async def test_accept_reject_and_close_move_work_between_agents(hub: HubClient) -> None:
    floor = await Floor(hub).start(RULES.replace("reservation_timeout: 1", "reservation_timeout: 60"))
    await floor.agent("anna", capacity={"api": 1})
    await floor.agent("ben", capacity={"api": 1})
    await floor.arrive("m1", "m2", "m3")
    offered = {
        n: await eventually(functools.partial(floor.mine, n, "offered"), what=f"offer to {n}")
        for n in ("anna", "ben")
    }
    first = offered["anna"][0]["id"]
    assert (await floor.act("ben", first, "accept")).status == 409, "not ben's offer"
    resp = await floor.act("anna", first, "reject", reason="not my topic")
    assert resp.status == 200
    # the rejected conversation is not offered to anna again; the third one is
    again = await eventually(lambda: floor.mine("anna", "offered"), what="a new offer to anna")
    assert again[0]["id"] != first
    assert (await floor.act("anna", again[0]["id"], "accept")).status == 200
    assert (await floor.act("anna", again[0]["id"], "accept")).status == 200, "accepting twice is harmless"

    # ben's hands are full; his close frees the capacity and the rejected one comes to him
    ben_first = offered["ben"][0]["id"]
    assert (await floor.act("ben", ben_first, "accept")).status == 200
    # ben's (no teammate of anna's): anna may not see it, so for her it does not exist
    assert (await floor.act("anna", ben_first, "close")).status == 404
    assert (await floor.act("ben", ben_first, "close")).status == 200
    assert (await floor.act("ben", ben_first, "close")).status == 409
    assert [c["id"] for c in await eventually(lambda: floor.mine("ben", "offered"))] == [first]


async def test_lapsed_offers_go_elsewhere_and_repeated_misses_set_the_agent_away(hub: HubClient) -> None:
    floor = await Floor(hub).start()
    await floor.agent("sleepy", capacity={"api": 5})
    await floor.arrive("l1", "l2")
    lapsed = await eventually(lambda: floor.log("conversation.offer_lapsed"), what="lapses")
    assert lapsed[0].data["agent_id"] == floor.ids["sleepy"]
    away = await eventually(lambda: floor.log("agent.set_away"), what="set away")
    assert away[0].subject_id == floor.ids["sleepy"] and "2 offers in a row" in away[0].reason
    async with hub.app[STORE].read() as conn:
        assert (
            await conn.scalar(sa.select(agents.c.presence).where(agents.c.id == floor.ids["sleepy"]))
            == "away"
        )

    await floor.agent("awake", capacity={"api": 5})  # the lapsed ones reach the next agent

    async def both_offered() -> bool:
        return len(await floor.mine("awake", "offered")) == 2

    await eventually(both_offered, what="both offers to awake")


async def test_transfer_offers_the_conversation_to_the_named_agent(hub: HubClient) -> None:
    floor = await Floor(hub).start(RULES.replace("reservation_timeout: 1", "reservation_timeout: 60"))
    await floor.agent("first", capacity={"api": 2})
    await floor.arrive("t1")
    [conv] = await eventually(lambda: floor.mine("first", "offered"))
    assert (await floor.act("first", conv["id"], "accept")).status == 200
    expert = await floor.agent("expert", capacity={"api": 2})
    resp = await floor.act("first", conv["id"], "transfer", agent_id=expert, queue="sales")
    assert resp.status == 200, await resp.text()
    [moved] = await eventually(lambda: floor.mine("expert", "offered"))
    assert moved["id"] == conv["id"] and moved["queue"] == "sales"
    assert (await floor.act("expert", conv["id"], "transfer", queue="nowhere")).status == 422
    assert (await floor.act("expert", conv["id"], "transfer")).status == 422


async def test_sla_breaches_are_recorded_once_and_the_queues_show_the_wait(hub: HubClient) -> None:
    floor = await Floor(hub).start()
    await floor.agent("away_agent", available=False, capacity={"api": 5})
    await floor.arrive("s1", "s2")
    sup = floor.headers["supervisor"]

    async def queues() -> dict[str, Any]:
        resp = await hub.client.get("/api/v1/queues", headers=sup)
        return {q["queue"]: q for q in (await resp.json())["items"]}

    service = (await eventually(lambda: _waiting(queues, 2)))["service"]
    assert service["tiers"]["standard"]["waiting"] == 2 and service["oldest_wait_s"] >= 0
    assert (await queues())["sales"]["waiting"] == 0

    breaches = await eventually(lambda: _breaches(hub, sup, 2), what="two breaches")
    assert {b["kind"] for b in breaches} == {"first_response"} and all(
        b["queue"] == "service" for b in breaches
    )
    await asyncio.sleep(2.5)  # another breach check passes: still recorded once each
    assert len(await floor.log("sla.breached")) == 2
    resp = await hub.client.get(f"/api/v1/conversations/{breaches[0]['conversation_id']}", headers=sup)
    detail = await resp.json()
    assert detail["sla"]["breached"] == "first_response" and detail["sla"]["first_response_due"]
    assert detail["messages"][0]["text"] == "Hallo"
    assert (await hub.client.get("/api/v1/sla/breaches", headers=floor.headers["away_agent"])).status == 403


async def _waiting(queues: Callable[[], Awaitable[dict[str, Any]]], n: int) -> dict[str, Any] | None:
    found = await queues()
    return found if found.get("service", {}).get("waiting") == n else None


async def _breaches(hub: HubClient, headers: dict[str, str], n: int) -> list[dict[str, Any]] | None:
    resp = await hub.client.get("/api/v1/sla/breaches", headers=headers)
    items = (await resp.json())["items"]
    return items if len(items) >= n else None
