"""The sms_twilio connector's SPEC: how the app enables and wires it.

Its modules are imported when the app wires it, so a hub loads only the connectors it
has enabled (see connectors/registry.py)."""

from connectors.base import ConnectorContext, ConnectorSpec, Sender
from hub.model import Channel
from hub.routespec import RouteSpec


def _routes(ctx: ConnectorContext) -> list[RouteSpec]:
    from connectors.sms_twilio.connector import routes

    return routes(ctx)


def _sender(ctx: ConnectorContext) -> Sender:
    from connectors.sms_twilio.sender import TwilioSmsSender

    return TwilioSmsSender(ctx)


SPEC = ConnectorSpec(
    name="sms_twilio",
    channel=Channel.SMS,
    enabled=lambda settings: settings.connectors.twilio.enabled and settings.connectors.twilio.sms,
    routes=_routes,
    sender=_sender,
)
