"""Phone calls through Twilio Voice: menu, dial to the agent the router picks, voicemail."""

from connectors.base import ConnectorSpec
from connectors.voice_twilio.connector import routes
from hub.model import Channel

SPEC = ConnectorSpec(
    name="voice_twilio",
    channel=Channel.VOICE,
    enabled=lambda settings: settings.connectors.twilio.enabled and settings.connectors.twilio.voice,
    routes=routes,
)
