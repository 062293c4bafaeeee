"""The email connector's SPEC: how the app enables and wires it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from connectors.base import ConnectorContext, ConnectorSpec, RunsInBackground, Sender
from connectors.email.imap import MailboxWatcher
from connectors.email.inbound import bounced_reply, our_addresses, stored_inbound
from connectors.email.payloads import parse_mail
from connectors.email.sender import SmtpSender
from connectors.email.settings import MailboxSettings
from connectors.fax.email_gateway import gateway_fax
from connectors.fax.prepare import accept_fax
from hub.errors import ConfigError
from hub.model import Channel
from hub.routespec import RouteSpec
from hub.settings import Settings


def _watchers(ctx: ConnectorContext) -> Sequence[RunsInBackground]:

    domain = ctx.settings.connectors.email.domain
    for name, box in ctx.settings.connectors.email.mailboxes.items():
        if box.fax_gateway is not None and not ctx.settings.connectors.fax.enabled:
            raise ConfigError(f"connectors.email.mailboxes.{name}.fax_gateway: enable connectors.fax too")
    ours = our_addresses(ctx.settings.connectors.email)

    def deliverer(name: str, mailbox: MailboxSettings) -> Callable[[bytes], Awaitable[None]]:
        async def deliver(raw: bytes) -> None:
            parsed = parse_mail(raw)
            bounced = bounced_reply(parsed, domain)
            if bounced is not None and bounced.permanent:  # a delivery failure of that reply
                code = bounced.status or "bounce"
                if await ctx.report_delivery(bounced.reply_id, bounced.message_id, "undelivered", code):
                    return
            fax = gateway_fax(parsed, raw, mailbox.fax_gateway) if mailbox.fax_gateway else None
            if fax is not None:  # an email-to-fax gateway's mail: a fax, pages and OCR to come
                await accept_fax(ctx, fax)
                return
            await ctx.queue.append(
                await stored_inbound(parsed, raw, name, mailbox, ctx.blobs, ctx.clock(), ours)
            )

        return deliver

    return [
        MailboxWatcher(
            name,
            mailbox,
            deliver=deliverer(name, mailbox),
            cursors=ctx.cursors,
            state=ctx.services.state(f"email:{name}"),
        )
        for name, mailbox in ctx.settings.connectors.email.mailboxes.items()
    ]


def _sender(ctx: ConnectorContext) -> Sender:
    return SmtpSender(ctx, ctx.services.state("email:smtp"))


def _enabled(settings: Settings) -> bool:
    return settings.connectors.email.enabled


def _routes(ctx: ConnectorContext) -> list[RouteSpec]:
    return []


SPEC = ConnectorSpec(
    name="email",
    channel=Channel.EMAIL,
    enabled=_enabled,
    routes=_routes,
    sender=_sender,
    sends=lambda settings: settings.connectors.email.smtp is not None,
    background=_watchers,
)
