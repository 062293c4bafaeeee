"""Chat in the fault test (tests/test_cluster.py): website visitors on widget sockets and
an agent on the agent socket, all through nginx, while processes and services fail.

- A visitor sends ``SAYS`` messages, each under its own id and again until it is
  acknowledged (as the widget does), counts every agent reply its socket shows, by id,
  and leaves once it has seen an answer to each; a new visitor takes its place while the
  load runs. A closed socket reconnects at once with its token and the last ``seq``
  shown; the time to its ``welcome`` is recorded.
- The agent takes chats: it accepts each conversation offered to it (its socket's
  ``conversation.offered``, or its list of offers, read again every second and after a
  ``resync``, as the console reloads), answers each acknowledged message once through
  the API, and closes a conversation when its visitor has left. A reply whose request
  failed is sent again under its ``client_id``, so the hub stores it once. Its socket reconnects with its
  ``last_seq`` and must never show an event twice; the longest gap between two new
  offers is recorded.

Afterwards every reply is stored once and shown to its visitor exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter
from typing import Any

import aiohttp
import sqlalchemy as sa

from hub.settings import Settings
from hub.store.engine import Store
from hub.store.tables import agents, messages, outbox, widget_sites
from tests.helpers import agent_row, widget_site_row

ORIGIN = "https://shop.example"
SITE = "cluster"
AGENT = ("chats@cluster.example", "cluster-password")
SAYS = 3  # messages per visitor
SAY_EVERY = 0.5  # seconds between a visitor's messages
LOOKUP_AFTER = 3.0  # seconds a message waits for its socket event before the store is asked
RETRY = 0.2
VISITORS = 4  # chatting at once
RESEND_AFTER = 3.0  # seconds a visitor's message waits for its ack before it is sent again


async def seed(settings: Settings) -> None:
    """The chat widget's site and the agent who takes its chats."""
    store = Store(settings.database)
    try:
        async with store.write() as conn:
            await conn.execute(sa.insert(widget_sites).values(**widget_site_row(SITE, "Cluster", ORIGIN)))
            chats: dict[str, Any] = {"presence": "available", "capacity": {"chat": 2 * VISITORS}}
            chats["languages"] = ["de", "en"]
            await conn.execute(sa.insert(agents).values(**agent_row(*AGENT, "Chats", "agent", **chats)))
    finally:
        await store.close()


class Visitor:
    def __init__(self, url: str, name: str, acked: asyncio.Queue[str]) -> None:
        self.url, self.name, self._acked = url, name, acked
        self.message_ids: list[str] = []  # acknowledged
        self.token: str | None = None
        self.shown = 0
        self.said = 0
        self.unacked: dict[str, str] = {}  # client id -> text
        self.replies: Counter[str] = Counter()  # reply id -> times shown
        self.reconnects: list[float] = []
        self.errors: Counter[str] = Counter()  # why sockets ended

    @property
    def done(self) -> bool:
        """Said everything, acknowledged, and shown an answer to each."""
        return self.said == SAYS and not self.unacked and len(self.replies) >= SAYS

    async def run(self, session: aiohttp.ClientSession) -> None:
        lost_at: float | None = None
        while not self.done:
            try:
                async with session.ws_connect(self.url, headers={"Origin": ORIGIN}, heartbeat=5) as ws:
                    await ws.send_json(
                        {"type": "hello", "site": SITE, "visitor": self.token, "last_seq": self.shown}
                    )
                    welcome = await ws.receive_json(timeout=10)
                    if welcome.get("type") != "welcome":
                        raise ConnectionError(f"no welcome: {welcome}")
                    if lost_at is not None:
                        self.reconnects.append(time.monotonic() - lost_at)
                        lost_at = None
                    self.token = welcome["visitor"] or self.token
                    for event in welcome["events"]:
                        self._shown(event)
                    await self._converse(ws)
            except (aiohttp.ClientError, ConnectionError, TimeoutError, TypeError, ValueError) as exc:
                self.errors[type(exc).__name__ + ": " + str(exc)[:120]] += 1
            lost_at = lost_at or time.monotonic()
            await asyncio.sleep(RETRY)

    async def _converse(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        sent_at = dict.fromkeys(self.unacked, 0.0)  # a new socket: every unacknowledged one again
        next_say = time.monotonic()
        while not self.done:
            now = time.monotonic()
            if self.said < SAYS and now >= next_say:
                next_say = now + SAY_EVERY
                client_id = f"{self.name}-message-{self.said}"
                self.unacked[client_id] = f"Frage {self.said} von {self.name}"
                self.said += 1
                sent_at[client_id] = 0.0
            for client_id, at in list(sent_at.items()):  # as the widget resends what is not acknowledged
                if client_id in self.unacked and now - at > RESEND_AFTER:
                    sent_at[client_id] = now
                    await ws.send_json({"type": "message", "id": client_id, "text": self.unacked[client_id]})
            try:
                msg = await ws.receive(timeout=0.1)
            except TimeoutError:
                continue
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"socket closed: {msg.type} {msg.data}")
            frame = msg.json()
            kind = frame.get("type")
            if kind == "visitor":
                self.token = frame["token"]
            elif kind == "ack" and self.unacked.pop(frame["id"], None) is not None:
                sent_at.pop(frame["id"], None)
                self.message_ids.append(frame["message_id"])
                self._acked.put_nowait(frame["message_id"])
            elif kind == "message":
                self._shown(frame)

    def _shown(self, event: dict[str, Any]) -> None:
        self.shown = max(self.shown, int(event["seq"]))
        if event.get("type") == "message" and event.get("from") == "agent":
            self.replies[event["id"]] += 1


class ChatAgent:
    """Signs in through nginx, keeps its socket, takes chats and answers every message."""

    def __init__(self, base: str, settings: Settings, acked: asyncio.Queue[str]) -> None:
        self.base, self._acked = base, acked
        self._store = Store(settings.database)
        self.conversation_of: dict[str, str] = {}  # visitor message id -> conversation
        self.replied: dict[str, str] = {}  # visitor message id -> reply text
        self.seqs: list[int] = []
        self.resyncs = 0
        self.repeats = 0  # replies whose first answer was lost: the hub answered the resend with them
        self.reconnects: list[float] = []
        self.offers: dict[str, float] = {}  # conversation -> when its (first) offer was seen
        self.mine: set[str] = set()  # conversations assigned to this agent
        self.closed: set[str] = set()
        self._me = ""
        self._csrf: dict[str, str] = {}
        self._changed = asyncio.Event()  # an offer, an assignment or a socket event came in
        self._look = asyncio.Event()  # read the list of offers again
        self._awaited: dict[str, asyncio.Future[None]] = {}  # messages waiting for their event
        self._tasks: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._store.close()

    async def run(self, session: aiohttp.ClientSession) -> None:
        await self._sign_in(session)
        await asyncio.gather(self._listen(session), self._take_offers(session), self._reply_all(session))

    def leave(self, session: aiohttp.ClientSession, visitor: Visitor) -> None:
        """The visitor has gone: their conversation is closed."""
        conversations = {self.conversation_of[m] for m in visitor.message_ids if m in self.conversation_of}
        for conversation in conversations:
            self._spawn(self._close(session, conversation))

    def longest_offer_gap(self) -> float:
        times = sorted(self.offers.values())
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sign_in(self, session: aiohttp.ClientSession) -> None:
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.post(
                    self.base + "/api/v1/auth/login", json={"email": AGENT[0], "password": AGENT[1]}
                ) as resp:
                    if resp.status == 200:
                        self._csrf = {"X-CSRF-Token": (await resp.json())["csrf_token"]}
                        async with session.get(self.base + "/api/v1/me") as me:
                            self._me = (await me.json())["id"]
                        return
            await asyncio.sleep(RETRY)

    async def _listen(self, session: aiohttp.ClientSession) -> None:
        url = self.base.replace("https://", "wss://") + "/ws/agent"
        lost_at: float | None = None
        while True:
            last = self.seqs[-1] if self.seqs else 0
            try:
                async with session.ws_connect(f"{url}?last_seq={last}", heartbeat=5) as ws:
                    if lost_at is not None:
                        self.reconnects.append(time.monotonic() - lost_at)
                        lost_at = None
                        self._look.set()  # as the console reloads after a reconnect
                    async for msg in ws:
                        if msg.type != aiohttp.WSMsgType.TEXT:
                            break
                        self._event(msg.json())
            except (aiohttp.ClientError, TimeoutError):
                pass
            lost_at = lost_at or time.monotonic()
            await asyncio.sleep(RETRY)

    def _event(self, event: dict[str, Any]) -> None:
        if event["topic"] == "resync":
            self.resyncs += 1
            self._look.set()
            return
        self.seqs.append(int(event["seq"]))
        data = event["data"]
        if event["topic"] == "message.stored" and data.get("channel") == "chat":
            self.conversation_of[data["message_id"]] = data["conversation_id"]
            awaited = self._awaited.pop(data["message_id"], None)
            if awaited is not None and not awaited.done():
                awaited.set_result(None)
        elif event["topic"] == "conversation.offered" and data.get("agent_id") == self._me:
            self.offers.setdefault(data["conversation_id"], time.monotonic())
            self._look.set()

    async def _take_offers(self, session: aiohttp.ClientSession) -> None:
        """Accept what is offered: the list of offers and assignments, read again at
        every offer, after a resync or reconnect, and every second."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._look.wait(), 1.0)
            self._look.clear()
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, KeyError, ValueError):
                async with session.get(self.base + "/api/v1/conversations?status=open&view=mine") as resp:
                    listed = (await resp.json())["items"] if resp.status == 200 else []
                for conv in listed:
                    if conv["assignee_id"] == self._me:
                        self.mine.add(conv["id"])
                    elif conv["offered_to"] == self._me:
                        self.offers.setdefault(conv["id"], time.monotonic())
                        async with session.post(
                            f"{self.base}/api/v1/conversations/{conv['id']}/accept", headers=self._csrf
                        ) as accepted:
                            if accepted.status == 200:
                                self.mine.add(conv["id"])
                self._changed.set()

    async def _reply_all(self, session: aiohttp.ClientSession) -> None:
        while True:
            message_id = await self._acked.get()
            self._spawn(self._reply(session, message_id))

    async def _reply(self, session: aiohttp.ClientSession, message_id: str) -> None:
        """One reply, sent again under its client_id until the hub answers: 202 stored it,
        200 says an earlier request did (its answer was lost)."""
        text = f"Antwort auf {message_id}"
        conversation = await self._conversation(message_id)
        while True:
            while conversation not in self.mine:  # only the assignee replies
                self._changed.clear()
                await self._changed.wait()
            try:
                async with session.post(
                    f"{self.base}/api/v1/conversations/{conversation}/messages",
                    json={"text": text, "client_id": f"reply-{message_id}"},
                    headers=self._csrf,
                ) as resp:
                    if resp.status in (200, 202):
                        self.repeats += resp.status == 200
                        break
                    if resp.status == 403:  # no longer assigned here: wait to be offered it again
                        self.mine.discard(conversation)
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(RETRY)
        self.replied[message_id] = text

    async def _close(self, session: aiohttp.ClientSession, conversation: str) -> None:
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.post(
                    f"{self.base}/api/v1/conversations/{conversation}/close", headers=self._csrf
                ) as resp:
                    if resp.status in (200, 409):  # closed now, or already
                        self.closed.add(conversation)
                        self.mine.discard(conversation)
                        return
            await asyncio.sleep(RETRY)

    async def _conversation(self, message_id: str) -> str:
        if message_id not in self.conversation_of:
            shown = self._awaited.setdefault(message_id, asyncio.get_running_loop().create_future())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shown, LOOKUP_AFTER)
        while message_id not in self.conversation_of:  # as the console reloads from the store
            with contextlib.suppress(Exception):
                async with self._store.read() as conn:
                    found = await conn.scalar(
                        sa.select(messages.c.conversation_id).where(messages.c.id == message_id)
                    )
                if found:
                    self.conversation_of[message_id] = found
                    break
            await asyncio.sleep(RETRY)
        return self.conversation_of[message_id]


async def replies_stored(settings: Settings, texts: list[str]) -> tuple[Counter[str], Counter[str]]:
    """How often each reply text is stored, and the replies' outbox states."""
    store = Store(settings.database)
    try:
        async with store.read() as conn:
            rows = await conn.execute(
                sa.select(messages.c.text).where(messages.c.direction == "out", messages.c.text.in_(texts))
            )
            states = await conn.execute(sa.select(outbox.c.status).where(outbox.c.text.in_(texts)))
            return Counter(rows.scalars()), Counter(states.scalars())
    finally:
        await store.close()
