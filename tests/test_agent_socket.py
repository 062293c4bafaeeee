"""The agent socket on both backends: what an agent sees, resume after a dropped socket
(every event exactly once), the Origin check, GOING_AWAY, and fan-out across processes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from hub.keys import BUS, STORE
from hub.realtime.bus import RESYNC, InProcessBus
from hub.settings import Settings
from hub.store.tables import conversations, customers
from hub.web.agent_socket import close_sockets
from tests.conftest import HubClient, require_services, running_hub, sign_in_all


async def me(hub: HubClient, headers: dict[str, str]) -> str:
    return (await (await hub.client.get("/api/v1/me", headers=headers)).json())["id"]


async def receive(ws: Any, n: int, timeout: float = 10) -> list[dict[str, Any]]:
    got = []
    for _ in range(n):
        msg = await asyncio.wait_for(ws.receive(), timeout)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        got.append(msg.json())
    return got


async def conversation(hub: HubClient, conv_id: str, **placement: str) -> None:
    """A (closed, so the router leaves it alone) conversation with ``placement``: the
    socket asks the visibility rule about what the store holds."""
    now = datetime.now(UTC)
    async with hub.app[STORE].write() as conn:
        customer = str(uuid.uuid4())
        await conn.execute(
            sa.insert(customers).values(id=customer, attributes={}, created_at=now, updated_at=now)
        )
        await conn.execute(
            sa.insert(conversations).values(
                id=conv_id,
                customer_id=customer,
                channel="api",
                thread_key=conv_id,
                status="closed",
                needs_routing=False,
                message_count=1,
                opened_at=now,
                last_message_at=now,
                **placement,
            )
        )


async def test_an_agent_sees_their_events_and_resumes_without_loss_or_repeats(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    agent = await me(hub, roles["agent"])
    await conversation(hub, "c-mine", offered_to=agent)
    await conversation(hub, "c-other", offered_to="someone-else")
    bus = hub.app[BUS]
    # the socket subscribes before its handshake (hub/web/agent_socket.py): nothing to wait for
    ws = await hub.client.ws_connect("/ws/agent", headers=roles["agent"])
    bus.publish("conversation.offered", {"conversation_id": "c-mine", "agent_id": agent})
    bus.publish("conversation.offered", {"conversation_id": "c-other", "agent_id": "someone-else"})
    bus.publish("message.stored", {"conversation_id": "c-mine", "message_id": "m1"})
    bus.publish("message.stored", {"conversation_id": "c-other", "message_id": "m2"})
    bus.publish("call.ringing", {"call_id": "k0", "customer_id": "x", "queues": ["sales"]})  # not theirs
    bus.publish(
        "call.ringing", {"call_id": "k1", "customer_id": "x", "known_caller": True, "queues": ["service"]}
    )
    first = await receive(ws, 3)
    assert [(m["topic"], m["data"].get("conversation_id")) for m in first] == [
        ("conversation.offered", "c-mine"),
        ("message.stored", "c-mine"),  # followed because it was offered to this agent
        ("call.ringing", None),  # k1: the default rules' queue, which every agent serves
    ]
    assert first[2]["data"]["call_id"] == "k1"
    assert first[0]["seq"] < first[1]["seq"] < first[2]["seq"]

    # a burst; the socket drops after 20 of 50 and the console reconnects with its last seq
    for n in range(50):
        bus.publish("message.delivery", {"assignee_id": agent, "message_id": f"burst-{n}"})
    seen = await receive(ws, 20)
    await ws.close()
    again = await hub.client.ws_connect(f"/ws/agent?last_seq={seen[-1]['seq']}", headers=roles["agent"])
    rest = await receive(again, 30)
    ids = [m["data"]["message_id"] for m in seen + rest]
    assert ids == [f"burst-{n}" for n in range(50)], "every event once, in order"
    with pytest.raises(TimeoutError):
        await receive(again, 1, timeout=0.5)
    await again.close()


async def test_a_supervisor_sees_everything_and_a_foreign_origin_is_refused(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    ws = await hub.client.ws_connect("/ws/agent", headers=roles["supervisor"])
    hub.app[BUS].publish("sla.breached", {"conversation_id": "c9", "kind": "first_response"})
    [event] = await receive(ws, 1)
    assert event["topic"] == "sla.breached"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await hub.client.ws_connect("/ws/agent", headers={**roles["agent"], "Origin": "https://evil.example"})
    assert refused.value.status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as anonymous:
        await hub.client.ws_connect("/ws/agent")
    assert anonymous.value.status == 401

    await close_sockets(hub.app)
    closed = await asyncio.wait_for(ws.receive(), 5)
    assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == aiohttp.WSCloseCode.GOING_AWAY


def test_a_gap_older_than_the_replay_buffer_asks_for_a_resync() -> None:
    bus = InProcessBus(replay=5)
    for n in range(12):
        bus.publish("t", {"n": n})
    assert bus.since(12) == []
    assert [e.data["n"] for e in bus.since(8) or []] == [8, 9, 10, 11]
    assert bus.since(7) is not None and bus.since(6) is None


async def test_events_reach_sockets_on_every_process(settings: Settings, backend: str) -> None:
    if backend != "scaleout":
        pytest.skip("one process only on the embedded backend")
    require_services()
    async with running_hub(settings) as first, running_hub(settings) as second:
        roles = await sign_in_all(second)
        # no wait: the socket subscribes before its handshake ends, and each hub listens
        # to Redis before it serves (hub/web/agent_socket.py, hub/realtime/redis_bus.py)
        ws = await second.client.ws_connect("/ws/agent", headers=roles["supervisor"])
        first.app[BUS].publish("sla.breached", {"conversation_id": "c-far", "kind": "first_response"})
        [event] = await receive(ws, 1)
        assert event["data"]["conversation_id"] == "c-far"
        await ws.close()


async def test_a_bus_that_lost_events_sends_consoles_a_resync(hub: HubClient) -> None:
    """Regression: events the Redis bus dropped while Redis was away never reached the
    open consoles, which went on showing the state before (hub.realtime.bus.RESYNC)."""
    roles = await sign_in_all(hub)
    ws = await hub.client.ws_connect("/ws/agent", headers=roles["supervisor"])
    hub.app[BUS].publish("sla.breached", {"conversation_id": "c1", "kind": "first_response"})
    [seen] = await receive(ws, 1)
    hub.app[BUS].resync()
    [resync] = await receive(ws, 1)
    assert resync == {"seq": seen["seq"], "topic": "resync", "data": {}}
    assert hub.app[BUS].since(seen["seq"]) == [], "a resync is not replayed to a later console"
    await ws.close()


def test_a_resync_reaches_every_subscriber_and_stays_out_of_the_replay() -> None:
    bus = InProcessBus()
    everything, some = bus.subscribe("*"), bus.subscribe("sla.*")
    bus.publish("sla.breached", {})
    bus.resync()
    assert [e.topic for e in (everything.queue.get_nowait(), everything.queue.get_nowait())] == [
        "sla.breached",
        RESYNC,
    ]
    assert [some.queue.get_nowait().topic, some.queue.get_nowait().topic] == ["sla.breached", RESYNC]
    assert [e.topic for e in bus.since(0) or []] == ["sla.breached"]
