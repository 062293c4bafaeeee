"""``GET /ws/agent``: the console's live feed, resumable.

Each message is ``{"seq", "topic", "data"}``; ``seq`` only grows. A console that
reconnects with ``?last_seq=N`` first gets what it missed from the bus's replay buffer,
then live events; if the gap is older than the buffer it gets ``{"topic": "resync"}``
and reloads from the API. An agent gets the events about them and their conversations
(offers, assignments, messages, notes, delivery reports, SLA warnings and breaches),
colleagues' presence, who is viewing or typing where, new conversations, and the
screen pops of calls: ringing for the queues they serve, answered when the PBX names
them (``answeringNumber`` = their phone, or ``user[]`` = their name or email).
Supervisors and admins get everything.

The console sends ``{"type": "viewing", "conversation_id", "on"}`` and ``{"type":
"typing", "conversation_id"}``; the hub passes them on as ``conversation.viewing`` and
``conversation.typing`` (only for conversations the agent may see, at most
``CLIENT_RATE`` messages per 5 s). A viewer then follows that conversation's events.

The ``Origin`` must be the hub's own; heartbeats every 25 s; on shutdown sockets close
with GOING_AWAY; when the session ends (logout, or the agent is disabled) with 4401.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
import sqlalchemy as sa
from aiohttp import WSCloseCode, WSMsgType, web
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth.sessions import COOKIE, Principal, session_digest
from hub.dispatch.visibility import scope_for
from hub.errors import Forbidden
from hub.keys import BUS, ROUTING, SETTINGS, SOCKETS, STORE
from hub.model import Role
from hub.realtime.budget import FrameBudget
from hub.realtime.bus import Event
from hub.request_body import int_query
from hub.routespec import RouteSpec
from hub.store.tables import agents, conversations
from hub.web.middleware import AGENT

log = logging.getLogger("contacthub.ws")
HEARTBEAT_S = 25
FOR_EVERYONE = (
    "agent.presence",
    "conversation.viewing",
    "conversation.typing",
    "conversation.opened",
)
CLIENT_RATE = 20  # messages from the console per 5 s; more are dropped
SESSION_ENDED = 4401


@dataclass(frozen=True, slots=True)
class Reach:
    """Which calls pop up on an agent's screen: those of the queues they serve, and those
    the PBX says they answered (by their phone number, name or email)."""

    queues: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()  # phone, name and email, as a PBX may name an agent

    def pops(self, event: Event) -> bool:
        data = event.data
        named = {data.get("answering_number"), *(u.strip() for u in (data.get("users") or "").split(","))}
        named.discard(None)
        named.discard("")
        if event.topic == "call.answered" and named:
            return bool(named & self.names)
        return bool(self.queues & set(data.get("queues") or ()))


class AgentFeed:
    """Which events one agent sees; it follows the conversations offered or assigned to them."""

    def __init__(self, who: Principal, conversations: set[str], session: str, reach: Reach = Reach()) -> None:
        self.who = who
        self.conversations = conversations
        self.session = session  # the digest of the session the socket was opened with
        self.reach = reach

    def ends(self, event: Event) -> bool:
        """Whether a ``session.ended`` event ends this socket's session."""
        data = event.data
        return data.get("agent_id") == self.who.agent_id and data.get("session") in (None, self.session)

    def wants(self, event: Event) -> bool:
        if event.topic == "session.ended":  # for the hub's sockets, not for consoles
            return False
        if self.who.role != Role.AGENT or event.topic in FOR_EVERYONE:
            return True
        if event.topic in ("call.ringing", "call.answered"):
            return self.reach.pops(event)
        data = event.data
        mine = self.who.agent_id in (data.get("agent_id"), data.get("assignee_id"))
        conv = data.get("conversation_id")
        if mine and conv and event.topic in ("conversation.offered", "conversation.assigned"):
            self.conversations.add(conv)
        return mine or (conv is not None and conv in self.conversations)


def hub_origins(request: web.Request) -> set[str]:
    """The origins of the hub's own pages: as this request reached it, and its public URL."""
    public = request.app[SETTINGS].server.public_url
    ours = {f"{request.scheme}://{request.host}"}
    if public:
        parts = urlsplit(public)
        ours.add(f"{parts.scheme}://{parts.netloc}")
    return ours


def allowed_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser: the session cookie alone decides
    return origin in hub_origins(request)


async def agent_socket(request: web.Request) -> web.StreamResponse:
    if not allowed_origin(request):
        raise Forbidden("this page's origin may not open the agent socket")
    # read before the upgrade: a bad value is a plain 400, not an error inside the socket
    last = int_query(request, "last_seq", 0, low=0)
    who = request[AGENT]
    bus = request.app[BUS]
    async with request.app[STORE].read() as conn:
        held = await conn.execute(
            sa.select(conversations.c.id).where(
                conversations.c.status == "open",
                sa.or_(
                    conversations.c.assignee_id == who.agent_id, conversations.c.offered_to == who.agent_id
                ),
            )
        )
        feed = AgentFeed(
            who,
            {r.id for r in held},
            session_digest(request.cookies.get(COOKIE, "")),
            await _reach(conn, request, who),
        )
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, compress=False)
    subscription = bus.subscribe("*")  # before the replay, so nothing falls between them
    try:
        await ws.prepare(request)
        request.app[SOCKETS].add(ws)
        # a console that saw more than the bus knows (the hub or Redis restarted) resyncs too
        missed = None if last > bus.last_seq else bus.since(last) if last else []
        if missed is None:
            await _send(ws, {"seq": bus.last_seq, "topic": "resync", "data": {}})
        else:
            for event in missed:
                if feed.wants(event):
                    await _send(ws, _message(event))
            last = max([last, *(e.seq for e in missed)])
        reader = asyncio.create_task(_read(ws, request, feed))
        try:
            while not ws.closed:
                getter = asyncio.ensure_future(subscription.queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                event = getter.result()
                if event.topic == "session.ended" and feed.ends(event):
                    await ws.close(code=SESSION_ENDED, message=b"signed out")
                    break
                if event.seq > last and feed.wants(event):
                    await _send(ws, _message(event))
                last = max(last, event.seq)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    except ConnectionResetError:  # the console went away mid-send: nothing to answer
        pass
    finally:
        bus.unsubscribe(subscription)
        request.app[SOCKETS].discard(ws)
    return ws


def _message(event: Event) -> dict[str, Any]:
    return {"seq": event.seq, "topic": event.topic, "data": event.data}


async def _send(ws: web.WebSocketResponse, message: dict[str, Any]) -> None:
    await ws.send_str(orjson.dumps(message).decode())


async def _read(ws: web.WebSocketResponse, request: web.Request, feed: AgentFeed) -> None:
    """Read the console's messages until it goes: viewing and typing, passed on."""
    allowed: dict[str, bool] = {}
    budget = FrameBudget(CLIENT_RATE, 5, time.monotonic())
    async for msg in ws:
        if msg.type != WSMsgType.TEXT or not budget.take(time.monotonic()):
            continue
        try:
            data = orjson.loads(msg.data)
            kind, conv_id = data["type"], str(data["conversation_id"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
        if kind not in ("viewing", "typing") or len(conv_id) > 64:
            continue
        if conv_id not in allowed:
            allowed[conv_id] = await _may_see(request, feed.who, conv_id)
        if not allowed[conv_id]:
            continue
        feed.conversations.add(conv_id)
        who = feed.who
        about = {"conversation_id": conv_id, "agent_id": who.agent_id, "name": who.name}
        if kind == "viewing":
            request.app[BUS].publish("conversation.viewing", {**about, "on": bool(data.get("on", True))})
        else:
            request.app[BUS].publish("conversation.typing", about)


async def _reach(conn: AsyncConnection, request: web.Request, who: Principal) -> Reach:
    phone = await conn.scalar(sa.select(agents.c.phone).where(agents.c.id == who.agent_id))
    scope = await scope_for(conn, who.agent_id, request.app[ROUTING].rules)
    return Reach(scope.queues, frozenset(n for n in (phone, who.name, who.email) if n))


async def _may_see(request: web.Request, who: Principal, conv_id: str) -> bool:
    async with request.app[STORE].read() as conn:
        row = (
            await conn.execute(
                sa.select(
                    conversations.c.assignee_id, conversations.c.offered_to, conversations.c.queue
                ).where(conversations.c.id == conv_id)
            )
        ).one_or_none()
        if row is None:
            return False
        if who.role != Role.AGENT:
            return True
        return (await scope_for(conn, who.agent_id, request.app[ROUTING].rules)).allows(row)


async def close_sockets(app: web.Application) -> None:
    """On shutdown: every socket closes with GOING_AWAY, so consoles reconnect elsewhere."""
    sockets: weakref.WeakSet[web.WebSocketResponse] = app[SOCKETS]
    for ws in tuple(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")


def socket_routes() -> list[RouteSpec]:
    return [
        RouteSpec(
            "GET",
            "/ws/agent",
            agent_socket,
            "The console's live events (WebSocket); ?last_seq=N resumes after a reconnect",
            "agent",
            tag="realtime",
            responses={101: "Switching to WebSocket", 401: "Not signed in", 403: "Foreign Origin"},
        )
    ]
