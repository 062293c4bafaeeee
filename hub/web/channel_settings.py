"""Connector settings in the admin pages: ``GET/PUT /api/v1/channels/{name}/settings``.

Secrets are write-only: a response shows each as ``{"$secret": "set"}`` or null, and a
PUT that sends ``{"$secret": "set"}`` back keeps the saved value. Saved settings apply
when the hub processes start (connectors register their webhooks then); the response
says when the running process still has other settings than the saved ones.
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

from aiohttp import web
from pydantic import ConfigDict, Field

from connectors.base import MailThread, Outbound, SendFailed
from hub.channel_settings import env_locked, load_saved, masked, merge, revealed, save, sections
from hub.customers import audit
from hub.errors import Conflict, InputError, NotFound
from hub.keys import OUTBOX, ROUTES, SETTINGS, STORE
from hub.model import AddressKind, Channel
from hub.outbox.replies import consent_withdrawn
from hub.request_body import json_response, public_base, read_json_object
from hub.routespec import RouteSpec
from hub.settings_section import Section
from hub.store.repos import customers as customer_repo
from hub.store.times import iso
from hub.text.addresses import normalise_address
from hub.validation import RequestModel, validated
from hub.web.middleware import AGENT

log = logging.getLogger("contacthub.channels")

# the paths, per section, that a provider or an integration is given
PROVIDER_PATHS = {
    "twilio": "/webhooks/twilio/",
    "cti": "/webhooks/cti/",
    "fax": "/webhooks/fax/",
    "api": "/api/v1/messages",
    "chat": "/widget/chat.js",
}


def _section_name(request: web.Request) -> str:
    name = request.match_info["name"]
    if name not in sections():
        raise NotFound(f"no connector settings section {name!r}; there are {', '.join(sections())}")
    return name


def _running(request: web.Request, name: str) -> Section:
    section = getattr(request.app[SETTINGS].connectors, name)
    assert isinstance(section, Section)
    return section


def _provider_urls(request: web.Request, name: str, section: Section) -> list[dict[str, str]]:
    prefix = PROVIDER_PATHS.get(name)
    if prefix is None:
        return []
    base = public_base(request, getattr(section, "public_url", None), request.app[SETTINGS].server.public_url)
    return [
        {"method": spec.method, "url": base + spec.path, "purpose": spec.summary}
        for spec in request.app[ROUTES]
        if spec.path.startswith(prefix) and spec.method in ("POST", "GET")
    ]


async def _view(request: web.Request, name: str) -> dict[str, Any]:
    saved = (await load_saved(request.app[STORE])).get(name)
    running = _running(request, name)
    model = sections()[name]
    shown = model.model_validate(saved["data"]) if saved else running
    locked = env_locked(os.environ).get(name)
    return {
        "name": name,
        "schema": model.model_json_schema(),
        "values": masked(shown),
        "saved": {"by": saved["updated_by"], "at": iso(saved["updated_at"])} if saved else None,
        "locked_by_environment": locked,
        # connectors set up their webhooks and watchers as the process starts
        "restart_needed": saved is not None and not locked and revealed(running) != saved["data"],
        "provider_urls": _provider_urls(request, name, running),
    }


async def get_settings(request: web.Request) -> web.Response:
    return json_response(await _view(request, _section_name(request)))


async def put_settings(request: web.Request) -> web.Response:
    name = _section_name(request)
    body = await read_json_object(request, 256 * 1024)
    saved = (await load_saved(request.app[STORE])).get(name)
    base = sections()[name].model_validate(saved["data"]) if saved else _running(request, name)
    section = merge(name, body, base)
    who = request[AGENT].actor
    await save(request.app[STORE], name, section, who, env_locked(os.environ))
    async with request.app[STORE].write() as conn:
        await audit.record(
            conn,
            actor=who,
            action="channel.settings_saved",
            subject_type="channel",
            subject_id=name,
            customer_id=None,
        )
    return json_response(await _view(request, name))


# the sections whose connector can send a test message, and on which channel
TESTABLE = {"email": (Channel.EMAIL, AddressKind.EMAIL), "twilio": (Channel.SMS, AddressKind.PHONE)}
TEST_TEXT = {
    Channel.EMAIL: "This is a test message from ContactHub. / Dies ist eine Testnachricht von ContactHub.",
    Channel.SMS: "ContactHub test message / Testnachricht",
}


class TestSendIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(min_length=1, max_length=320, description="an email address or a phone number")


async def send_test(request: web.Request) -> web.Response:
    """Send one test message with the settings this process runs on, straight to the
    provider (no conversation, no outbox); the provider's refusal is in the answer."""
    name = _section_name(request)
    if name not in TESTABLE:
        raise InputError(f"{name} cannot send a test message; {', '.join(TESTABLE)} can", field="name")
    body = validated(TestSendIn, await read_json_object(request, 4096))
    channel, kind = TESTABLE[name]
    sender = request.app[OUTBOX].sender(channel.value)
    if sender is None:
        raise Conflict(f"this hub process does not send on {channel.value}: enable the connector and restart")
    region = request.app[SETTINGS].phone.default_region
    address = normalise_address(kind, body.to, default_region=region, field="to")
    to = address.value
    async with request.app[STORE].read() as conn:
        owner = await customer_repo.owner_of(conn, address)
        withdrawn = await consent_withdrawn(conn, owner, channel.value) if owner else None
    if withdrawn:
        raise Conflict(f"{to} belongs to a customer who withdrew consent ({withdrawn}): not sent")
    item_id = str(uuid.uuid4())
    item = Outbound(
        id=item_id,
        channel=channel,
        sender=None,
        recipient=to,
        text=TEST_TEXT[channel],
        attempt=1,
        thread=MailThread(
            subject="ContactHub test", in_reply_to=None, references=(), message_id=f"<{item_id}@test>"
        )
        if channel is Channel.EMAIL
        else None,
    )
    result: dict[str, Any]
    try:
        sent = await sender.send(item)
        result = {"sent": True, "provider_ids": list(sent.provider_ids)}
    except SendFailed as exc:
        result = {"sent": False, "error": str(exc), "permanent": exc.permanent}
    except Exception as exc:  # the provider could not be reached: say so, it is the point of the test
        log.warning("test send on %s failed: %r", channel.value, exc)
        result = {"sent": False, "error": f"{type(exc).__name__}: {exc}", "permanent": False}
    async with request.app[STORE].write() as conn:
        await audit.record(
            conn,
            actor=request[AGENT].actor,
            action="channel.test_sent",
            subject_type="channel",
            subject_id=name,
            customer_id=owner,
            data={"sent": result["sent"]},
        )
    return json_response(result)


def channel_settings_routes() -> list[RouteSpec]:
    common = {401: "Not signed in", 403: "Admins only", 404: "No such section"}
    return [
        RouteSpec(
            "GET",
            "/api/v1/channels/{name}/settings",
            get_settings,
            "A connector's settings (secrets only as set or not), their schema, and its provider URLs",
            "admin",
            tag="channels",
            responses={200: "The settings", **common},
        ),
        RouteSpec(
            "PUT",
            "/api/v1/channels/{name}/settings",
            put_settings,
            'Save a connector\'s settings; {"$secret": "set"} keeps a secret as it is',
            "admin",
            tag="channels",
            request_schema={"type": "object", "description": "the fields of GET .../settings (schema)"},
            responses={
                200: "Saved; restart_needed says whether the hub processes must restart",
                409: "Set by environment variables",
                422: "Invalid: names each field",
                **common,
            },
        ),
        RouteSpec(
            "POST",
            "/api/v1/channels/{name}/test",
            send_test,
            "Send a test message (email, twilio) with the settings in force; the answer says how it went",
            "admin",
            tag="channels",
            request_schema=TestSendIn.model_json_schema(),
            responses={
                200: "Sent, or the provider's refusal (sent: false, error)",
                409: "This process does not send on the channel, or the recipient withdrew consent",
                422: "No test for this section, or not an address",
                **common,
            },
        ),
    ]
