"""Conversations: list and detail, the agent actions on them, queues, and SLA breaches.

Agents see the conversations offered or assigned to them; supervisors and admins see
all. Reading a conversation's messages is written to the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.customers import audit
from hub.dispatch import actions
from hub.dispatch.inbox import notify
from hub.errors import InputError, NotFound
from hub.keys import BUS, INBOX, OUTBOX, ROUTING, STORE
from hub.model import Role
from hub.outbox import replies
from hub.outbox.replies import MAX_TEXT
from hub.request_body import int_query, json_response, read_json_object
from hub.routespec import RouteSpec
from hub.store.tables import conversations, customers, events, messages, outbox
from hub.store.times import iso, utc
from hub.validation import validated
from hub.web.middleware import AGENT

c = conversations.c
STATUSES = ("open", "closed")


def _public(row: Any) -> dict[str, Any]:
    route = row.route or {}
    return {
        "id": row.id,
        "customer_id": row.customer_id,
        "channel": row.channel,
        "status": row.status,
        "state": _state(row),
        "queue": row.queue,
        "offered_to": row.offered_to,
        "offer_expires_at": iso(row.offer_expires_at),
        "assignee_id": row.assignee_id,
        "assigned_at": iso(row.assigned_at),
        "message_count": row.message_count,
        "opened_at": iso(row.opened_at),
        "last_message_at": iso(row.last_message_at),
        "closed_at": iso(row.closed_at),
        "tags": route.get("tags", []),
        "sla": {
            "first_response_due": iso(row.first_response_due),
            "first_response_at": iso(row.first_response_at),
            "next_response_due": iso(row.next_response_due),
            "breached": row.breached,
            "breached_at": iso(row.breached_at),
        },
    }


def _state(row: Any) -> str:
    if row.status != "open":
        return "closed"
    if row.assignee_id is not None:
        return "assigned"
    return "offered" if row.offered_to is not None else "waiting"


async def list_conversations(request: web.Request) -> web.Response:
    who = request[AGENT]
    limit = int_query(request, "limit", 50, 500)
    query = sa.select(conversations).order_by(c.last_message_at.desc(), c.id).limit(limit)
    status = request.query.get("status")
    if status is not None:
        if status not in STATUSES:
            raise InputError(f"status: one of {', '.join(STATUSES)}", field="status")
        query = query.where(c.status == status)
    if queue := request.query.get("queue"):
        query = query.where(c.queue == queue)
    assignee = request.query.get("assignee")
    if assignee is not None:
        query = query.where(c.assignee_id == (who.agent_id if assignee == "me" else assignee))
    if who.role == Role.AGENT:  # an agent's own work only
        query = query.where(sa.or_(c.assignee_id == who.agent_id, c.offered_to == who.agent_id))
    async with request.app[STORE].read() as conn:
        rows = (await conn.execute(query)).all()
    return json_response({"items": [_public(r) for r in rows]})


async def get_conversation(request: web.Request) -> web.Response:
    who = request[AGENT]
    conv_id = request.match_info["id"]
    async with request.app[STORE].write() as conn:
        row = (await conn.execute(sa.select(conversations).where(c.id == conv_id))).one_or_none()
        if row is None or (who.role == Role.AGENT and who.agent_id not in (row.assignee_id, row.offered_to)):
            raise NotFound(f"no conversation with id {conv_id} for you")
        msgs = await conn.execute(
            sa.select(
                messages.c.id,
                messages.c.direction,
                messages.c.channel,
                messages.c.kind,
                messages.c.sender_kind,
                messages.c.sender_name,
                messages.c.subject,
                messages.c.text,
                messages.c.received_at,
                outbox.c.status.label("delivery_status"),
                outbox.c.attempts,
                outbox.c.error,
                outbox.c.error_code,
                outbox.c.details,
            )
            .select_from(messages.outerjoin(outbox, outbox.c.id == messages.c.id))
            .where(messages.c.conversation_id == conv_id)
            .order_by(messages.c.received_at, messages.c.id)
        )
        items = [_message(m) for m in msgs]
        await audit.record(
            conn,
            actor=who.actor,
            action="audit.read",
            subject_type="conversation",
            subject_id=conv_id,
            customer_id=row.customer_id,
        )
    return json_response({**_public(row), "messages": items})


def _message(m: Any) -> dict[str, Any]:
    item = {
        "id": m.id,
        "direction": m.direction,
        "channel": m.channel,
        "kind": m.kind,
        "sender_kind": m.sender_kind,
        "sender_name": m.sender_name,
        "subject": m.subject,
        "text": m.text,
        "received_at": iso(m.received_at),
    }
    if m.delivery_status is not None:  # a reply: how far it got
        details = m.details or {}
        item["delivery"] = {
            "status": m.delivery_status,
            "attempts": m.attempts,
            "error": m.error,
            "error_code": m.error_code,
            **{k: v for k, v in details.items() if k != "parts"},
        }
    return item


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=MAX_TEXT)
    channel: Literal["email", "sms", "voice", "fax", "chat", "api"] | None = Field(
        None, description="another channel of the same customer (default: the conversation's)"
    )


async def post_reply(request: web.Request) -> web.Response:
    body = validated(ReplyIn, await read_json_object(request, 256 * 1024))
    outbox_worker = request.app[OUTBOX]
    result = await replies.reply(
        request.app[STORE],
        request.match_info["id"],
        request[AGENT],
        body.text,
        body.channel,
        outbox_worker.channels,
    )
    outbox_worker.wake()
    return json_response(result, status=202)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=10_000)
    callback: bool = Field(False, description="the agent called the customer back (counts as a response)")


async def add_note(request: web.Request) -> web.Response:
    body = validated(NoteIn, await read_json_object(request, 64 * 1024))
    result = await actions.add_note(
        request.app[STORE], request.match_info["id"], request[AGENT], body.text, body.callback
    )
    request.app[BUS].publish(
        "conversation.note",
        {"conversation_id": result["conversation_id"], "callback": body.callback, "text": body.text},
    )
    return json_response(result, status=201)


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=500)


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queue: str | None = Field(None, description="the queue to wait on; default: its current one")
    agent_id: str | None = Field(None, description="offer it to this agent first")

    @model_validator(mode="after")
    def _somewhere(self) -> TransferIn:
        if self.queue is None and self.agent_id is None:
            raise ValueError("give a queue, an agent_id, or both")
        return self


async def _done(request: web.Request, result: dict[str, Any]) -> web.Response:
    await notify(request.app[INBOX], conversations=[request.match_info["id"]])
    return json_response(result)


async def accept(request: web.Request) -> web.Response:
    return await _done(
        request, await actions.accept(request.app[STORE], request.match_info["id"], request[AGENT])
    )


async def reject(request: web.Request) -> web.Response:
    body = validated(RejectIn, await read_json_object(request, 4096) if request.body_exists else {})
    result = await actions.reject(request.app[STORE], request.match_info["id"], request[AGENT], body.reason)
    return await _done(request, result)


async def close(request: web.Request) -> web.Response:
    return await _done(
        request, await actions.close(request.app[STORE], request.match_info["id"], request[AGENT])
    )


async def transfer(request: web.Request) -> web.Response:
    body = validated(TransferIn, await read_json_object(request, 4096))
    result = await actions.transfer(
        request.app[STORE],
        request.app[ROUTING].rules,
        request.match_info["id"],
        request[AGENT],
        body.queue,
        body.agent_id,
    )
    return await _done(request, result)


async def queues(request: web.Request) -> web.Response:
    """Waiting and offered conversations per queue and tier, with the oldest wait."""
    now = datetime.now(UTC)
    waiting = sa.and_(c.status == "open", c.assignee_id.is_(None))
    async with request.app[STORE].read() as conn:
        rows = await conn.execute(
            sa.select(
                c.queue,
                customers.c.tier,
                sa.func.count().label("waiting"),
                sa.func.count(c.offered_to).label("offered"),
                sa.func.min(c.opened_at).label("oldest"),
                sa.func.count(c.breached).label("breached"),
            )
            .join(customers, customers.c.id == c.customer_id)
            .where(waiting)
            .group_by(c.queue, customers.c.tier)
        )
        found = rows.all()

    def empty(name: str) -> dict[str, Any]:
        return {"queue": name, "waiting": 0, "offered": 0, "breached": 0, "oldest_wait_s": None, "tiers": {}}

    result = {q: empty(q) for q in request.app[ROUTING].rules.queues}
    for r in found:
        name = r.queue or "(not routed yet)"
        entry = result.setdefault(name, empty(name))
        wait_s = round((now - utc(r.oldest)).total_seconds(), 1)
        entry["tiers"][r.tier] = {"waiting": r.waiting, "offered": r.offered, "oldest_wait_s": wait_s}
        entry["waiting"] += r.waiting
        entry["offered"] += r.offered
        entry["breached"] += r.breached
        entry["oldest_wait_s"] = max(entry["oldest_wait_s"] or 0.0, wait_s)
    return json_response({"items": list(result.values())})


async def breaches(request: web.Request) -> web.Response:
    """Recorded SLA breaches, newest first (``since``: an ISO time)."""
    limit = int_query(request, "limit", 100, 1000)
    query = (
        sa.select(events)
        .where(events.c.action == "sla.breached")
        .order_by(events.c.at.desc(), events.c.id.desc())
        .limit(limit)
    )
    if since := request.query.get("since"):
        try:
            query = query.where(events.c.at >= datetime.fromisoformat(since))
        except ValueError as exc:
            raise InputError("since: an ISO 8601 time", field="since") from exc
    async with request.app[STORE].read() as conn:
        rows = (await conn.execute(query)).all()
    return json_response(
        {
            "items": [
                {"conversation_id": r.subject_id, "at": iso(r.at), "customer_id": r.customer_id, **r.data}
                for r in rows
            ]
        }
    )


def conversation_routes() -> list[RouteSpec]:
    base = "/api/v1/conversations"
    common = {401: "Not signed in", 403: "Role too low"}
    acts = {404: "No such conversation", 409: "Not possible now: the detail says why", **common}

    def action(name: str, handler: Any, summary: str, schema: dict[str, Any] | None = None) -> RouteSpec:
        return RouteSpec(
            "POST",
            f"{base}/{{id}}/{name}",
            handler,
            summary,
            "agent",
            tag="conversations",
            request_schema=schema,
            responses={200: "Done", **acts},
        )

    return [
        RouteSpec(
            "GET",
            base,
            list_conversations,
            "Conversations (filters: status, queue, assignee=me|id, limit); agents see their own",
            "agent",
            tag="conversations",
            responses={200: "Conversations, latest activity first", 422: "Bad filter", **common},
        ),
        RouteSpec(
            "GET",
            f"{base}/{{id}}",
            get_conversation,
            "A conversation with its messages, routing state and SLA due times (audited)",
            "agent",
            tag="conversations",
            responses={200: "The conversation", 404: "No such conversation", **common},
        ),
        RouteSpec(
            "POST",
            f"{base}/{{id}}/messages",
            post_reply,
            "Reply: stored at once, sent through the outbox (retried); delivery shows on the message",
            "agent",
            tag="conversations",
            request_schema=ReplyIn.model_json_schema(),
            responses={
                202: "Queued for sending",
                403: "Not your conversation",
                404: "No such conversation",
                409: "Closed, or the customer withdrew consent for the channel",
                422: "Empty text, or no connector sends on that channel",
                401: "Not signed in",
            },
        ),
        RouteSpec(
            "POST",
            f"{base}/{{id}}/notes",
            add_note,
            "An internal note on the conversation and the customer's timeline (callback: a call back)",
            "agent",
            tag="conversations",
            request_schema=NoteIn.model_json_schema(),
            responses={
                201: "Noted",
                403: "Not your conversation",
                404: "No such conversation",
                401: "Not signed in",
            },
        ),
        action("accept", accept, "Accept an offer made to you"),
        action(
            "reject", reject, "Turn an offer down; it is routed to someone else", RejectIn.model_json_schema()
        ),
        action("close", close, "Close the conversation; the agent's capacity frees up"),
        action(
            "transfer",
            transfer,
            "Hand the conversation to a queue or an agent; it is routed again",
            TransferIn.model_json_schema(),
        ),
        RouteSpec(
            "GET",
            "/api/v1/queues",
            queues,
            "Waiting conversations per queue and tier, with the oldest wait",
            "agent",
            tag="routing",
            responses={200: "Queues", **common},
        ),
        RouteSpec(
            "GET",
            "/api/v1/sla/breaches",
            breaches,
            "Recorded SLA breaches, newest first",
            "supervisor",
            tag="routing",
            responses={200: "Breaches", 422: "Bad filter", **common},
        ),
    ]
