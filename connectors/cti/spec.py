"""The cti connector's SPEC: how the app enables and wires it."""

from connectors.base import ConnectorSpec
from connectors.cti.connector import routes
from hub.model import Channel

SPEC = ConnectorSpec(
    name="cti",
    channel=Channel.VOICE,
    enabled=lambda settings: settings.connectors.cti.enabled,
    routes=routes,
)
