"""Email: mailboxes watched by IMAP IDLE (one watcher per ``[connectors.email.mailboxes.NAME]``),
replies sent through SMTP from the outbox. A permanent bounce of one of our replies marks
that reply undelivered (with the status code) instead of opening a conversation."""

from __future__ import annotations

from collections.abc import Sequence

from connectors.base import ConnectorContext, ConnectorSpec, RunsInBackground, Sender
from connectors.email.delivery import deliverer
from connectors.email.sender import SmtpSender
from connectors.email.watcher import MailboxWatcher
from hub.errors import ConfigError
from hub.model import Channel
from hub.routespec import RouteSpec
from hub.settings import Settings


def _watchers(ctx: ConnectorContext) -> Sequence[RunsInBackground]:
    for name, box in ctx.settings.connectors.email.mailboxes.items():
        if box.fax_gateway is not None and not ctx.settings.connectors.fax.enabled:
            raise ConfigError(f"connectors.email.mailboxes.{name}.fax_gateway: enable connectors.fax too")
    return [
        MailboxWatcher(
            name,
            mailbox,
            deliver=deliverer(ctx, name, mailbox),
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
