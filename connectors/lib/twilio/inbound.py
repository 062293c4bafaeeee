"""What Twilio's messaging webhooks share at the edge: fetching a message's media into
the attachment store, and the delivery-report route of the replies."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web

from connectors.base import ConnectorContext
from connectors.lib.twilio.media import MediaError, fetch_media
from connectors.lib.twilio.messaging import delivery_state, media_of
from connectors.lib.twilio.settings import TwilioAccount
from connectors.lib.twilio.webhook import TwilioWebhooks
from hub.model import Attachment
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
