"""What Twilio's messaging webhooks share at the edge: verifying a message, fetching its
media into the attachment store and appending it (``accepted``), and the delivery-report
route of the replies."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime

from aiohttp import web

from connectors.base import ConnectorContext
from connectors.lib.twilio.media import MediaError, fetch_media
from connectors.lib.twilio.messaging import delivery_state, media_of
from connectors.lib.twilio.settings import TwilioAccount
from connectors.lib.twilio.webhook import TwilioWebhooks
from hub.model import Attachment, InboundMessage
from hub.routespec import TEXT, RouteSpec, form_schema

log = logging.getLogger("contacthub.twilio")


async def fetched_media(
    ctx: ConnectorContext, form: Mapping[str, str], account: TwilioAccount, channel: str
) -> tuple[tuple[Attachment, ...], list[str]]:
    """The message's media in the blob store, and the URLs that could not be fetched (the
    text still arrives; the links are kept to fetch later)."""
    settings = ctx.settings.connectors.twilio
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
                    name=f"{form.get('MessageSid', 'media')}-{n}",
                )
            )
        except MediaError as exc:
            log.warning("media not stored: %s", exc, extra={"channel": channel})
            failed.append(url)
    return tuple(attachments), failed


# parse(form, received_at=…, region=…, attachments=…): the channel's payload parser
Parse = Callable[..., InboundMessage]


async def accepted(
    ctx: ConnectorContext, webhooks: TwilioWebhooks, request: web.Request, parse: Parse, channel: str
) -> InboundMessage:
    """The webhook's message, verified, its media fetched, durable on the ingest queue."""
    form, account = await webhooks.verified(request)
    attachments, failed = await fetched_media(ctx, form, account, channel)
    received_at: datetime = ctx.clock()
    msg = parse(
        form, received_at=received_at, region=ctx.settings.phone.default_region, attachments=attachments
    )
    if failed:
        msg = replace(msg, meta={**msg.meta, "media_not_stored": " ".join(failed)})
    started = time.perf_counter()
    await ctx.queue.append(msg)
    ctx.metrics.stage.labels("append").observe(time.perf_counter() - started)
    ctx.metrics.accepted.labels(channel).inc()
    return msg


def status_route(ctx: ConnectorContext, webhooks: TwilioWebhooks, path: str, channel: str) -> RouteSpec:
    """``POST path?id=<reply>``: Twilio's delivery reports of a reply."""

    async def delivery_status(request: web.Request) -> web.Response:
        form, _account = await webhooks.verified(request)
        reply_id = request.query.get("id", "")
        status = delivery_state(form)
        known = await ctx.report_delivery(reply_id, form.get("MessageSid", ""), status, form.get("ErrorCode"))
        if not known:  # not ours (or erased): acknowledged so Twilio stops retrying
            log.info("delivery report for an unknown reply ignored", extra={"channel": channel})
        return web.Response(status=204)

    return RouteSpec(
        "POST",
        path,
        delivery_status,
        f"Twilio delivery reports for {channel} replies (signature checked)",
        "signed",
        tag="channels",
        query={"id": TEXT},
        request_media="application/x-www-form-urlencoded",
        request_schema=form_schema("MessageSid", "AccountSid", "MessageStatus", "ErrorCode"),
        responses={204: "Recorded (or ignored: not a reply of ours)", 403: "Signature missing or wrong"},
    )
