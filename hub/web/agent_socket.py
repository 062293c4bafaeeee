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

Every event about a conversation reaches an agent only while the visibility rule
(``hub.auth.visibility``) lets them see that conversation: one they followed and
that was transferred away, a note or @mention on one they may not open, someone typing
or viewing elsewhere, all stay out; of a new conversation (``NOTICES``) they hear only
that one arrived, without its ids. The rule's verdict per conversation is kept for
``VERDICT_TTL_S`` and asked again at once when an event says the conversation moved.

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from hub.auth.sessions import COOKIE, Principal, session_digest
from hub.auth.visibility import Scope, scope_for, scope_of
from hub.errors import Forbidden
from hub.keys import BUS, ROUTING, SETTINGS, SOCKETS, STORE
from hub.model import Role
from hub.realtime.budget import FrameBudget
from hub.realtime.bus import RESYNC, Event
from hub.request_body import int_query
from hub.routespec import RouteSpec
from hub.store.engine import Connection
from hub.store.repos import agents as agent_repo
from hub.store.repos import conversations as conversation_repo
from hub.store.repos.conversations import Placement
from hub.transient import is_transient
from hub.web.middleware import AGENT

log = logging.getLogger("contacthub.ws")
HEARTBEAT_S = 25
# topics every agent hears (about a conversation: if the visibility rule lets them see it)
FOR_EVERYONE = (
    "agent.presence",
    "conversation.viewing",
    "conversation.typing",
    "conversation.opened",
)
# what an agent who may not see the conversation still hears, without its ids: that a
# new one arrived (it has no queue yet, so no agent may see it), so the inbox refreshes
NOTICES = ("conversation.opened",)
# topics that say a conversation changed hands: the rule's verdict on it is asked again
MOVES = (
    "conversation.offered",
    "conversation.assigned",
    "conversation.rejected",
    "conversation.transferred",
)
# how long a verdict (and an agent's scope) is kept: it bounds how late a change that
# announces nothing (an offer lapsing, a team or rules change) reaches an open socket
VERDICT_TTL_S = 5.0
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


PlacementSource = Callable[[str], Awaitable[Placement | None]]
ScopeSource = Callable[[], Awaitable[Scope]]


class AgentFeed:
    """Which events one agent sees. What they follow (the conversations offered or
    assigned to them, and those they view) says what interests them; the visibility
    rule, asked through ``placement`` and ``scope``, says what they may see."""

    def __init__(
        self,
        who: Principal,
        conversations: set[str],
        session: str,
        reach: Reach = Reach(),
        *,
        placement: PlacementSource,
        scope: ScopeSource,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.who = who
        self.conversations = conversations
        self.session = session  # the digest of the session the socket was opened with
        self.reach = reach
        self._placement = placement
        self._scope_source = scope
        self._clock = clock
        self._scope: tuple[Scope, float] | None = None
        self._verdicts: dict[str, tuple[bool, float]] = {}

    def ends(self, event: Event) -> bool:
        """Whether a ``session.ended`` event ends this socket's session."""
        data = event.data
        return data.get("agent_id") == self.who.agent_id and data.get("session") in (None, self.session)

    async def message_for(self, event: Event) -> dict[str, Any] | None:
        """What this socket sends of ``event``: all of it, a notice without data, or None."""
        if await self.wants(event):
            return {"seq": event.seq, "topic": event.topic, "data": event.data}
        if event.topic in NOTICES:
            return {"seq": event.seq, "topic": event.topic, "data": {}}
        return None

    async def wants(self, event: Event) -> bool:
        if event.topic == "session.ended":  # for the hub's sockets, not for consoles
            return False
        if self.who.role != Role.AGENT:
            return True
        if event.topic in ("call.ringing", "call.answered"):
            return self.reach.pops(event)  # the phone system says whose screen it pops on
        data = event.data
        conv = data.get("conversation_id")
        if conv is not None and event.topic in MOVES:
            self._verdicts.pop(str(conv), None)
        mine = self.who.agent_id in (data.get("agent_id"), data.get("assignee_id"))
        if event.topic in FOR_EVERYONE:
            interested = True
        elif event.topic == "conversation.mention":
            interested = data.get("agent_id") == self.who.agent_id
        else:
            interested = mine or (conv is not None and conv in self.conversations)
        if not interested:
            return False
        if conv is None:
            return True  # about the agent, or about nobody's conversation (presence)
        if not await self.may_see(str(conv)):
            self.conversations.discard(conv)
            return False
        if mine and event.topic in ("conversation.offered", "conversation.assigned"):
            self.conversations.add(conv)
        return True

    async def may_see(self, conv_id: str) -> bool:
        """The visibility rule on the conversation as it stands (kept ``VERDICT_TTL_S``)."""
        now = self._clock()
        kept = self._verdicts.get(conv_id)
        if kept is not None and now - kept[1] < VERDICT_TTL_S:
            return kept[0]
        row = await self._placement(conv_id)
        if row is None:
            return False
        if self._scope is None or now - self._scope[1] >= VERDICT_TTL_S:
            self._scope = (await self._scope_source(), now)
        allowed = self._scope[0].allows(row)
        if row.assignee_id is None and row.offered_to is None and row.queue is None:
            return allowed  # not routed yet: it has a queue in a moment, so ask again then
        if len(self._verdicts) >= 4096:
            self._verdicts.clear()
        self._verdicts[conv_id] = (allowed, now)
        return allowed


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
        feed = AgentFeed(
            who,
            await conversation_repo.held_by(conn, who.agent_id),
            session_digest(request.cookies.get(COOKIE, "")),
            await _reach(conn, request, who),
            placement=lambda conv_id: _placement(request, conv_id),
            scope=lambda: _scope(request, who),
        )
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, compress=False)
    subscription = bus.subscribe("*")  # before the replay, so nothing falls between them
    try:
        await ws.prepare(request)
        request.app[SOCKETS].add(ws)
        # a console that saw more than the bus knows (the hub or Redis restarted) resyncs too
        missed = None if last > bus.last_seq else bus.since(last) if last else []
        if missed is None:
            await _send(ws, _resync(bus.last_seq))
        else:
            for event in missed:
                if (message := await _message(feed, event)) is not None:
                    await _send(ws, message)
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
                if (event.seq > last or event.topic == RESYNC) and (
                    message := await _message(feed, event)
                ) is not None:
                    await _send(ws, message)
                last = max(last, event.seq)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    except ConnectionResetError:  # the console went away mid-send: nothing to answer
        pass
    except Exception as exc:
        if not is_transient(exc):
            raise
        # the store is away: the console reconnects with its last_seq and misses nothing
        log.warning("agent socket closed during an outage: %r", exc)
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"the hub's store is unreachable")
    finally:
        bus.unsubscribe(subscription)
        request.app[SOCKETS].discard(ws)
    return ws


def _resync(seq: int) -> dict[str, Any]:
    """Reload from the store: what happened since the console's last event is not known."""
    return {"seq": seq, "topic": "resync", "data": {}}


async def _message(feed: AgentFeed, event: Event) -> dict[str, Any] | None:
    """What the console gets of a bus event (None: not for it)."""
    if event.topic == RESYNC:  # the bus lost events (hub.realtime.bus)
        return _resync(event.seq)
    return await feed.message_for(event)


async def _send(ws: web.WebSocketResponse, message: dict[str, Any]) -> None:
    await ws.send_str(orjson.dumps(message).decode())


async def _read(ws: web.WebSocketResponse, request: web.Request, feed: AgentFeed) -> None:
    """Read the console's messages until it goes: viewing and typing, passed on."""
    budget = FrameBudget(CLIENT_RATE, 5, time.monotonic())
    async for msg in ws:
        if msg.type != WSMsgType.TEXT or not budget.take(time.monotonic()):
            continue
        try:
            data = orjson.loads(msg.data)
            kind, conv_id = data["type"], str(data["conversation_id"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
        if kind not in ("viewing", "typing") or len(conv_id) > 64 or not conv_id.isprintable():
            continue  # not a conversation id (a NUL would not even reach the database)
        if not await feed.may_see(conv_id):
            continue
        feed.conversations.add(conv_id)
        who = feed.who
        about = {"conversation_id": conv_id, "agent_id": who.agent_id, "name": who.name}
        if kind == "viewing":
            request.app[BUS].publish("conversation.viewing", {**about, "on": bool(data.get("on", True))})
        else:
            request.app[BUS].publish("conversation.typing", about)


async def _reach(conn: Connection, request: web.Request, who: Principal) -> Reach:
    phone = await agent_repo.phone_of(conn, who.agent_id)
    scope = await scope_for(conn, who.agent_id, request.app[ROUTING].rules)
    return Reach(scope.queues, frozenset(n for n in (phone, who.name, who.email) if n))


async def _placement(request: web.Request, conv_id: str) -> Placement | None:
    """What the visibility rule reads of a conversation, or None if there is none."""
    async with request.app[STORE].read() as conn:
        return await conversation_repo.placement(conn, conv_id)


async def _scope(request: web.Request, who: Principal) -> Scope:
    async with request.app[STORE].read() as conn:
        return await scope_of(conn, who, request.app[ROUTING].rules)


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
            query={"last_seq": {"type": "integer", "minimum": 0}},
            responses={101: "Switching to WebSocket", 401: "Not signed in", 403: "Foreign Origin"},
        )
    ]
