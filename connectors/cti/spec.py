"""The cti connector's SPEC: how the app enables and wires it.

Its modules are imported when the app wires it, so a hub loads only the connectors it
has enabled (see connectors/registry.py)."""

from connectors.base import ConnectorContext, ConnectorSpec
from hub.model import Channel
from hub.routespec import RouteSpec


def _routes(ctx: ConnectorContext) -> list[RouteSpec]:
    from connectors.cti.connector import routes

    return routes(ctx)


SPEC = ConnectorSpec(
    name="cti",
    channel=Channel.VOICE,
    enabled=lambda settings: settings.connectors.cti.enabled,
    routes=_routes,
)
