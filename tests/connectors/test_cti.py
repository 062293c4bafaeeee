"""Generic CTI on both backends: a PBX script's newCall -> answer -> hangup, a missed call,
a blocked caller, a wrong token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hub.keys import BUS, ROUTER, STORE
from hub.store.tables import call_holds, conversations, messages
from tests.conftest import HubClient, drop_backend, make_settings, running_hub
from tests.routing.test_router_service import Floor, waiting_behind_call
from tests.waits import eventually

TOKEN = "cti-secret-token-123"
CALLER = "+4989123456"


@pytest.fixture
async def cti(backend: str, tmp_path: Path) -> AsyncIterator[HubClient]:
    settings = make_settings(
        tmp_path,
        backend,
        **{
            "connectors.cti.enabled": True,
            "connectors.cti.token": TOKEN,
            "connectors.cti.blocked_numbers": ["0900 666"],
        },
    )
    async with running_hub(settings) as hub:
        yield hub
    await drop_backend(settings)


async def event(hub: HubClient, token: str = TOKEN, **fields: str) -> tuple[int, dict]:
    resp = await hub.client.post(f"/webhooks/cti/{token}", data=fields)
    return resp.status, await resp.json()


async def rows(hub: HubClient, count: int) -> list:
    for _ in range(200):
        async with hub.app[STORE].read() as conn:
            found = (
                await conn.execute(sa.select(messages).order_by(messages.c.received_at, messages.c.id))
            ).all()
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    return found


async def conversation(hub: HubClient, conv_id: str):
    async with hub.app[STORE].read() as conn:
        return (await conn.execute(sa.select(conversations).where(conversations.c.id == conv_id))).one()


async def test_an_answered_call_is_a_timeline_entry_and_pops_the_screen(cti: HubClient) -> None:
    popped = cti.app[BUS].subscribe("call.*")
    call = {"from": CALLER, "to": "+493012345", "direction": "in", "callId": "c-1"}
    assert await event(cti, event="newCall", **call) == (200, {})
    assert (await event(cti, event="answer", answeringNumber="+4930123450", **call))[0] == 200
    assert (await event(cti, event="hangup", cause="normalClearing", **call))[0] == 200
    found = await rows(cti, 3)
    assert [(m.kind, m.text) for m in found] == [
        ("call_event", "Incoming call"),
        ("call_event", "Call answered by +4930123450"),
        ("call_event", "Call ended (normalClearing)"),
    ]
    assert len({m.conversation_id for m in found}) == 1 and found[0].sender_value == CALLER
    conv = await conversation(cti, found[0].conversation_id)
    await asyncio.sleep(0.5)  # a window, not a wait: an answered call must not be routed meanwhile
    assert (await conversation(cti, conv.id)).route is None, "an answered call is not routed work"
    # two ingest workers may store the answer before the ring: compare as sets
    pops = [await asyncio.wait_for(popped.queue.get(), 5) for _ in range(2)]
    assert {p.topic for p in pops} == {"call.ringing", "call.answered"}
    assert {p.data["customer_id"] for p in pops} == {found[0].customer_id}
    assert any(p.data["known_caller"] is False for p in pops), (
        "the first call of a new number: unknown caller"
    )
    answered = next(p for p in pops if p.topic == "call.answered")
    assert answered.data["answering_number"] == "+4930123450"


async def test_an_unanswered_call_becomes_a_routed_missed_call(cti: HubClient) -> None:
    call = {"from": CALLER, "to": "+493012345", "direction": "in", "callId": "c-2"}
    await event(cti, event="newCall", **call)
    await event(cti, event="hangup", cause="noAnswer", **call)
    found = await rows(cti, 2)
    assert found[-1].kind == "missed_call" and found[-1].text == "Missed call"

    async def routed() -> Any:
        conv = await conversation(cti, found[-1].conversation_id)
        return conv if conv.queue is not None else None

    conv = await eventually(routed, what="the missed call routed")
    assert conv.queue == "service" and conv.first_response_due is not None, "routed like any message"


async def test_blocked_callers_are_rejected_and_a_wrong_token_gets_403(cti: HubClient) -> None:
    assert await event(
        cti, event="newCall", direction="in", callId="c-3", **{"from": "0900666", "to": "1"}
    ) == (
        200,
        {"action": "reject", "reason": "busy"},
    )
    status, problem = await event(
        cti, token="guess", event="newCall", direction="in", callId="c-4", **{"from": CALLER}
    )
    assert status == 403
    status, problem = await event(cti, event="ring", direction="in", callId="c-5", **{"from": CALLER})
    assert status == 422 and problem["field"] == "event"
    await asyncio.sleep(0.3)  # a window, not a wait: nothing may be stored meanwhile
    assert await rows(cti, 0) == []


POP_RULES = """
queues:
  service: {}
  sales: {}
rules:
  - name: everyone
    targets: [{queue: service, agents: '"service" in departments'}]
"""


async def test_screen_pops_reach_the_queue_and_the_agent_the_pbx_names(cti: HubClient) -> None:
    import aiohttp
    import orjson

    floor = await Floor(cti).start(POP_RULES)
    await floor.agent("ana", available=False, departments=["service"], phone="+4930123450")
    await floor.agent("sam", available=False, departments=["sales"])
    ana = await cti.client.ws_connect("/ws/agent", headers=floor.headers["ana"])
    # no wait: each socket is subscribed once its handshake is done (hub/web/agent_socket.py)
    sam = await cti.client.ws_connect("/ws/agent", headers=floor.headers["sam"])

    async def pops(ws: aiohttp.ClientWebSocketResponse, want: int) -> list[tuple[str, str | None]]:
        """The call events that arrive: ``want`` of them, then none more for a moment."""
        found: list[tuple[str, str | None]] = []
        try:
            async with asyncio.timeout(5 if want else 1) as deadline:
                while True:
                    msg = orjson.loads((await ws.receive()).data)
                    if msg["topic"].startswith("call."):
                        found.append((msg["topic"], msg["data"]["call_id"]))
                    if len(found) >= want:  # anything more within 0.5 s is one too many
                        deadline.reschedule(
                            min(deadline.when() or 0, asyncio.get_running_loop().time() + 0.5)
                        )
        except TimeoutError:
            return found

    call = {"from": "+4917099887766", "to": "+493012345", "direction": "in"}
    await event(cti, event="newCall", callId="p-1", **call)
    assert await pops(ana, 1) == [("call.ringing", "p-1")], "ana serves the service queue"
    assert await pops(sam, 0) == [], "sam serves no queue a call from this caller waits on"
    # the PBX names who answered: by number (in any format) or by user name
    await event(cti, event="answer", callId="p-1", answeringNumber="030 123450", **call)
    await event(cti, event="newCall", callId="p-2", **call)
    await event(cti, event="answer", callId="p-2", user="sam", **call)
    assert sorted(await pops(ana, 2)) == [("call.answered", "p-1"), ("call.ringing", "p-2")]
    assert await pops(sam, 1) == [("call.answered", "p-2")]
    for ws in (ana, sam):
        await ws.close()


async def test_a_call_the_pbx_says_an_agent_took_holds_their_voice_line_until_hangup(
    cti: HubClient,
) -> None:
    floor = await Floor(cti).start(POP_RULES)
    ana = await floor.agent("ana", departments=["service"], capacity={"voice": 1}, phone="+4930123450")
    call = {"from": CALLER, "to": "+493012345", "direction": "in", "callId": "h-1"}
    await event(cti, event="newCall", **call)
    await event(cti, event="answer", answeringNumber="030 123450", **call)

    async def held() -> list[tuple[str, str]]:
        async with cti.app[STORE].read() as conn:
            return [(r.call_id, r.agent_id) for r in await conn.execute(sa.select(call_holds))]

    assert await eventually(held, what="the answered call's hold") == [("cti:h-1", ana)]

    # on the phone, ana is offered no voice work: another caller's missed call waits
    missed = {"from": "+4917099887766", "to": "+493012345", "direction": "in", "callId": "h-2"}
    await event(cti, event="newCall", **missed)
    await event(cti, event="hangup", cause="noAnswer", **missed)
    router = cti.app[ROUTER]

    missed_call = await waiting_behind_call(cti, "cti:h-1", "missed_call")
    assert router.view is not None and router.view.floor.agents[ana].load == {"voice": 1}
    await asyncio.sleep(0.3)  # a router step or two: still nobody free
    assert await floor.mine("ana") == []

    # the hangup frees the line, and the router offers the missed call
    await event(cti, event="hangup", cause="normalClearing", **call)
    offers = await eventually(lambda: floor.mine("ana", "offered"), what="the missed call offered")
    assert [o["id"] for o in offers] == [missed_call]
    assert await held() == []

    # a hangup stored before its answer (two ingest workers) leaves no hold behind
    late = {**call, "callId": "h-3"}
    await event(cti, event="hangup", cause="normalClearing", **late)
    await rows(cti, 6)
    await event(cti, event="answer", user="ana", **late)
    await rows(cti, 7)
    await asyncio.sleep(0.3)  # a window, not a wait: nobody may be held meanwhile
    assert await held() == []
