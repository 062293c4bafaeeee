"""Every connector, listed explicitly (no import-time discovery)."""

from connectors.api import SPEC as API
from connectors.base import ConnectorSpec
from connectors.cti import SPEC as CTI
from connectors.sms_twilio import SPEC as SMS_TWILIO

CONNECTORS: tuple[ConnectorSpec, ...] = (API, SMS_TWILIO, CTI)
