"""The email connector's SPEC: how the app enables and wires it.

Its modules are imported when the app wires it, so a hub loads only the connectors it
has enabled (see connectors/registry.py)."""

from __future__ import annotations

from collections.abc import Sequence

from connectors.base import ConnectorContext, ConnectorSpec, RunsInBackground, Sender
from hub.errors import ConfigError
from hub.model import Channel
from hub.routespec import RouteSpec
from hub.settings import Settings


def _watchers(ctx: ConnectorContext) -> Sequence[RunsInBackground]:
    from connectors.email.delivery import deliverer
    from connectors.email.parse_pool import MailParser, default_workers
    from connectors.email.watcher import MailboxWatcher

    for name, box in ctx.settings.connectors.email.mailboxes.items():
        if box.fax_gateway is not None and not ctx.settings.connectors.fax.enabled:
            raise ConfigError(f"connectors.email.mailboxes.{name}.fax_gateway: enable connectors.fax too")
    workers = ctx.settings.connectors.email.parse_workers
    parser = MailParser(default_workers() if workers is None else workers)
    return [
        parser.keeps_up(
            MailboxWatcher(
                name,
                mailbox,
                deliver=deliverer(ctx, name, mailbox, parser.parse),
                cursors=ctx.cursors,
                state=ctx.services.state(f"email:{name}"),
            )
        )
        for name, mailbox in ctx.settings.connectors.email.mailboxes.items()
    ]


def _sender(ctx: ConnectorContext) -> Sender:
    from connectors.email.sender import SmtpSender

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
