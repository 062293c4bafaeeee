"""``POST /webhooks/fax/{phaxio,sinch,generic}``: verify, then a received fax is stored
and queued for its pages and text (answered once durable), a status report updates the
reply it is about. Rendering and OCR never run in the request: the gateway gets its
answer in milliseconds, whatever the fax holds."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from connectors.base import ConnectorContext
from connectors.fax.gateways import callback_base, gateways
from connectors.fax.prepare import accept_fax
from connectors.fax.provider import FaxProvider, StatusReport, read_callback
from hub.errors import ConfigError
from hub.model import Channel, message_id
from hub.request_body import json_response
from hub.routespec import TEXT, RouteSpec, form_schema

log = logging.getLogger("contacthub.fax")
SUMMARY = {
    "phaxio": "Phaxio-style fax callbacks: received faxes and delivery reports (X-Phaxio-Signature checked)",
    "sinch": "Sinch-style fax callbacks, multipart or JSON: INCOMING_FAX, FAX_COMPLETED (basic auth checked)",
    "generic": "Signed fax events from a self-hosted fax server, e.g. HylaFAX (HMAC-SHA256 with a timestamp)",
}
MEDIA = {"phaxio": "multipart/form-data", "sinch": "multipart/form-data", "generic": "application/json"}
# what each gateway's callback carries (the fax object travels as a JSON text field)
SCHEMA: dict[str, dict[str, Any]] = {
    "phaxio": form_schema("fax", "direction", "success", "event", files=("file",)),
    "sinch": form_schema("fax", "event", files=("file",)),
    "generic": {
        "type": "object",
        "properties": {
            "event": {"type": "string", "enum": ["fax.received", "fax.status"]},
            "id": {"type": "string"},
            "from": {"type": "string"},
            "to": {"type": "string"},
            "pages": {"type": "integer"},
            "station_id": {"type": "string"},
            "status": {"type": "string"},
            "reply_id": {"type": "string"},
            "code": {"type": "string"},
            "file": {
                "type": "object",
                "properties": {
                    "filename": {"type": "string"},
                    "content_type": {"type": "string"},
                    "data": {"type": "string", "contentEncoding": "base64"},
                },
            },
        },
        "required": ["event", "id"],
    },
}


def routes(ctx: ConnectorContext) -> list[RouteSpec]:
    settings = ctx.settings.connectors.fax
    found = gateways(ctx.settings)
    if not found and not _gateway_mailboxes(ctx):
        raise ConfigError(
            "connectors.fax: configure a gateway ([connectors.fax.phaxio], .sinch or .generic) "
            "or an email-to-fax mailbox (fax_gateway on a mailbox)"
        )
    public = callback_base(ctx.settings)
    if "phaxio" in found and public is None:
        raise ConfigError(
            "connectors.fax.public_url: Phaxio signs the URL it calls; set it (or server.public_url)"
        )
    return [_route(ctx, gateway, public, settings.max_bytes) for gateway in found.values()]


def _gateway_mailboxes(ctx: ConnectorContext) -> bool:
    email = ctx.settings.connectors.email
    return email.enabled and any(box.fax_gateway for box in email.mailboxes.values())


def _route(ctx: ConnectorContext, gateway: FaxProvider, public: str | None, max_bytes: int) -> RouteSpec:
    async def webhook(request: web.Request) -> web.Response:
        callback = await read_callback(request, public, max_bytes)
        gateway.verify(callback, ctx.clock())
        event = gateway.parse(callback)
        if isinstance(event, StatusReport):
            known = await ctx.report_delivery(event.reply_id, event.provider_id, event.status, event.code)
            if not known:  # not ours (or erased): acknowledged so the gateway stops retrying
                log.info("fax report for an unknown reply ignored", extra={"channel": "fax"})
            return json_response({"recorded": known})
        job = await accept_fax(ctx, event)
        return json_response({"id": message_id(Channel.FAX, job.external_id), "status": "accepted"})

    return RouteSpec(
        "POST",
        f"/webhooks/fax/{gateway.name}",
        webhook,
        SUMMARY[gateway.name],
        "signed",
        tag="channels",
        request_media=MEDIA[gateway.name],
        request_schema=SCHEMA[gateway.name],
        query={"id": TEXT},
        responses={
            200: "Durable (the fax's pages and text follow), a report recorded, or an event ignored",
            400: "The body is malformed",
            401: "Credentials missing or wrong (Sinch)",
            403: "Signature missing or wrong, or outside the replay window",
            413: "Over connectors.fax.max_bytes",
            422: "A required field is missing",
            503: "The queue is unreachable; the gateway retries",
        },
    )
