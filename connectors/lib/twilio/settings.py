"""The Twilio accounts and webhook settings that the SMS and voice connectors share.

Pure (pydantic only): ``hub.settings`` composes it without importing the connector."""

from __future__ import annotations

from pydantic import Field, SecretStr

from hub.settings_section import Section


class TwilioSharedKey(Section):
    key_id: str = Field(pattern=r"^\S+$")
    """The SharedKey's id, as the X-Twilio-Webhooks-Signature-Settings header names it."""
    secret: SecretStr


class TwilioAccount(Section):
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr
    numbers: list[str] = []
    """The E.164 numbers this account (or subaccount) owns: replies from them use it."""
    shared_keys: list[TwilioSharedKey] = []
    """Keys of the account's Webhook Settings: a webhook that carries the header
    X-Twilio-Webhooks-Signature-Settings is checked with the key it names and the
    algorithm it names (HMAC_SHA256 or HMAC_SHA1), not with the auth token."""


class TwilioSettings(Section):
    enabled: bool = False
    """The Twilio account(s) below are in use: their webhooks are accepted. Which channels
    run on them is ``sms`` and ``voice``; both are on by default, so a configuration
    written when ``enabled`` switched both keeps working unchanged."""
    sms: bool = True
    """SMS and MMS (the ``sms_twilio`` connector), when ``enabled``."""
    voice: bool = True
    """Phone calls (the ``voice_twilio`` connector), when ``enabled``."""
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
