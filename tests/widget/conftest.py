"""A visitor's side of /ws/widget for tests, and a site to connect to."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
import sqlalchemy as sa

from hub.auth.sessions import hash_password
from hub.keys import STORE
from hub.store.tables import agents
from tests.conftest import HubClient, sign_in

ORIGIN = "https://shop.example"


class Visitor:
    """One browser: a socket, what it was sent, and its token."""

    def __init__(self, hub: HubClient, site: str, token: str | None = None) -> None:
        self.hub = hub
        self.site = site
        self.token = token
        self.ws: Any = None
        self.frames: list[dict[str, Any]] = []
        self.welcome: dict[str, Any] = {}

    async def connect(self, last_seq: int = 0, origin: str = ORIGIN, **hello: Any) -> dict[str, Any]:
        self.ws = await self.hub.client.ws_connect(f"/ws/widget?site={self.site}", headers={"Origin": origin})
        await self.send(type="hello", site=self.site, visitor=self.token, last_seq=last_seq, **hello)
        self.welcome = await self.next("welcome")
        if self.welcome["visitor"] is not None:
            self.token = self.welcome["visitor"]
        return self.welcome

    async def send(self, **frame: Any) -> None:
        await self.ws.send_json(frame)

    async def next(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        """The next frame of ``kind`` (others are kept in ``frames``)."""
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.ws.receive()
                assert msg.type == aiohttp.WSMsgType.TEXT, msg
                frame = msg.json()
                self.frames.append(frame)
                if frame["type"] == "visitor":
                    self.token = frame["token"]
                if frame["type"] == kind:
                    return frame

    async def say(self, text: str, client_id: str | None = None, **extra: Any) -> dict[str, Any]:
        """Send a message; return its ack."""
        client_id = client_id or uuid.uuid4().hex
        await self.send(type="message", id=client_id, text=text, **extra)
        while True:
            frame = await self.next("ack")
            if frame["id"] == client_id:
                return frame

    async def close(self) -> None:
        await self.ws.close()

    def messages(self) -> list[dict[str, Any]]:
        return [f for f in self.welcome.get("events", []) + self.frames if f["type"] == "message"]


async def make_site(hub: HubClient, admin: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"name": "Shop", "allowed_origins": [ORIGIN], **fields}
    resp = await hub.client.post("/api/v1/widget/sites", json=body, headers=admin)
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def chat_agent(hub: HubClient, name: str = "Anna", presence: str = "available") -> dict[str, str]:
    """An agent who takes chats, signed in; returns their headers."""
    email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@test.example"
    async with hub.app[STORE].write() as conn:
        await conn.execute(
            sa.insert(agents).values(
                id=str(uuid.uuid4()),
                email=email,
                name=name,
                role="agent",
                password_hash=hash_password("pw"),
                presence=presence,
                languages=["de", "en"],
                departments=["service"],
                capacity={"chat": 3},
                active=True,
                created_at=datetime.now(UTC),
            )
        )
    return await sign_in(hub, email, "pw")
