"""Conversations: list and detail, and the agent actions on them.

Agents see their own conversations, those waiting on the queues they serve and those
their teammates hold (hub/auth/visibility.py); supervisors and admins see all.
Every route under ``/api/v1/conversations/{id}`` asks that rule (the actions in
hub/dispatch/actions.py and hub/outbox/replies.py, in their own transaction): a
conversation the caller may not see is a 404, with the same words as for an unknown id.
Reading a conversation's messages is written to the audit log.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import ConfigDict, Field, field_validator, model_validator

from hub import message_parts
from hub.auth.sessions import Principal
from hub.auth.visibility import hidden, scope_of
from hub.clock import Clock
from hub.customers import audit
from hub.dispatch import actions, tags
from hub.dispatch.inbox import notify
from hub.errors import InputError, NotFound
from hub.keys import BLOBS, BUS, CLOCK, IN_STORE, INBOX, OUTBOX, ROUTING, SETTINGS, STORE
from hub.model import Attachment, Channel, ConversationStatus
from hub.outbox import replies
from hub.outbox.replies import MAX_TEXT
from hub.request_body import int_query, json_response, read_json_object, read_limited
from hub.routespec import TEXT, RouteSpec, limit
from hub.routing.rules import RuleSet
from hub.search import service as search
from hub.store.engine import Store
from hub.store.repos import conversations as conversation_repo
from hub.store.repos.conversations import ConversationFilter, ListedConversation, ThreadMessage
from hub.store.search_index import Filters
from hub.store.times import iso
from hub.validation import NULLABLE, RequestModel, validated
from hub.web.middleware import AGENT
from hub.web.whatsapp import TemplateIn, filled

STATUSES = tuple(ConversationStatus)
VIEWS = ("all", "mine", "queues")


def _public(listed: ListedConversation, now: datetime) -> dict[str, Any]:
    conv, customer = listed.conversation, listed.customer
    return {
        "id": conv.id,
        "customer_id": conv.customer_id,
        "customer": {"name": customer.name, "tier": customer.tier, "contact": customer.contact},
        "channel": conv.channel,
        "status": conv.status,
        "state": conv.state,
        "queue": conv.queue,
        "offered_to": conv.offered_to,
        "offer_expires_at": iso(conv.offer_expires_at),
        "assignee_id": conv.assignee_id,
        "assigned_at": iso(conv.assigned_at),
        "message_count": conv.message_count,
        "opened_at": iso(conv.opened_at),
        "last_message_at": iso(conv.last_message_at),
        "closed_at": iso(conv.closed_at),
        "tags": conv.route.get("tags", []),
        "department": conv.route.get("department"),
        "priority": conv.priority,
        "snoozed_until": iso(conv.snoozed_until),
        "snoozed": conv.snoozed(now),
        "sla": {
            "first_response_due": iso(conv.first_response_due),
            "first_response_at": iso(conv.first_response_at),
            "next_response_due": iso(conv.next_response_due),
            "breached": conv.breached,
            "breached_at": iso(conv.breached_at),
        },
    }


def _filter(request: web.Request) -> ConversationFilter:
    """The list's query parameters as a filter; InputError for an unknown status or view."""
    who = request[AGENT]
    limit = int_query(request, "limit", 50, 500)
    status = request.query.get("status")
    if status is not None and status not in STATUSES:
        raise InputError(f"status: one of {', '.join(STATUSES)}", field="status")
    view = request.query.get("view", "all")
    if view not in VIEWS:
        raise InputError(f"view: one of {', '.join(VIEWS)}", field="view")
    assignee = request.query.get("assignee")
    tag = request.query.get("tag")
    return ConversationFilter(
        limit=limit,
        status=None if status is None else ConversationStatus(status),
        queue=request.query.get("queue") or None,
        assignee_id=who.agent_id if assignee == "me" else assignee,
        customer_id=request.query.get("customer_id") or None,
        tag=tags.clean_tag(tag) if tag else None,
        held_by=who.agent_id if view == "mine" else None,
        waiting=view == "queues",
    )


async def list_conversations(request: web.Request) -> web.Response:
    """Agents see their own, their queues' waiting and their teammates' conversations;
    ``view=mine`` narrows to their own, ``view=queues`` to the waiting ones."""
    wanted = _filter(request)
    async with request.app[STORE].read() as conn:
        scope = await scope_of(conn, request[AGENT], request.app[ROUTING].rules)
        if q := request.query.get("q"):  # the same search as /api/v1/search
            hits = await search.conversation_ids(
                conn, request[AGENT], request.app[ROUTING].rules, q, Filters(), wanted.limit
            )
            wanted = replace(wanted, ids=tuple(hits))
        found = await conversation_repo.list_conversations(conn, wanted, scope.clause())
    now = datetime.now(UTC)
    return json_response({"items": [_public(listed, now) for listed in found]})


async def get_conversation(request: web.Request) -> web.Response:
    who = request[AGENT]
    conv_id = request.match_info["id"]
    async with request.app[STORE].write() as conn:
        listed = await conversation_repo.get_listed(conn, conv_id)
        if listed is None or not (await scope_of(conn, who, request.app[ROUTING].rules)).allows(
            listed.conversation
        ):
            raise hidden(conv_id)
        items = [_message(m) for m in await conversation_repo.thread(conn, conv_id)]
        await audit.record(
            conn,
            actor=who.actor,
            action="audit.read",
            subject_type="conversation",
            subject_id=conv_id,
            customer_id=listed.conversation.customer_id,
        )
    return json_response({**_public(listed, datetime.now(UTC)), "messages": items})


def _message(item: ThreadMessage) -> dict[str, Any]:
    m = item.message
    files = message_parts.with_content_ids(
        [
            {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in item.attachments
        ],
        m.meta,
    )
    shown = {
        "id": m.id,
        "direction": m.direction,
        "channel": m.channel,
        "kind": m.kind,
        "sender_kind": m.sender_kind,
        "sender_name": m.sender_name,
        "subject": m.subject,
        "text": m.text,
        "full_text": message_parts.full_text(m.meta),  # with the quoted history
        "html": message_parts.shown_html(m.html, files),  # sanitised at ingest; shown in a sandbox
        "meta": message_parts.shown_meta(m.meta),
        "attachments": files,
        "received_at": iso(m.received_at),
    }
    if item.delivery is not None:  # a reply: how far it got
        d = item.delivery
        shown["delivery"] = {
            "status": d.status,
            "attempts": d.attempts,
            "error": d.error,
            "error_code": d.error_code,
            **{k: v for k, v in d.details.items() if k not in ("parts", "sent_parts")},
        }
    return shown


class FileRef(RequestModel):
    model_config = ConfigDict(extra="forbid")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="as POST /api/v1/uploads returned it")
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field("application/octet-stream", max_length=200)


class ReplyIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field("", max_length=MAX_TEXT)
    attachments: list[FileRef] = Field([], max_length=10, description="uploaded files to send along")
    channel: Annotated[Channel | None, NULLABLE] = Field(
        None, description="another channel of the same customer (default: the conversation's)"
    )
    template: Annotated[TemplateIn | None, NULLABLE] = Field(
        None, description="WhatsApp: a registered template instead of text (outside the 24-hour window)"
    )
    client_id: Annotated[str | None, NULLABLE] = Field(
        None,
        min_length=8,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="the sender's own id for this reply: sent again (after a lost answer), it answers the"
        " first reply (200, repeat: true) instead of sending a second; another text under it is 409",
    )


async def uploaded_files(request: web.Request, refs: list[FileRef]) -> list[Attachment]:
    """The uploads a message names, each with its size; InputError names one not uploaded."""
    files = []
    for n, ref in enumerate(refs):
        try:
            size = len(await request.app[BLOBS].get(ref.sha256))
        except NotFound as exc:
            raise InputError(f"attachments[{n}]: no upload {ref.sha256}", field="attachments") from exc
        files.append(
            Attachment(sha256=ref.sha256, filename=ref.filename, content_type=ref.content_type, size=size)
        )
    return files


async def post_reply(request: web.Request) -> web.Response:
    body = validated(ReplyIn, await read_json_object(request, 256 * 1024))
    outbox_worker = request.app[OUTBOX]
    files = await uploaded_files(request, body.attachments)
    result = await replies.reply(
        request.app[STORE],
        request.app[ROUTING].rules,
        request.match_info["id"],
        request[AGENT],
        request.app[CLOCK],
        body.text,
        body.channel,
        outbox_worker.channels,
        files,
        outbox_worker.file_channels,
        request.app[IN_STORE],
        filled(request, body.template),
        body.client_id,
    )
    if result.get("repeat"):
        return json_response(result, status=200)
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
        request.app[CLOCK],
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


def _acting(request: web.Request) -> tuple[Store, RuleSet, str, Principal, Clock]:
    """What every action is called with: the store, the rules (for the visibility
    rule), the conversation id, the caller and the clock."""
    app = request.app
    return app[STORE], app[ROUTING].rules, request.match_info["id"], request[AGENT], app[CLOCK]


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
        request.app[CLOCK],
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
            "Conversations (filters: status, queue, assignee=me|id, tag, q: words as in /api/v1/search,"
            " limit); agents see their own",
            "agent",
            tag="conversations",
            query={
                **{name: TEXT for name in ("status", "queue", "assignee", "view", "customer_id", "tag")},
                "q": {**TEXT, "maxLength": 500},
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
                200: "The reply sent before under this client_id (repeat: true); nothing sent again",
                202: "Queued for sending",
                403: "Not your conversation",
                404: "No such conversation",
                409: "Closed, the customer withdrew consent for the channel, WhatsApp's 24-hour"
                " window is closed and no template was given (whatsapp-window), or the client_id"
                " was used for another reply",
                422: "Empty text, no connector sends on that channel, or an unknown or unfilled template",
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
