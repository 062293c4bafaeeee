"""A new role ends the agent's sessions and closes their sockets (issue 22, defect 8): a
socket keeps the role it was opened with, so a demoted supervisor's open console went on
receiving every conversation's events. Both backends."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from hub.keys import BUS
from tests.conftest import HubClient, sign_in, sign_in_all
from tests.test_agent_socket import conversation


async def _me(hub: HubClient, headers: dict[str, str]) -> Any:
    return await hub.client.get("/api/v1/me", headers=headers)


async def _next_event(ws: Any, topic: str) -> dict[str, Any]:
    while True:
        msg = await asyncio.wait_for(ws.receive(), 10)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        if msg.json()["topic"] == topic:
            return dict(msg.json())


async def test_demoting_a_supervisor_closes_their_socket_and_ends_their_sessions(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    admin, sup = roles["admin"], roles["supervisor"]
    sup_id = (await (await _me(hub, sup)).json())["id"]
    ws = await hub.client.ws_connect("/ws/agent", headers=sup)
    bus = hub.app[BUS]
    # a supervisor's socket carries everyone's conversations
    bus.publish("conversation.offered", {"conversation_id": "c-foreign", "agent_id": "someone-else"})
    assert (await _next_event(ws, "conversation.offered"))["data"]["conversation_id"] == "c-foreign"

    # the same role again, or another field: nothing ends
    for change in ({"role": "supervisor"}, {"name": "Sue"}):
        resp = await hub.client.patch(f"/api/v1/agents/{sup_id}", json=change, headers=admin)
        assert resp.status == 200, await resp.text()
    assert (await _me(hub, sup)).status == 200

    resp = await hub.client.patch(f"/api/v1/agents/{sup_id}", json={"role": "agent"}, headers=admin)
    assert resp.status == 200 and (await resp.json())["role"] == "agent"
    closed = await ws.receive(timeout=10)
    assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 4401
    assert (await _me(hub, sup)).status == 401, "the old session ended"

    # signed in again, as an agent: someone else's conversation is not theirs to see
    again = await sign_in(hub, "supervisor@test.example", "pw-supervisor")
    assert (await (await _me(hub, again)).json())["role"] == "agent"
    await conversation(hub, "c-foreign-2")
    await conversation(hub, "c-theirs", offered_to=sup_id)  # the socket asks the store who may see it
    ws = await hub.client.ws_connect("/ws/agent", headers=again)
    bus.publish("conversation.offered", {"conversation_id": "c-foreign-2", "agent_id": "someone-else"})
    bus.publish("conversation.offered", {"conversation_id": "c-theirs", "agent_id": sup_id})
    assert (await _next_event(ws, "conversation.offered"))["data"]["conversation_id"] == "c-theirs"
    await ws.close()


async def test_promoting_an_agent_ends_their_sessions_too(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    agent_id = (await (await _me(hub, roles["agent"])).json())["id"]
    ws = await hub.client.ws_connect("/ws/agent", headers=roles["agent"])
    resp = await hub.client.patch(
        f"/api/v1/agents/{agent_id}", json={"role": "admin"}, headers=roles["admin"]
    )
    assert resp.status == 200
    closed = await ws.receive(timeout=10)
    assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 4401
    assert (await _me(hub, roles["agent"])).status == 401
