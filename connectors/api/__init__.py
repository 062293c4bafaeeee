"""The API channel: integrations inject inbound messages with ``POST /api/v1/messages``."""

from connectors.api.connector import routes
from connectors.base import ConnectorSpec
from hub.model import Channel

SPEC = ConnectorSpec(
    name="api",
    channel=Channel.API,
    enabled=lambda settings: settings.connectors.api.enabled,
    routes=routes,
)
