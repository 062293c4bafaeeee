"""The whatsapp_twilio connector's SPEC: how the app enables and wires it.

Its modules are imported when the app wires it, so a hub loads only the connectors it
has enabled (see connectors/registry.py)."""

from connectors.base import ConnectorContext, ConnectorSpec, Sender
from hub.model import Channel
from hub.routespec import RouteSpec


def _routes(ctx: ConnectorContext) -> list[RouteSpec]:
    from connectors.whatsapp_twilio.connector import routes

    return routes(ctx)


def _sender(ctx: ConnectorContext) -> Sender:
    from connectors.whatsapp_twilio.sender import TwilioWhatsAppSender

    return TwilioWhatsAppSender(ctx)


SPEC = ConnectorSpec(
    name="whatsapp_twilio",
    channel=Channel.WHATSAPP,
    enabled=lambda settings: settings.connectors.twilio.enabled and settings.connectors.twilio.whatsapp,
    routes=_routes,
    sender=_sender,
)
