"""``session.ended`` on the bus, so every process can close the sockets of ended sessions."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
import sqlalchemy as sa

from hub.auth.sessions import SESSION_ENDED, session_digest
from hub.keys import BUS, STORE
from hub.realtime.bus import Event, Subscription
from hub.store.tables import sessions
from tests.conftest import HubClient, sign_in, sign_in_all


@pytest.fixture
async def roles(hub: HubClient) -> dict[str, dict[str, str]]:
    return await sign_in_all(hub)


async def next_event(sub: Subscription) -> Event:
    return await asyncio.wait_for(sub.queue.get(), 10)


async def agent_id(hub: HubClient, headers: dict[str, str]) -> str:
    return (await (await hub.client.get("/api/v1/me", headers=headers)).json())["id"]


def test_the_digest_is_what_the_sessions_table_stores() -> None:
    assert session_digest("abc") == hashlib.sha256(b"abc").hexdigest()


async def test_logout_publishes_the_ended_session(hub: HubClient, roles) -> None:
    agent = roles["agent"]
    me = await agent_id(hub, agent)
    token = agent["Cookie"].partition("=")[2]
    async with hub.app[STORE].read() as conn:
        stored = await conn.scalar(
            sa.select(sessions.c.token_hash).where(sessions.c.token_hash == session_digest(token))
        )
    assert stored is not None
    sub = hub.app[BUS].subscribe(SESSION_ENDED)
    try:
        assert (await hub.client.post("/api/v1/auth/logout", headers=agent)).status == 204
        event = await next_event(sub)
    finally:
        hub.app[BUS].unsubscribe(sub)
    assert event.topic == "session.ended"
    assert event.data == {"agent_id": me, "session": stored}


async def test_an_admin_ending_an_agents_sessions_publishes_it(hub: HubClient, roles) -> None:
    admin = roles["admin"]
    me = await agent_id(hub, roles["agent"])
    sub = hub.app[BUS].subscribe(SESSION_ENDED)
    try:
        resp = await hub.client.patch(f"/api/v1/agents/{me}", json={"name": "Renamed"}, headers=admin)
        assert resp.status == 200  # nothing ends: no event
        resp = await hub.client.patch(
            f"/api/v1/agents/{me}", json={"password": "a-new-long-password"}, headers=admin
        )
        assert resp.status == 200
        assert (await next_event(sub)).data == {"agent_id": me}
        assert sub.queue.empty()

        await sign_in(hub, "agent@test.example", "a-new-long-password")
        resp = await hub.client.patch(f"/api/v1/agents/{me}", json={"active": False}, headers=admin)
        assert resp.status == 200
        assert (await next_event(sub)).data == {"agent_id": me}

        resp = await hub.client.delete(f"/api/v1/agents/{me}/totp", headers=admin)
        assert resp.status == 200
        assert (await next_event(sub)).data == {"agent_id": me}
    finally:
        hub.app[BUS].unsubscribe(sub)
