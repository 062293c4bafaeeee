"""The voice_twilio connector's SPEC: how the app enables and wires it."""

from connectors.base import ConnectorSpec
from connectors.voice_twilio.connector import routes
from hub.model import Channel

SPEC = ConnectorSpec(
    name="voice_twilio",
    channel=Channel.VOICE,
    enabled=lambda settings: settings.connectors.twilio.enabled and settings.connectors.twilio.voice,
    routes=routes,
)
