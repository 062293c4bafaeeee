"""The voice_twilio connector's SPEC: how the app enables and wires it.

Its modules are imported when the app wires it, so a hub loads only the connectors it
has enabled (see connectors/registry.py)."""

from connectors.base import ConnectorContext, ConnectorSpec
from hub.model import Channel
from hub.routespec import RouteSpec


def _routes(ctx: ConnectorContext) -> list[RouteSpec]:
    from connectors.voice_twilio.connector import routes

    return routes(ctx)


SPEC = ConnectorSpec(
    name="voice_twilio",
    channel=Channel.VOICE,
    enabled=lambda settings: settings.connectors.twilio.enabled and settings.connectors.twilio.voice,
    routes=_routes,
)
