"""What passes between a visitor and the agents besides messages: typing both ways, an
agent joining and leaving, and the agent having read the chat."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.conftest import HubClient, sign_in_all
from tests.widget.conftest import Visitor, chat_agent, make_site
from tests.widget.test_widget_socket import conversation_of


async def agent_event(ws: Any, topic: str, timeout: float = 10) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            event = msg.json()
            if event["topic"] == topic:
                return dict(event["data"])


async def test_typing_joining_reading_and_leaving(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    site = await make_site(hub, roles["admin"])
    anna = await chat_agent(hub, presence="offline")
    await hub.client.put("/api/v1/me/presence", json={"presence": "available"}, headers=anna)
    visitor = Visitor(hub, site["key"])
    await visitor.connect()
    await visitor.send(type="start", name="Lena")
    await visitor.next("started")
    await visitor.say("Hallo")
    conv = await conversation_of(hub, visitor)
    console = await hub.client.ws_connect("/ws/agent", headers=roles["supervisor"])  # subscribed already

    await visitor.send(type="typing", on=True)
    typing = await agent_event(console, "conversation.typing")
    assert (typing["conversation_id"], typing["visitor"], typing["name"]) == (conv.id, True, "Lena")

    await console.send_json({"type": "typing", "conversation_id": conv.id})
    assert (await visitor.next("typing"))["name"] == "Supervisor"
    await console.send_json({"type": "viewing", "conversation_id": conv.id, "on": True})
    read = await visitor.next("read")
    assert read["seq"] == visitor.messages()[-1]["seq"], "the agent has seen up to the last message"

    async with asyncio.timeout(20):  # the router offers it to the one agent taking chats
        while True:
            if (await conversation_of(hub, visitor)).offered_to is not None:
                break
            await asyncio.sleep(0.05)
    accepted = await hub.client.post(f"/api/v1/conversations/{conv.id}/accept", headers=anna)
    assert accepted.status == 200, await accepted.text()
    assert (await visitor.next("agent_joined"))["name"] == "Anna"
    closed = await hub.client.post(f"/api/v1/conversations/{conv.id}/close", headers=anna)
    assert closed.status == 200, await closed.text()
    assert (await visitor.next("agent_left"))["name"] == "Anna"
    await console.close()
    await visitor.close()
