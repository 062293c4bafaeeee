"""The sms_twilio connector's SPEC: how the app enables and wires it."""

from connectors.base import ConnectorSpec
from connectors.sms_twilio.connector import routes
from connectors.sms_twilio.sender import TwilioSmsSender
from hub.model import Channel

SPEC = ConnectorSpec(
    name="sms_twilio",
    channel=Channel.SMS,
    enabled=lambda settings: settings.connectors.twilio.enabled and settings.connectors.twilio.sms,
    routes=routes,
    sender=TwilioSmsSender,
)
