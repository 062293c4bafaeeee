"""The api connector's SPEC: how the app enables and wires it."""

from connectors.api.connector import routes
from connectors.api.sender import ApiReplySender
from connectors.base import ConnectorContext, ConnectorSpec, Sender
from hub.model import Channel
from hub.settings import Settings


def _sender(ctx: ConnectorContext) -> Sender:
    return ApiReplySender(ctx)


def _enabled(settings: Settings) -> bool:
    return settings.connectors.api.enabled


SPEC = ConnectorSpec(
    name="api",
    channel=Channel.API,
    enabled=_enabled,
    routes=routes,
    sender=_sender,
    sends=lambda settings: settings.connectors.api.reply_url is not None,
)
