"""Starting conversations and the contact policy on the web: ``POST /api/v1/conversations``
(an agent starts one), a check of the policy before writing, what the composer may offer,
and the policy's text and versions for the admin pages."""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import ConfigDict, Field

from hub.errors import InputError
from hub.keys import APPROVALS, CONTACT_POLICY, OUTBOX, OUTREACH, SETTINGS, STORE
from hub.outbox.replies import MAX_TEXT
from hub.outreach.approvals import MAX_DAYS, Grant
from hub.outreach.policy import PURPOSES
from hub.outreach.start import CALLBACK, Start
from hub.request_body import json_response, read_json_object
from hub.routespec import RouteSpec
from hub.store.repos import outreach as repo
from hub.validation import NULLABLE, RequestModel, validated
from hub.web.conversations import FileRef, uploaded_files
from hub.web.middleware import AGENT
from hub.web.versions import config_routes
from hub.web.whatsapp import TemplateIn, filled

Channel = Literal["email", "sms", "whatsapp", "api", "fax", "voice"]
Purpose = Literal["service", "marketing"]
Name = Annotated[str | None, NULLABLE]


class CheckIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: str = Field(min_length=1, max_length=36)
    channel: Channel
    purpose: Purpose = "service"
    department: Name = Field(None, max_length=100, description="default: your first department")


class StartIn(CheckIn):
    text: str = Field("", max_length=MAX_TEXT, description="the message (a callback task: what it is about)")
    subject: Name = Field(None, max_length=500, description="email: required")
    mailbox: Name = Field(None, max_length=100, description="email: the mailbox to send from (its name)")
    to: Name = Field(
        None, max_length=320, description="which of the customer's addresses (default: the first)"
    )
    queue: Name = Field(None, max_length=60, description="a callback task: the queue it waits on")
    attachments: list[FileRef] = Field([], max_length=10, description="uploaded files (fax: the PDF)")
    override: Name = Field(
        None, min_length=3, max_length=1000, description="supervisors: why it goes despite the contact policy"
    )
    template: Annotated[TemplateIn | None, NULLABLE] = Field(
        None,
        description="WhatsApp: a registered template instead of text (needed outside the 24-hour window)",
    )


def _sender(request: web.Request, body: StartIn) -> str | None:
    """Our address for an email: the named mailbox's (else ``connectors.email.from_address``)."""
    if body.mailbox is None:
        return None
    if body.channel != "email":
        raise InputError("mailbox: only an email is sent from a mailbox", field="mailbox")
    boxes = request.app[SETTINGS].connectors.email.mailboxes
    box = boxes.get(body.mailbox)
    if box is None:
        known = ", ".join(sorted(boxes)) or "none is set up"
        raise InputError(f"mailbox: no mailbox {body.mailbox!r} (mailboxes: {known})", field="mailbox")
    return box.reply_address()


async def start_conversation(request: web.Request) -> web.Response:
    body = validated(StartIn, await read_json_object(request, 256 * 1024))
    if body.channel != CALLBACK and body.queue is not None:
        raise InputError(
            "queue: only a callback task waits on a queue; a message stays with you", field="queue"
        )
    start = Start(
        customer_id=body.customer_id,
        channel=body.channel,
        purpose=body.purpose,
        department=body.department,
        text=body.text,
        subject=body.subject,
        sender=_sender(request, body),
        to=body.to,
        queue=body.queue,
        override=body.override,
        files=await uploaded_files(request, body.attachments),
        template=filled(request, body.template),
    )
    result = await request.app[OUTREACH].start(request[AGENT], start)
    request.app[OUTBOX].wake()
    return json_response(result, status=201)


async def check_contact(request: web.Request) -> web.Response:
    body = validated(CheckIn, await read_json_object(request, 4 * 1024))
    blocks = await request.app[OUTREACH].check(
        request[AGENT],
        Start(
            customer_id=body.customer_id,
            channel=body.channel,
            purpose=body.purpose,
            department=body.department,
        ),
    )
    return json_response({"allowed": not blocks, "blocks": [b.as_dict() for b in blocks]})


class GrantIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    department: Name = Field(
        None, min_length=1, max_length=100, description="whose contacts; null: any department"
    )
    purpose: Annotated[Purpose | None, NULLABLE] = Field(None, description="null: any purpose")
    days: int = Field(ge=1, le=MAX_DAYS, description="how long it holds")
    note: Name = Field(None, max_length=1000, description="why, for the timeline")


async def list_approvals(request: web.Request) -> web.Response:
    return json_response(await request.app[APPROVALS].listing(request[AGENT], request.match_info["id"]))


async def grant_approval(request: web.Request) -> web.Response:
    body = validated(GrantIn, await read_json_object(request, 4 * 1024))
    grant = Grant(department=body.department, purpose=body.purpose, days=body.days, note=body.note)
    return json_response(
        await request.app[APPROVALS].grant(request[AGENT], request.match_info["id"], grant), status=201
    )


async def revoke_approval(request: web.Request) -> web.Response:
    await request.app[APPROVALS].revoke(
        request[AGENT], request.match_info["id"], request.match_info["approval"]
    )
    return web.Response(status=204)


async def outreach_options(request: web.Request) -> web.Response:
    """What the composer offers: the channels a contact can start on, the mailboxes, the
    caller's departments and the purposes."""
    settings = request.app[SETTINGS]
    sends = request.app[OUTBOX].channels
    boxes = settings.connectors.email.mailboxes
    async with request.app[STORE].read() as conn:
        departments = await repo.agent_departments(conn, request[AGENT].agent_id)
    return json_response(
        {
            "channels": [c for c in ("email", "sms", "whatsapp", "api", "fax") if c in sends] + [CALLBACK],
            "mailboxes": [
                {"name": name, "address": box.reply_address()}
                for name, box in sorted(boxes.items())
                if box.reply_address() and not box.fax_gateway
            ]
            if "email" in sends
            else [],
            "departments": departments,
            "purposes": list(PURPOSES),
        }
    )


def outreach_routes() -> list[RouteSpec]:
    common = {401: "Not signed in", 403: "Role too low"}
    return [
        RouteSpec(
            "POST",
            "/api/v1/conversations",
            start_conversation,
            "Start a conversation with a customer: email, SMS, WhatsApp (a template outside the"
            " 24-hour window), API, fax, or a callback task (voice); consent and the contact policy"
            " are checked",
            "agent",
            tag="conversations",
            request_schema=StartIn.model_json_schema(),
            responses={
                201: "Started: the conversation is yours; the message goes through the outbox",
                403: "Overriding the contact policy needs a supervisor",
                404: "No such customer",
                409: "Blocked by the contact policy (each rule with its conflicting conversation), no"
                " consent, an open conversation on that channel, an address that bounced, or free text"
                " on WhatsApp outside the 24-hour window (whatsapp-window)",
                422: "Bad input: the detail names the field",
                **common,
            },
        ),
        RouteSpec(
            "POST",
            "/api/v1/contact-policy/check",
            check_contact,
            "What the contact policy says to a contact now, before it is written",
            "agent",
            tag="conversations",
            request_schema=CheckIn.model_json_schema(),
            responses={
                200: "allowed, and every rule that blocks",
                404: "No such customer",
                422: "Bad input",
                **common,
            },
        ),
        RouteSpec(
            "GET",
            "/api/v1/outreach/options",
            outreach_options,
            "What a new conversation can be: channels, mailboxes, your departments, purposes",
            "agent",
            tag="conversations",
            responses={200: "The options", **common},
        ),
        RouteSpec(
            "GET",
            "/api/v1/customers/{id}/contact-approvals",
            list_approvals,
            "A key account's approvals: whom its manager lets contact it, for what, until when",
            "agent",
            tag="customers",
            responses={200: "The approvals, the latest first", 404: "No such customer", **common},
        ),
        RouteSpec(
            "POST",
            "/api/v1/customers/{id}/contact-approvals",
            grant_approval,
            "The key account manager (or a supervisor) lets a department contact their account"
            " for a purpose, for some days, despite the contact policy's key_accounts rule",
            "agent",
            tag="customers",
            request_schema=GrantIn.model_json_schema(),
            responses={
                201: "Granted",
                403: "Not the customer's key account manager nor a supervisor",
                404: "No such customer",
                409: "Not a key account",
                422: "Bad input",
                **common,
            },
        ),
        RouteSpec(
            "DELETE",
            "/api/v1/customers/{id}/contact-approvals/{approval}",
            revoke_approval,
            "Take an approval back",
            "agent",
            tag="customers",
            responses={
                204: "Revoked",
                403: "Not the customer's key account manager nor a supervisor",
                404: "No such customer, or no such approval in force",
                **common,
            },
        ),
        *config_routes(
            "/api/v1/contact-policy",
            CONTACT_POLICY,
            "contact policy",
            "admin",
            "contact_policy.saved",
            "contact_policy",
        ),
    ]
