"""Every connector, listed explicitly (no import-time discovery)."""

from connectors.api import SPEC as API
from connectors.base import ConnectorSpec
from connectors.chat import SPEC as CHAT
from connectors.cti import SPEC as CTI
from connectors.email import SPEC as EMAIL
from connectors.fax import SPEC as FAX
from connectors.sms_twilio import SPEC as SMS_TWILIO
from connectors.voice_twilio import SPEC as VOICE_TWILIO

CONNECTORS: tuple[ConnectorSpec, ...] = (API, CHAT, EMAIL, SMS_TWILIO, VOICE_TWILIO, CTI, FAX)
