"""Email: mailboxes watched by IMAP IDLE (one watcher per ``[connectors.email.mailboxes.NAME]``),
replies sent through SMTP from the outbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from connectors.base import ConnectorContext, ConnectorSpec, RunsInBackground, Sender
from connectors.email.imap import MailboxWatcher
from connectors.email.inbound import to_inbound
from connectors.email.sender import SmtpSender
from hub.model import Channel
from hub.routespec import RouteSpec
from hub.settings import MailboxSettings, Settings


def _watchers(ctx: ConnectorContext) -> Sequence[RunsInBackground]:

    def deliverer(name: str, mailbox: MailboxSettings) -> Callable[[bytes], Awaitable[None]]:
        async def deliver(raw: bytes) -> None:
            await ctx.queue.append(await to_inbound(raw, name, mailbox, ctx.blobs, ctx.clock()))

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
