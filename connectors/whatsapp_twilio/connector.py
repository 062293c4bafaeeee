"""The Twilio WhatsApp webhook: verify, fetch media, append, answer once durable."""

from __future__ import annotations

import time
from dataclasses import replace

from aiohttp import web
from twilio.twiml.messaging_response import MessagingResponse

from connectors.base import ConnectorContext
from connectors.lib.twilio.inbound import fetched_media, status_route
from connectors.lib.twilio.webhook import TwilioWebhooks
from connectors.whatsapp_twilio.payloads import parse_whatsapp
from hub.routespec import RouteSpec, form_schema

TWIML = "application/xml"
EMPTY_TWIML = str(MessagingResponse())


def routes(ctx: ConnectorContext) -> list[RouteSpec]:
    webhooks = TwilioWebhooks.configured(ctx.settings)
    region = ctx.settings.phone.default_region
    accepted = ctx.metrics.accepted.labels("whatsapp")
    append_latency = ctx.metrics.stage.labels("append")

    async def inbound_whatsapp(request: web.Request) -> web.Response:
        form, account = await webhooks.verified(request)
        attachments, failed = await fetched_media(ctx, form, account, "whatsapp")
        msg = parse_whatsapp(form, received_at=ctx.clock(), region=region, attachments=attachments)
        if failed:
            msg = replace(msg, meta={**msg.meta, "media_not_stored": " ".join(failed)})
        started = time.perf_counter()
        await ctx.queue.append(msg)
        append_latency.observe(time.perf_counter() - started)
        accepted.inc()
        return web.Response(text=EMPTY_TWIML, content_type=TWIML)

    return [
        status_route(ctx, webhooks, "/webhooks/twilio/whatsapp/status", "whatsapp"),
        RouteSpec(
            "POST",
            "/webhooks/twilio/whatsapp",
            inbound_whatsapp,
            "Twilio inbound WhatsApp messages (X-Twilio-Signature checked against the public URL)",
            "signed",
            tag="channels",
            request_media="application/x-www-form-urlencoded",
            request_schema=form_schema(
                "MessageSid",
                "AccountSid",
                "From",
                "To",
                "Body",
                "ProfileName",
                "WaId",
                "ButtonText",
                "ButtonPayload",
                "Latitude",
                "Longitude",
                "NumMedia",
                "MediaUrl0",
                "MediaContentType0",
            ),
            responses={
                200: "Empty TwiML; the message is durable",
                403: "Signature missing or wrong, or an unknown account",
                413: "Body over the size limit",
                422: "A required field is missing or not a WhatsApp address",
                503: "The ingest queue is unreachable; Twilio retries",
            },
        ),
    ]
