"""The Twilio SMS webhook: verify, fetch media, append, answer TwiML once durable."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from aiohttp import web
from twilio.twiml.messaging_response import MessagingResponse

from connectors.base import ConnectorContext
from connectors.lib.twilio.media import MediaError, fetch_media
from connectors.lib.twilio.webhook import TwilioWebhooks
from connectors.sms_twilio.payloads import delivery_state, media_of, parse_sms
from hub.errors import ConfigError
from hub.model import Attachment
from hub.routespec import TEXT, RouteSpec, form_schema
from hub.text.keywords import keyword_of

log = logging.getLogger("contacthub.sms")
TWIML = "application/xml"
EMPTY_TWIML = str(MessagingResponse())


def routes(ctx: ConnectorContext) -> list[RouteSpec]:
    settings = ctx.settings.connectors.twilio
    webhooks = TwilioWebhooks(ctx.settings)
    if webhooks.public_url is None or not webhooks.accounts:
        raise ConfigError(
            "connectors.twilio: set public_url (the URL Twilio calls, for its signatures) and at "
            "least one [[connectors.twilio.accounts]] with account_sid and auth_token"
        )
    region = ctx.settings.phone.default_region
    accepted = ctx.metrics.accepted.labels("sms")
    help_reply = MessagingResponse()
    help_reply.message(settings.help_reply)
    help_twiml = str(help_reply)
    append_latency = ctx.metrics.stage.labels("append")

    async def inbound_sms(request: web.Request) -> web.Response:
        form, account = await webhooks.verified(request)
        attachments: list[Attachment] = []
        failed: list[str] = []
        for n, (url, content_type) in enumerate(media_of(form)):
            try:
                attachments.append(
                    await fetch_media(
                        ctx.http,
                        url,
                        content_type,
                        account=account,
                        blobs=ctx.blobs,
                        max_bytes=settings.media_max_bytes,
                        hosts=settings.media_hosts,
                        name=f"{form.get('MessageSid', 'mms')}-{n}",
                    )
                )
            except MediaError as exc:  # the text still arrives; the link is kept to fetch later
                log.warning("MMS media not stored: %s", exc, extra={"channel": "sms"})
                failed.append(url)
        msg = parse_sms(form, received_at=ctx.clock(), region=region, attachments=tuple(attachments))
        if failed:
            msg = replace(msg, meta={**msg.meta, "media_not_stored": " ".join(failed)})
        started = time.perf_counter()
        await ctx.queue.append(msg)
        append_latency.observe(time.perf_counter() - started)
        accepted.inc()
        return web.Response(
            text=help_twiml if keyword_of(msg.text) == "help" else EMPTY_TWIML, content_type=TWIML
        )

    async def delivery_status(request: web.Request) -> web.Response:
        form, _account = await webhooks.verified(request)
        reply_id = request.query.get("id", "")
        status = delivery_state(form)
        known = await ctx.report_delivery(reply_id, form.get("MessageSid", ""), status, form.get("ErrorCode"))
        if not known:  # not ours (or erased): acknowledged so Twilio stops retrying
            log.info("delivery report for an unknown reply ignored", extra={"channel": "sms"})
        return web.Response(status=204)

    return [
        RouteSpec(
            "POST",
            "/webhooks/twilio/sms/status",
            delivery_status,
            "Twilio delivery reports for replies (signature checked)",
            "signed",
            tag="channels",
            query={"id": TEXT},
            request_media="application/x-www-form-urlencoded",
            request_schema=form_schema("MessageSid", "AccountSid", "MessageStatus", "ErrorCode"),
            responses={204: "Recorded (or ignored: not a reply of ours)", 403: "Signature missing or wrong"},
        ),
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
