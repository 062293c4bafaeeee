"""The api connector's SPEC: how the app enables and wires it.

Its modules are imported when the app wires it, so a hub loads only the connectors it
has enabled (see connectors/registry.py)."""

from connectors.base import ConnectorContext, ConnectorSpec, Sender
from hub.model import Channel
from hub.routespec import RouteSpec
from hub.settings import Settings


def _routes(ctx: ConnectorContext) -> list[RouteSpec]:
    from connectors.api.connector import routes

    return routes(ctx)


def _sender(ctx: ConnectorContext) -> Sender:
    from connectors.api.sender import ApiReplySender

    return ApiReplySender(ctx)


def _enabled(settings: Settings) -> bool:
    return settings.connectors.api.enabled


SPEC = ConnectorSpec(
    name="api",
    channel=Channel.API,
    enabled=_enabled,
    routes=_routes,
    sender=_sender,
    sends=lambda settings: settings.connectors.api.reply_url is not None,
)
