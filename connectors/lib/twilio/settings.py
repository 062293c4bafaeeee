"""The Twilio accounts and webhook settings that the SMS and voice connectors share.

Pure (pydantic only): ``hub.settings`` composes it without importing the connector."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from hub.settings_section import Section


class TwilioSharedKey(Section):
    key_id: str = Field(pattern=r"^\S+$")
    """The SharedKey's id, as the X-Twilio-Webhooks-Signature-Settings header names it."""
    secret: SecretStr


class TwilioAccount(Section):
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr
    numbers: list[str] = []
    """The E.164 numbers this account (or subaccount) owns, WhatsApp senders among them:
    replies from them use it."""
    shared_keys: list[TwilioSharedKey] = []
    """Keys of the account's Webhook Settings: a webhook that carries the header
    X-Twilio-Webhooks-Signature-Settings is checked with the key it names and the
    algorithm it names (HMAC_SHA256 or HMAC_SHA1), not with the auth token."""


PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


class WhatsAppTemplate(Section):
    """A message template WhatsApp approved, as registered in Twilio's Content Editor:
    outside the 24-hour window after the customer's last message, only these may be sent."""

    name: str = Field(pattern=r"^[a-z0-9_]{1,100}$")
    """Its name in WhatsApp (lower case, digits, underscores): how agents pick it."""
    language: str = Field("en", pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")
    """Its language (``de``, ``en``, ``pt_BR``): a customer gets the template in theirs."""
    content_sid: str = Field(pattern=r"^HX[0-9a-fA-F]{32}$")
    """The Content SID Twilio gave it (HX…): what is sent."""
    body: str = Field(min_length=1, max_length=1024)
    """Its approved text, with placeholders ``{{1}}``, ``{{2}}`` … in order: the copy the
    hub stores and shows; Twilio sends its own."""
    purpose: Literal["service", "marketing"] = "service"
    """A marketing template goes only to customers who consented to marketing on WhatsApp."""

    @field_validator("body")
    @classmethod
    def _placeholders_in_order(cls, body: str) -> str:
        numbers = sorted({int(n) for n in PLACEHOLDER.findall(body)})
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError("placeholders must be numbered {{1}}, {{2}} … without gaps")
        return body

    def variables(self) -> int:
        """How many placeholders the body has."""
        return len({int(n) for n in PLACEHOLDER.findall(self.body)})

    def filled(self, values: list[str] | tuple[str, ...]) -> str:
        """The body with ``values`` in its placeholders (as many as ``variables()``)."""
        return PLACEHOLDER.sub(lambda m: values[int(m.group(1)) - 1], self.body)


class TwilioSettings(Section):
    enabled: bool = False
    """The Twilio account(s) below are in use: their webhooks are accepted. Which channels
    run on them is ``sms`` and ``voice``; both are on by default, so a configuration
    written when ``enabled`` switched both keeps working unchanged."""
    sms: bool = True
    """SMS and MMS (the ``sms_twilio`` connector), when ``enabled``."""
    voice: bool = True
    """Phone calls (the ``voice_twilio`` connector), when ``enabled``."""
    whatsapp: bool = False
    """WhatsApp (the ``whatsapp_twilio`` connector), when ``enabled``: the account's
    WhatsApp senders are among its ``numbers``."""
    whatsapp_from: str | None = None
    """The WhatsApp sender (E.164) a conversation the hub starts leaves from; default: the
    first of the first account's numbers. A reply leaves from the number the customer wrote to."""
    whatsapp_templates: list[WhatsAppTemplate] = []
    """The approved templates: outside the 24-hour window only these may be sent."""
    public_url: str | None = None
    """The base URL Twilio calls (https://hub.example.com), as Twilio sees it behind any
    proxy; webhook signatures are checked against it. Default: server.public_url."""
    accounts: list[TwilioAccount] = []
    """Every account or subaccount whose numbers send webhooks here; a webhook is checked
    with the auth token of the account named by its AccountSid."""
    help_reply: str = "ContactHub: reply STOP to unsubscribe, START to subscribe again."
    media_max_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    """Largest MMS media file fetched into the attachment store."""
    media_hosts: list[str] = ["api.twilio.com"]
    """Hosts MMS media are fetched from (a signed webhook names the URL); ``*.example.com``
    allows every subdomain. A MediaUrl on any other host is not fetched: the message
    arrives with the link kept in ``media_not_stored``."""
    api_base: str | None = None
    """Send REST API requests here instead of Twilio (a simulator or a test double)."""
