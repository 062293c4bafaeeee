"""Conversations: list and detail, and the agent actions on them.

Agents see their own conversations, those waiting on the queues they serve and those
their teammates hold (hub/auth/visibility.py); supervisors and admins see all.
Every route under ``/api/v1/conversations/{id}`` asks that rule (the actions in
hub/dispatch/actions.py and hub/outbox/replies.py, in their own transaction): a
conversation the caller may not see is a 404, with the same words as for an unknown id.
Reading a conversation's messages is written to the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from aiohttp import web
from pydantic import ConfigDict, Field, field_validator, model_validator

from hub.auth.sessions import Principal
from hub.auth.visibility import hidden, scope_of
from hub.customers import audit
from hub.dispatch import actions, tags
from hub.dispatch.inbox import notify
from hub.errors import InputError, NotFound
from hub.keys import BLOBS, BUS, IN_STORE, INBOX, OUTBOX, ROUTING, SETTINGS, STORE
from hub.model import Attachment
from hub.outbox import replies
from hub.outbox.replies import MAX_TEXT
from hub.request_body import int_query, json_response, read_json_object, read_limited
from hub.routespec import TEXT, RouteSpec, limit
from hub.routing.rules import RuleSet
from hub.store.engine import Store
from hub.store.tables import (
    PRIORITIES,
    PRIORITY_NAMES,
    attachments,
    conversations,
    customers,
    identities,
    messages,
    outbox,
)
from hub.store.times import iso, utc, utc_or_none
from hub.validation import NULLABLE, RequestModel, validated
from hub.web import message_parts
from hub.web.middleware import AGENT

c = conversations.c
STATUSES = ("open", "closed")
VIEWS = ("all", "mine", "queues")
# call and fax details the console shows; other channel extras stay in the store
SHOWN_META = {
    *("event", "duration", "recording_url", "transcription", "direction", "cause", "pages"),
    # the chat widget: where the visitor wrote from, their offline form, others' contacts they named
    *("site", "page_url", "page_title", "department", "language", "offline", "reply_email", "reply_phone"),
    *("claimed_email", "claimed_phone"),
    # email: the mailbox it came to, and why it must not be answered automatically
    *("mailbox", "auto", "out_of_office", "bounce"),
    # fax: its gateway, and whether its pages could be shown and read
    *("provider", "render", "render_error", "ocr", "pages_shown"),
}


def _public(row: Any, now: datetime) -> dict[str, Any]:
    route = row.route or {}
    snoozed_until = utc_or_none(row.snoozed_until)
    return {
        "id": row.id,
        "customer_id": row.customer_id,
        "customer": {"name": row.customer_name, "tier": row.customer_tier, "contact": row.customer_contact},
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
        "department": route.get("department"),
        "priority": PRIORITY_NAMES.get(row.priority or PRIORITIES["normal"], "normal"),
        # snoozed until then, unless the customer wrote after it was snoozed
        "snoozed_until": iso(snoozed_until),
        "snoozed": snoozed_until is not None
        and snoozed_until > now
        and utc(row.last_message_at) <= utc(row.snoozed_at),
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


def _with_customer() -> sa.Select[Any]:
    """Conversations with their customer's name, tier and first identity (for the nameless)."""
    contact = (
        sa.select(identities.c.value)
        .where(identities.c.customer_id == c.customer_id)
        .order_by(identities.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return sa.select(
        conversations,
        customers.c.name.label("customer_name"),
        customers.c.tier.label("customer_tier"),
        contact.label("customer_contact"),
    ).join(customers, customers.c.id == c.customer_id)


async def list_conversations(request: web.Request) -> web.Response:
    """Agents see their own, their queues' waiting and their teammates' conversations;
    ``view=mine`` narrows to their own, ``view=queues`` to the waiting ones."""
    who = request[AGENT]
    limit = int_query(request, "limit", 50, 500)
    query = _with_customer().order_by(c.last_message_at.desc(), c.id).limit(limit)
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
    view = request.query.get("view", "all")
    if view not in VIEWS:
        raise InputError(f"view: one of {', '.join(VIEWS)}", field="view")
    if view == "mine":
        query = query.where(sa.or_(c.assignee_id == who.agent_id, c.offered_to == who.agent_id))
    elif view == "queues":
        query = query.where(c.status == "open", c.assignee_id.is_(None))
    if customer := request.query.get("customer_id"):
        query = query.where(c.customer_id == customer)
    async with request.app[STORE].read() as conn:
        if tag := request.query.get("tag"):
            query = query.where(tags.has_tag(conn.dialect.name, tags.clean_tag(tag)))
        query = query.where((await scope_of(conn, who, request.app[ROUTING].rules)).clause())
        rows = (await conn.execute(query)).all()
    now = datetime.now(UTC)
    return json_response({"items": [_public(r, now) for r in rows]})


async def get_conversation(request: web.Request) -> web.Response:
    who = request[AGENT]
    conv_id = request.match_info["id"]
    async with request.app[STORE].write() as conn:
        row = (await conn.execute(_with_customer().where(c.id == conv_id))).one_or_none()
        if row is None or not (await scope_of(conn, who, request.app[ROUTING].rules)).allows(row):
            raise hidden(conv_id)
        msgs = (
            await conn.execute(
                sa.select(
                    messages.c.id,
                    messages.c.direction,
                    messages.c.channel,
                    messages.c.kind,
                    messages.c.sender_kind,
                    messages.c.sender_name,
                    messages.c.subject,
                    messages.c.text,
                    messages.c.html,
                    messages.c.meta,
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
        ).all()
        files: dict[str, list[dict[str, Any]]] = {}
        if msgs:
            found = await conn.execute(
                sa.select(attachments).where(attachments.c.message_id.in_([m.id for m in msgs]))
            )
            for a in found:
                files.setdefault(a.message_id, []).append(
                    {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}
                )
        items = [_message(m, files.get(m.id, [])) for m in msgs]
        await audit.record(
            conn,
            actor=who.actor,
            action="audit.read",
            subject_type="conversation",
            subject_id=conv_id,
            customer_id=row.customer_id,
        )
    return json_response({**_public(row, datetime.now(UTC)), "messages": items})


def _message(m: Any, files: list[dict[str, Any]]) -> dict[str, Any]:
    files = message_parts.with_content_ids(files, m.meta or {})
    item = {
        "id": m.id,
        "direction": m.direction,
        "channel": m.channel,
        "kind": m.kind,
        "sender_kind": m.sender_kind,
        "sender_name": m.sender_name,
        "subject": m.subject,
        "text": m.text,
        "full_text": message_parts.full_text(m.meta or {}),  # with the quoted history
        "html": message_parts.shown_html(m.html, files),  # sanitised at ingest; shown in a sandbox
        "meta": {k: v for k, v in (m.meta or {}).items() if k in SHOWN_META},
        "attachments": files,
        "received_at": iso(m.received_at),
    }
    if m.delivery_status is not None:  # a reply: how far it got
        details = m.details or {}
        item["delivery"] = {
            "status": m.delivery_status,
            "attempts": m.attempts,
            "error": m.error,
            "error_code": m.error_code,
            **{k: v for k, v in details.items() if k not in ("parts", "sent_parts")},
        }
    return item


class FileRef(RequestModel):
    model_config = ConfigDict(extra="forbid")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="as POST /api/v1/uploads returned it")
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field("application/octet-stream", max_length=200)


class ReplyIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field("", max_length=MAX_TEXT)
    attachments: list[FileRef] = Field([], max_length=10, description="uploaded files to send along")
    channel: Annotated[Literal["email", "sms", "voice", "fax", "chat", "api"] | None, NULLABLE] = Field(
        None, description="another channel of the same customer (default: the conversation's)"
    )


async def post_reply(request: web.Request) -> web.Response:
    body = validated(ReplyIn, await read_json_object(request, 256 * 1024))
    outbox_worker = request.app[OUTBOX]
    files = []
    for n, ref in enumerate(body.attachments):
        try:
            size = len(await request.app[BLOBS].get(ref.sha256))
        except NotFound as exc:
            raise InputError(f"attachments[{n}]: no upload {ref.sha256}", field="attachments") from exc
        files.append(
            Attachment(sha256=ref.sha256, filename=ref.filename, content_type=ref.content_type, size=size)
        )
    result = await replies.reply(
        request.app[STORE],
        request.app[ROUTING].rules,
        request.match_info["id"],
        request[AGENT],
        body.text,
        body.channel,
        outbox_worker.channels,
        files,
        outbox_worker.file_channels,
        request.app[IN_STORE],
    )
    outbox_worker.wake()
    return json_response(result, status=202)


class NoteIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=10_000)
    callback: bool = Field(False, description="the agent called the customer back (counts as a response)")
    mentions: list[str] = Field([], max_length=20, description="ids of agents @mentioned; they are told")


async def add_note(request: web.Request) -> web.Response:
    body = validated(NoteIn, await read_json_object(request, 64 * 1024))
    who = request[AGENT]
    result = await actions.add_note(
        request.app[STORE],
        request.app[ROUTING].rules,
        request.match_info["id"],
        who,
        body.text,
        body.callback,
        body.mentions,
    )
    _publish_note(request, result["conversation_id"], body.text, body.callback, body.mentions)
    return json_response(result, status=201)


def _publish_note(request: web.Request, conv_id: str, text: str, callback: bool, mentions: list[str]) -> None:
    who = request[AGENT]
    note = {"conversation_id": conv_id, "callback": callback, "text": text, "by": who.name}
    request.app[BUS].publish("conversation.note", {**note, "author_id": who.agent_id})
    for agent_id in dict.fromkeys(mentions):
        request.app[BUS].publish("conversation.mention", {**note, "agent_id": agent_id})


class RejectIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str | None, NULLABLE] = Field(None, max_length=500)


class TransferIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    queue: Annotated[str | None, NULLABLE] = Field(
        None, description="the queue to wait on; default: its current one"
    )
    agent_id: Annotated[str | None, NULLABLE] = Field(None, description="offer it to this agent first")
    note: Annotated[str | None, NULLABLE] = Field(
        None, max_length=10_000, description="an internal note for whoever takes it"
    )

    @model_validator(mode="after")
    def _somewhere(self) -> TransferIn:
        if self.queue is None and self.agent_id is None:
            raise ValueError("give a queue, an agent_id, or both")
        return self


class SnoozeIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    until: Annotated[datetime | None, NULLABLE] = Field(
        description="an ISO time with offset; null wakes it now"
    )

    @field_validator("until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the time with its offset, e.g. 2026-12-01T09:00:00+01:00")
        return value


async def _done(request: web.Request, result: dict[str, Any], topic: str | None = None) -> web.Response:
    """Tell the router (capacity may have freed up) and the consoles what happened."""
    conv_id = request.match_info["id"]
    await notify(request.app[INBOX], conversations=[conv_id])
    if topic is not None:
        request.app[BUS].publish(topic, {"conversation_id": conv_id, "by": request[AGENT].agent_id, **result})
    return json_response(result)


def _acting(request: web.Request) -> tuple[Store, RuleSet, str, Principal]:
    """What every action is called with: the store, the rules (for the visibility
    rule), the conversation id and the caller."""
    return request.app[STORE], request.app[ROUTING].rules, request.match_info["id"], request[AGENT]


async def accept(request: web.Request) -> web.Response:
    result = await actions.accept(*_acting(request))
    return await _done(request, {**result, "agent_id": request[AGENT].agent_id}, "conversation.assigned")


async def reject(request: web.Request) -> web.Response:
    body = validated(RejectIn, await read_json_object(request, 4096) if request.body_exists else {})
    result = await actions.reject(*_acting(request), body.reason)
    return await _done(request, result, "conversation.rejected")


async def close(request: web.Request) -> web.Response:
    result = await actions.close(*_acting(request))
    return await _done(request, result, "conversation.closed")


async def transfer(request: web.Request) -> web.Response:
    body = validated(TransferIn, await read_json_object(request, 16_384))
    conv_id = request.match_info["id"]
    result = await actions.transfer(*_acting(request), body.queue, body.agent_id, body.note)
    if body.note and body.note.strip():
        _publish_note(request, conv_id, body.note, False, [])
    return await _done(request, result, "conversation.transferred")


async def reopen(request: web.Request) -> web.Response:
    result = await actions.reopen(*_acting(request))
    return await _done(request, {**result, "agent_id": request[AGENT].agent_id}, "conversation.assigned")


async def snooze(request: web.Request) -> web.Response:
    body = validated(SnoozeIn, await read_json_object(request, 1024))
    result = await actions.snooze(*_acting(request), body.until)
    request.app[BUS].publish("conversation.snoozed", {"conversation_id": result["id"], **result})
    return json_response(result)


async def upload(request: web.Request) -> web.Response:
    """A file for a reply, into the blob store; the reply names it by its sha256."""
    name = _safe_filename(request.query.get("filename", ""))
    limit = request.app[SETTINGS].server.upload_max_bytes
    data = await read_limited(request, limit, "the file")
    if not data:
        raise InputError("the file is empty", field="(body)")
    sha = await request.app[BLOBS].put(data)
    content_type = request.content_type if "/" in request.content_type else "application/octet-stream"
    return json_response(
        {"sha256": sha, "filename": name, "content_type": content_type, "size": len(data)}, status=201
    )


def _safe_filename(raw: str) -> str:
    """The last path part, without control characters; ``file`` when nothing is left."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:255]
    if not name or name in (".", ".."):
        raise InputError("filename: give the file's name as ?filename=", field="filename")
    return name


async def retry(request: web.Request) -> web.Response:
    """Send a failed reply again, from its first part."""
    result = await replies.retry(
        request.app[STORE],
        request.app[ROUTING].rules,
        request.match_info["id"],
        request.match_info["message_id"],
        request[AGENT],
    )
    request.app[OUTBOX].wake()
    request.app[BUS].publish(
        "message.delivery",
        {"message_id": result["id"], "conversation_id": result["conversation_id"], "status": "queued"},
    )
    return json_response(result, status=202)


class TagsIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    tags: list[str] = Field(max_length=tags.MAX_TAGS, description="the conversation's tags, replacing them")


class TagIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    tag: str = Field(max_length=200, description="1 to 40 characters, no control characters")


async def _change_tags(request: web.Request, change: Any) -> web.Response:
    """Change a conversation's tags within the caller's view (the rule of GET), audited."""
    who = request[AGENT]
    conv_id = request.match_info["id"]
    result = await tags.set_tags(request.app[STORE], request.app[ROUTING].rules, conv_id, who, change)
    if result["added"] or result["removed"]:
        request.app[BUS].publish(
            "conversation.tagged", {"conversation_id": conv_id, **result, "by": who.name}
        )
    return json_response({"id": conv_id, "tags": result["tags"]})


async def put_tags(request: web.Request) -> web.Response:
    body = validated(TagsIn, await read_json_object(request, 16_384))
    wanted = [tags.clean_tag(t) for t in body.tags]
    return await _change_tags(request, lambda before: wanted)


async def add_tag(request: web.Request) -> web.Response:
    tag = tags.clean_tag(validated(TagIn, await read_json_object(request, 4096)).tag)
    return await _change_tags(request, lambda before: [*before, tag])


async def remove_tag(request: web.Request) -> web.Response:
    tag = tags.clean_tag(request.match_info["tag"])
    return await _change_tags(request, lambda before: [t for t in before if t != tag])


async def list_tags(request: web.Request) -> web.Response:
    """The tags in use, for autocomplete: the rules' and those on conversations the caller sees."""
    who = request[AGENT]
    async with request.app[STORE].read() as conn:
        visible = (await scope_of(conn, who, request.app[ROUTING].rules)).clause()
        items = await tags.tags_in_use(conn, request.app[ROUTING].rules, visible)
    return json_response({"items": items})


def tag_routes() -> list[RouteSpec]:
    base = "/api/v1/conversations/{id}/tags"
    answers = {
        200: "The conversation's tags now",
        404: "No such conversation for you",
        422: "Bad tag text (empty, over 40 characters, control characters) or too many tags",
        401: "Not signed in",
    }
    return [
        RouteSpec(
            "PUT",
            base,
            put_tags,
            "Replace the conversation's tags (audited)",
            "agent",
            tag="conversations",
            request_schema=TagsIn.model_json_schema(),
            responses=answers,
        ),
        RouteSpec(
            "POST",
            base,
            add_tag,
            "Add a tag to the conversation (audited)",
            "agent",
            tag="conversations",
            request_schema=TagIn.model_json_schema(),
            responses=answers,
        ),
        RouteSpec(
            "DELETE",
            base + "/{tag:.+}",
            remove_tag,
            "Remove a tag from the conversation (audited)",
            "agent",
            tag="conversations",
            responses=answers,
        ),
        RouteSpec(
            "GET",
            "/api/v1/tags",
            list_tags,
            "The tags in use (the rules' and those on conversations you see), for autocomplete",
            "agent",
            tag="conversations",
            responses={200: "Tags, sorted", 401: "Not signed in"},
        ),
    ]


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
            query={
                **{name: TEXT for name in ("status", "queue", "assignee", "view", "customer_id")},
                "limit": limit(500),
            },
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
            "Hand the conversation to a queue or an agent, with a note; it is routed again",
            TransferIn.model_json_schema(),
        ),
        action("reopen", reopen, "Open a closed conversation you may see again, assigned to you"),
        action(
            "snooze",
            snooze,
            "Hide it from your inbox until a time, or until the customer writes",
            SnoozeIn.model_json_schema(),
        ),
        RouteSpec(
            "POST",
            "/api/v1/uploads",
            upload,
            "Upload a file to attach to a reply (the raw bytes; ?filename=)",
            "agent",
            tag="conversations",
            query={"filename": TEXT},
            request_media="application/octet-stream",
            request_schema={"type": "string", "format": "binary"},
            responses={201: "Stored: name it in the reply's attachments", 413: "Too large", **common},
        ),
        RouteSpec(
            "POST",
            f"{base}/{{id}}/messages/{{message_id}}/retry",
            retry,
            "Send a failed reply again",
            "agent",
            tag="conversations",
            responses={202: "Queued again", **acts},
        ),
        *tag_routes(),
    ]
