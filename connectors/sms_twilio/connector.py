"""The Twilio SMS webhook: verify, fetch media, append, answer TwiML once durable."""

from __future__ import annotations

from aiohttp import web
from twilio.twiml.messaging_response import MessagingResponse

from connectors.base import ConnectorContext
from connectors.lib.twilio.inbound import accepted, status_route
from connectors.lib.twilio.webhook import TwilioWebhooks
from connectors.sms_twilio.payloads import parse_sms
from hub.routespec import RouteSpec, form_schema
from hub.text.keywords import keyword_of

TWIML = "application/xml"
EMPTY_TWIML = str(MessagingResponse())


def routes(ctx: ConnectorContext) -> list[RouteSpec]:
    settings = ctx.settings.connectors.twilio
    webhooks = TwilioWebhooks.configured(ctx.settings)
    help_reply = MessagingResponse()
    help_reply.message(settings.help_reply)
    help_twiml = str(help_reply)

    async def inbound_sms(request: web.Request) -> web.Response:
        msg = await accepted(ctx, webhooks, request, parse_sms, "sms")
        return web.Response(
            text=help_twiml if keyword_of(msg.text) == "help" else EMPTY_TWIML, content_type=TWIML
        )

    return [
        status_route(ctx, webhooks, "/webhooks/twilio/sms/status", "sms"),
        RouteSpec(
            "POST",
            "/webhooks/twilio/sms",
            inbound_sms,
            "Twilio inbound SMS/MMS (X-Twilio-Signature checked against the public URL)",
            "signed",
            tag="channels",
            request_media="application/x-www-form-urlencoded",
            request_schema=form_schema(
                "MessageSid",
                "SmsSid",
                "AccountSid",
                "MessagingServiceSid",
                "From",
                "To",
                "Body",
                "NumMedia",
                "MediaUrl0",
                "MediaContentType0",
            ),
            responses={
                200: "TwiML: empty, or the HELP reply; the message is durable",
                403: "Signature missing or wrong, or an unknown account",
                413: "Body over the size limit",
                422: "A required field is missing",
                503: "The ingest queue is unreachable; Twilio retries",
            },
        ),
    ]
