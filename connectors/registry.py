"""Every connector, listed explicitly (no import-time discovery). A SPEC imports its
connector's modules only when the app wires it: importing this list stays cheap, and a
hub loads the connectors it has enabled (each process start pays for what it imports)."""

from connectors.api.spec import SPEC as API
from connectors.base import ConnectorSpec
from connectors.chat.spec import SPEC as CHAT
from connectors.cti.spec import SPEC as CTI
from connectors.email.spec import SPEC as EMAIL
from connectors.fax.spec import SPEC as FAX
from connectors.sms_twilio.spec import SPEC as SMS_TWILIO
from connectors.voice_twilio.spec import SPEC as VOICE_TWILIO
from connectors.whatsapp_twilio.spec import SPEC as WHATSAPP_TWILIO

CONNECTORS: tuple[ConnectorSpec, ...] = (
    API,
    CHAT,
    EMAIL,
    SMS_TWILIO,
    WHATSAPP_TWILIO,
    VOICE_TWILIO,
    CTI,
    FAX,
)
