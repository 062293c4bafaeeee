"""The chat connector's SPEC: how the app enables and wires it.

Its modules are imported when the app wires it, so a hub loads only the connectors it
has enabled (see connectors/registry.py)."""

from connectors.base import ConnectorContext, ConnectorSpec, Sender
from hub.model import Channel
from hub.routespec import RouteSpec
from hub.settings import Settings


def _sender(ctx: ConnectorContext) -> Sender:
    from connectors.chat.sender import ChatSender

    return ChatSender(ctx)


def _enabled(settings: Settings) -> bool:
    return settings.connectors.chat.enabled


def _routes(ctx: ConnectorContext) -> list[RouteSpec]:
    return []  # the socket, the script and the uploads are the hub's (hub/widget, hub/web/widget_*.py)


SPEC = ConnectorSpec(name="chat", channel=Channel.CHAT, enabled=_enabled, routes=_routes, sender=_sender)
