"""``contacthub simulate sms|call``: correctly signed Twilio webhooks to a running hub.

For demos and support: watch an SMS or a call go through without a Twilio account. The
webhooks are signed with the configured account's auth token over the configured public
URL, exactly as Twilio would sign them, and sent to the hub's own address.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import aiohttp
from twilio.request_validator import RequestValidator

from hub.errors import ConfigError
from hub.settings import Settings, TwilioAccount


class Simulator:
    def __init__(self, settings: Settings, hub_url: str, say: Callable[[str], None] = print) -> None:
        twilio = settings.connectors.twilio
        if not twilio.enabled or not twilio.accounts:
            raise ConfigError("connectors.twilio is not enabled with an account: nothing to simulate")
        public = twilio.public_url or settings.server.public_url
        if not public:
            raise ConfigError("set connectors.twilio.public_url: the webhooks are signed over it")
        self._public = public.rstrip("/")
        self._hub = hub_url.rstrip("/")
        self._account: TwilioAccount = twilio.accounts[0]
        self._number = self._account.numbers[0] if self._account.numbers else "+15005550006"
        self._say = say

    async def _post(self, session: aiohttp.ClientSession, path_qs: str, params: dict[str, str]) -> str:
        token = self._account.auth_token.get_secret_value()
        signature = RequestValidator(token).compute_signature(self._public + path_qs, params)
        async with session.post(
            self._hub + path_qs, data=params, headers={"X-Twilio-Signature": signature}
        ) as resp:
            body = await resp.text()
            self._say(f"POST {path_qs} -> {resp.status}\n{body}\n")
            if resp.status >= 400:
                raise ConfigError(f"the hub answered {resp.status} to {path_qs}: {body[:300]}")
            return body

    async def sms(self, sender: str, text: str) -> None:
        sid = "SM" + uuid.uuid4().hex
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "AccountSid": self._account.account_sid,
            "From": sender,
            "To": self._number,
            "Body": text,
            "NumMedia": "0",
        }
        async with aiohttp.ClientSession() as session:
            await self._post(session, "/webhooks/twilio/sms", params)

    async def call(self, caller: str, digits: str = "1", voicemail: str | None = None) -> None:
        """A call: the menu choice; if the hub dials an agent, the agent answers and hangs
        up after a minute; if it offers the voicemail, a recording is left."""
        base = {
            "CallSid": "CA" + uuid.uuid4().hex,
            "AccountSid": self._account.account_sid,
            "From": caller,
            "To": self._number,
            "Direction": "inbound",
            "CallStatus": "ringing",
        }
        async with aiohttp.ClientSession() as session:
            greeting = await self._post(session, "/webhooks/twilio/voice", base)
            lang = "de" if "lang=de" in greeting else "en"
            step = await self._post(
                session, f"/webhooks/twilio/voice/menu?lang={lang}", {**base, "Digits": digits}
            )
            if "<Dial" in step:
                await self._post(
                    session, "/webhooks/twilio/voice/status", {**base, "CallStatus": "in-progress"}
                )
                await self._post(
                    session,
                    "/webhooks/twilio/voice/status",
                    {**base, "CallStatus": "completed", "CallDuration": "60"},
                )
                return
            recording = {
                "RecordingSid": "RE" + uuid.uuid4().hex,
                "RecordingUrl": "https://example.invalid/simulated-recording",
                "RecordingDuration": "12",
            }
            await self._post(session, f"/webhooks/twilio/voice/recorded?lang={lang}", {**base, **recording})
            if voicemail:
                await self._post(
                    session,
                    "/webhooks/twilio/voice/transcribed",
                    {**base, **recording, "TranscriptionText": voicemail, "TranscriptionStatus": "completed"},
                )
            await self._post(
                session,
                "/webhooks/twilio/voice/status",
                {**base, "CallStatus": "completed", "CallDuration": "20"},
            )
