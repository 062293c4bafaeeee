"""The Twilio WhatsApp webhook: verify, fetch media, append, answer once durable."""

from __future__ import annotations

from aiohttp import web
from twilio.twiml.messaging_response import MessagingResponse

from connectors.base import ConnectorContext
from connectors.lib.twilio.inbound import accepted, status_route
from connectors.lib.twilio.webhook import TwilioWebhooks
from connectors.whatsapp_twilio.payloads import parse_whatsapp
from hub.routespec import RouteSpec, form_schema

TWIML = "application/xml"
EMPTY_TWIML = str(MessagingResponse())


def routes(ctx: ConnectorContext) -> list[RouteSpec]:
    webhooks = TwilioWebhooks.configured(ctx.settings)

    async def inbound_whatsapp(request: web.Request) -> web.Response:
        await accepted(ctx, webhooks, request, parse_whatsapp, "whatsapp")
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
