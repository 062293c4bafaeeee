"""``GET /ws/widget?site=KEY``: a website visitor's chat (docs/widget-protocol.md).

The ``Origin`` must be one the site allows (else 403, before the upgrade); an unknown or
disabled site closes with 4404; no ``hello`` within 10 s closes with 4400. Each socket
may send ``frames_per_10s`` frames per 10 s; more are refused with ``rate_limited`` and
dropped (the widget keeps unacknowledged messages and sends them again). Compression is
off: an idle socket costs a fraction of a deflate one (ARCHITECTURE §7).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from hub.errors import Conflict, Forbidden, NotFound
from hub.keys import BUS, SETTINGS, SOCKETS, SURVEYS, WIDGET, WIDGET_FANOUT
from hub.realtime.budget import FrameBudget
from hub.routespec import TEXT, RouteSpec
from hub.web.widget_public import page_allowed
from hub.widget.fanout import CATCH_UP, WidgetConn
from hub.widget.frames import (
    ChatMessage,
    CsatAnswer,
    FrameRejected,
    Hello,
    LeaveMessage,
    Read,
    Start,
    Typing,
    parse_frame,
)
from hub.widget.service import Session, WidgetService

log = logging.getLogger("contacthub.widget")
HEARTBEAT_S = 25
HELLO_TIMEOUT_S = 10
TYPING_EVERY_S = 2.0
NO_HELLO, UNKNOWN_SITE = 4400, 4404
SENT_KEPT = 256  # feed items a socket remembers having sent


async def widget_socket(request: web.Request) -> web.StreamResponse:
    service = request.app[WIDGET]
    site = await service.site(request.query.get("site", ""))
    if site is not None and not page_allowed(request, list(site.allowed_origins)):
        raise Forbidden("this page's origin may not open this site's chat widget")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, compress=False, max_msg_size=64 * 1024)
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    try:
        if site is None:
            await ws.close(code=UNKNOWN_SITE, message=b"unknown site")
            return ws
        hello = await _hello(ws, site.key)
        if hello is None:
            return ws
        welcome = await service.hello(site, hello)
        session = welcome.session
        conn = WidgetConn(site.key, session.hours, welcome.frame["offline_reason"], session.customer_id)
        fanout = request.app[WIDGET_FANOUT]
        fanout.register(conn)
        if conn.customer_id:  # what was published between the welcome's read and now
            conn.push(CATCH_UP)
        try:
            await _send(ws, welcome.frame)
            if welcome.bad_identity:
                await _error(ws, "bad_identity", "identifier_hash does not match: you chat anonymously")
            feed = Shown(
                welcome.after, int(welcome.frame["seq"]), [e["seq"] for e in welcome.frame["events"]]
            )
            del welcome, hello  # an idle socket keeps only its session
            await _serve(ws, request, session, conn, feed)
        finally:
            fanout.unregister(conn)
    except ConnectionResetError:  # the browser went away mid-send
        pass
    finally:
        request.app[SOCKETS].discard(ws)
    return ws


async def _hello(ws: web.WebSocketResponse, site_key: str) -> Hello | None:
    try:
        msg = await ws.receive(timeout=HELLO_TIMEOUT_S)
    except TimeoutError:
        await ws.close(code=NO_HELLO, message=b"no hello")
        return None
    if msg.type != WSMsgType.TEXT:
        await ws.close(code=NO_HELLO, message=b"no hello")
        return None
    try:
        frame = parse_frame(msg.data)
    except FrameRejected as exc:
        await _error(ws, exc.code, exc.detail)
        await ws.close(code=NO_HELLO, message=b"the first frame must be hello")
        return None
    if not isinstance(frame, Hello) or frame.site != site_key:
        await ws.close(code=NO_HELLO, message=b"the first frame must be hello for this site")
        return None
    return frame


class Shown:
    """What of the customer's feed a socket has shown: items arrive out of their order
    (each process publishes its own, and a lower seq may commit later), so what was sent
    is remembered by seq, not as the highest one. The visitor said they had seen up to
    ``after``; anything later not sent yet goes out, once (the widget also keeps each
    item once, by id)."""

    def __init__(self, after: int, highest: int, sent: list[int]) -> None:
        self.after, self.highest = after, highest
        self.sent = deque(sent, maxlen=SENT_KEPT)

    def take(self, seq: int) -> bool:
        """Whether the item ``seq`` is still to be sent (and from now on, sent)."""
        if seq <= self.after or seq in self.sent:
            return False
        self.sent.append(seq)
        self.highest = max(self.highest, seq)
        return True


async def _serve(
    ws: web.WebSocketResponse, request: web.Request, session: Session, conn: WidgetConn, feed: Shown
) -> None:
    """Read the visitor's frames while a writer passes this customer's events on."""
    state = {"read": 0}
    writer = asyncio.create_task(_write(ws, conn, feed, request.app[WIDGET]))
    try:
        await _read(ws, request, session, conn, feed, state)
    finally:
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer


async def _write(ws: web.WebSocketResponse, conn: WidgetConn, feed: Shown, service: WidgetService) -> None:
    while not ws.closed:
        frame = await conn.queue.get()
        kind = frame.get("type")
        if kind == "_overflow":
            await ws.close(code=1013, message=b"too far behind: reconnect")
            return
        if frame is CATCH_UP:
            try:
                missed = await service.feed_after(conn.customer_id, feed.after)
            except Exception as exc:  # the store is away too: the widget resumes from the feed
                log.warning("widget socket could not catch up: %r", exc)
                await ws.close(code=1013, message=b"reconnect")
                return
            for event in missed:
                if feed.take(event["seq"]):
                    await _send(ws, event)
        elif kind == "read":
            await _send(ws, {"type": "read", "seq": feed.highest})
        elif not isinstance(frame.get("seq"), int) or feed.take(frame["seq"]):  # feed items have one
            await _send(ws, frame)


async def _read(
    ws: web.WebSocketResponse,
    request: web.Request,
    session: Session,
    conn: WidgetConn,
    feed: Shown,
    state: dict[str, int],
) -> None:
    service = request.app[WIDGET]
    limit = request.app[SETTINGS].connectors.chat.frames_per_10s
    budget, typed = FrameBudget(limit, 10, time.monotonic()), 0.0
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        now = time.monotonic()
        try:
            if not budget.take(now):
                raise FrameRejected("rate_limited", f"at most {limit} frames in 10 s", _frame_id(msg.data))
            frame = parse_frame(msg.data)
            if isinstance(frame, ChatMessage | LeaveMessage):
                ack = await service.message(session, frame)
                await _tell_token(ws, session)
                await _send(ws, ack)
            elif isinstance(frame, Start):
                await service.start(session, frame)
                await _tell_token(ws, session)
                await _send(ws, {"type": "started"})
            elif isinstance(frame, Typing) and now - typed > TYPING_EVERY_S:
                typed = now
                await _typing(request, session, frame.on)
            elif isinstance(frame, Read):
                await _read_up_to(request, session, min(frame.seq, feed.highest), state)
            elif isinstance(frame, CsatAnswer):
                await _csat(request, session, frame)
            if session.customer_id:
                request.app[WIDGET_FANOUT].attach(conn, session.customer_id)
        except FrameRejected as exc:
            await _error(ws, exc.code, exc.detail, exc.frame_id)
        except Exception:  # the store or queue failed: the message was not acknowledged
            log.exception("widget frame not taken")
            await _error(ws, "unavailable", "not saved; it will be sent again", _frame_id(msg.data))


async def _csat(request: web.Request, session: Session, frame: CsatAnswer) -> None:
    """A survey's answer from the visitor it was put to; what became of it arrives as a
    ``csat_done`` item of the feed (so every tab of the visitor's hides the stars)."""
    if not session.customer_id:
        raise FrameRejected("csat", "no such survey", frame.survey)
    try:
        await request.app[SURVEYS].answer_in_chat(
            frame.survey, session.customer_id, frame.score, frame.comment
        )
    except (Conflict, NotFound) as exc:
        raise FrameRejected("csat", exc.detail, frame.survey) from exc


async def _tell_token(ws: web.WebSocketResponse, session: Session) -> None:
    if session.token:
        await _send(ws, {"type": "visitor", "token": session.token})
        session.token = None


async def _typing(request: web.Request, session: Session, on: bool) -> None:
    if not session.customer_id:
        return
    conversation = await request.app[WIDGET].conversation_of(session.customer_id)
    if conversation:
        name = (session.visitor.contact.get("name") if session.visitor else None) or ""
        request.app[BUS].publish(
            "conversation.typing", {"conversation_id": conversation, "visitor": True, "name": name, "on": on}
        )


async def _read_up_to(request: web.Request, session: Session, upto: int, state: dict[str, int]) -> None:
    await request.app[WIDGET].read(session, upto, state["read"])
    state["read"] = max(state["read"], upto)


def _frame_id(raw: Any) -> str | None:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return str(data["id"])[:64] if isinstance(data, dict) and "id" in data else None


async def _send(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
    await ws.send_str(orjson.dumps(frame).decode())


async def _error(ws: web.WebSocketResponse, code: str, detail: str, frame_id: str | None = None) -> None:
    frame: dict[str, Any] = {"type": "error", "code": code, "detail": detail}
    if frame_id:
        frame["id"] = frame_id
    await _send(ws, frame)


def widget_socket_routes() -> list[RouteSpec]:
    return [
        RouteSpec(
            "GET",
            "/ws/widget",
            widget_socket,
            "A website visitor's chat (WebSocket); see docs/widget-protocol.md",
            "public",
            tag="widget",
            query={"site": TEXT},
            responses={101: "Switching to WebSocket", 403: "The page's Origin is not allowed for the site"},
        )
    ]
