"""Receiving a Twilio webhook: the form, the account it belongs to, the signature check.

A request whose signature does not verify is refused with 403 before anything is read
from it into the hub; the refusal is logged with the route and the account, never the body.
"""

from __future__ import annotations

import logging

from aiohttp import web
from multidict import MultiDictProxy
from twilio.request_validator import HMAC_SHA1, SIGNATURE_SETTINGS_HEADER, get_signature_algorithm

from connectors.lib.twilio.settings import TwilioAccount
from connectors.lib.twilio.signature import signature_valid
from hub.errors import ConfigError, Forbidden, InputError, PayloadTooLarge
from hub.request_body import read_form
from hub.settings import Settings

log = logging.getLogger("contacthub.twilio")
WHATSAPP = "whatsapp:"  # how Twilio writes a WhatsApp address


class TwilioWebhooks:
    def __init__(self, settings: Settings) -> None:
        twilio = settings.connectors.twilio
        base = twilio.public_url or settings.server.public_url
        self.public_url = base.rstrip("/") if base else None
        self.accounts = {a.account_sid: a for a in twilio.accounts}
        self._by_number = {n: a for a in twilio.accounts for n in a.numbers}
        self._max_bytes = settings.server.max_body_bytes

    @classmethod
    def configured(cls, settings: Settings) -> TwilioWebhooks:
        """The webhooks of a configuration that can check signatures; else ConfigError."""
        webhooks = cls(settings)
        if webhooks.public_url is None or not webhooks.accounts:
            raise ConfigError(
                "connectors.twilio: set public_url (the URL Twilio calls, for its signatures) and at "
                "least one [[connectors.twilio.accounts]] with account_sid and auth_token"
            )
        return webhooks

    def account_for_number(self, number: str) -> TwilioAccount | None:
        """The account that owns the number (``+49…`` or ``whatsapp:+49…``)."""
        return self._by_number.get(number.removeprefix(WHATSAPP))

    def url_of(self, request: web.Request) -> str:
        """The URL Twilio requested: the configured public base and the path as received."""
        if self.public_url is None:
            raise RuntimeError("set connectors.twilio.public_url (or server.public_url)")
        return self.public_url + request.rel_url.raw_path_qs

    async def verified(self, request: web.Request) -> tuple[MultiDictProxy[str], TwilioAccount]:
        """The webhook's form fields and account, once its signature verifies; else 403."""
        if request.content_type != "application/x-www-form-urlencoded":
            raise InputError("Twilio webhooks are form-encoded", field="(body)")
        if request.content_length is not None and request.content_length > self._max_bytes:
            raise PayloadTooLarge(f"the body is over {self._max_bytes} bytes")
        fields = (await read_form(request, self._max_bytes)).fields  # urlencoded: no files
        sid = fields.get("AccountSid", "")
        account = self.accounts.get(sid) or self.account_for_number(fields.get("To", ""))
        signature = request.headers.get("X-Twilio-Signature")
        key_id, algorithm = signing_key(request.headers.get(SIGNATURE_SETTINGS_HEADER))
        secret = signing_secret(account, key_id) if account is not None else None
        if (
            account is None
            or not secret
            or not signature_valid(secret, self.url_of(request), signature, form=fields, algorithm=algorithm)
        ):
            if account is None:
                reason = "unknown account"
            elif not signature:
                reason = "no signature"
            elif key_id == "":
                reason = f"{SIGNATURE_SETTINGS_HEADER} names no key"
            elif not secret:
                reason = f"no shared key {key_id!r} configured for this account"
            else:
                reason = "signature does not match"
            log.warning(
                "twilio webhook refused: %s",
                reason,
                extra={"route": request.path, "account_sid": sid[:8] + "…" if sid else None},
            )
            raise Forbidden("the X-Twilio-Signature does not verify for this URL and account")
        return fields, account


def signing_key(settings_header: str | None) -> tuple[str | None, str]:
    """The SharedKey id and the algorithm an ``X-Twilio-Webhooks-Signature-Settings``
    header names (``key=…,algorithm=HMAC_SHA256``); no header: the auth token, HMAC-SHA1. Pure."""
    if not settings_header:
        return None, HMAC_SHA1
    key_id = ""  # named no key: no secret matches, so the webhook is refused
    for part in settings_header.split(","):
        name, _, value = part.partition("=")
        if name.strip() == "key":
            key_id = value.strip()
    return key_id, get_signature_algorithm(settings_header)


def signing_secret(account: TwilioAccount, key_id: str | None) -> str | None:
    """The auth token (``key_id`` None), or the secret of the account's SharedKey that
    ``key_id`` names; None for a key this account does not have. Pure."""
    if key_id is None:
        return account.auth_token.get_secret_value()
    key = next((k for k in account.shared_keys if k.key_id == key_id), None)
    return key.secret.get_secret_value() if key else None
