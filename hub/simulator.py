"""``contacthub simulate sms|call|phone``: a customer's side of Twilio, against a running hub.

For demos and support: watch an SMS or a call go through without a Twilio account. The
webhooks are signed with the configured account's auth token over the configured public
URL, exactly as Twilio would sign them, and sent to the hub's own address.

``phone`` is a customer's phone that stays on: each line typed is an SMS to the hub, and
it answers the hub's replies as Twilio's Messages API would (``connectors.twilio.api_base``
points the hub at it), shows them, and reports each one sent, then delivered, by signed
status callbacks.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit
from xml.etree import ElementTree

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

from connectors.lib.twilio.settings import TwilioAccount
from hub.errors import ConfigError
from hub.settings import Settings

MESSAGES = "/2010-04-01/Accounts/{sid}/Messages.json"


class Simulator:
    def __init__(self, settings: Settings, hub_url: str, say: Callable[[str], None] = print) -> None:
        twilio = settings.connectors.twilio
        if not twilio.enabled or not twilio.accounts:
            raise ConfigError(
                "connectors.twilio is not enabled with an account: nothing to simulate (run "
                "`contacthub demo` for a demo account, or configure [connectors.twilio]: README, Twilio)"
            )
        if not twilio.sms:
            raise ConfigError("connectors.twilio.sms is off: the simulated phone sends SMS")
        public = twilio.public_url or settings.server.public_url
        if not public:
            raise ConfigError("set connectors.twilio.public_url: the webhooks are signed over it")
        self._public = public.rstrip("/")
        self._hub = hub_url.rstrip("/")
        self.accounts = {a.account_sid: a for a in twilio.accounts}
        self.api_base = twilio.api_base
        self._account: TwilioAccount = twilio.accounts[0]
        self.number = self._account.numbers[0] if self._account.numbers else "+15005550006"  # the hub's
        self._say = say

    def path_of(self, url: str) -> str | None:
        """The path and query of a URL on the hub's public address; None for another."""
        return url[len(self._public) :] if url.startswith(self._public + "/") else None

    async def post(
        self,
        session: aiohttp.ClientSession,
        path_qs: str,
        params: dict[str, str],
        account: TwilioAccount | None = None,
    ) -> str:
        token = (account or self._account).auth_token.get_secret_value()
        signature = RequestValidator(token).compute_signature(self._public + path_qs, params)
        async with session.post(
            self._hub + path_qs, data=params, headers={"X-Twilio-Signature": signature}
        ) as resp:
            body = await resp.text()
            self._say(f"POST {path_qs} -> {resp.status}\n{body}\n")
            if resp.status >= 400:
                raise ConfigError(f"the hub answered {resp.status} to {path_qs}: {body[:300]}")
            return body

    async def sms(self, sender: str, text: str, session: aiohttp.ClientSession | None = None) -> str:
        """Send one SMS; the hub's TwiML answer."""
        sid = "SM" + uuid.uuid4().hex
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "AccountSid": self._account.account_sid,
            "From": sender,
            "To": self.number,
            "Body": text,
            "NumMedia": "0",
        }
        if session is not None:
            return await self.post(session, "/webhooks/twilio/sms", params)
        async with aiohttp.ClientSession() as own:
            return await self.post(own, "/webhooks/twilio/sms", params)

    async def call(self, caller: str, digits: str = "1", voicemail: str | None = None) -> None:
        """A call: the menu choice; if the hub dials an agent, the agent answers and hangs
        up after a minute; if it offers the voicemail, a recording is left."""
        base = {
            "CallSid": "CA" + uuid.uuid4().hex,
            "AccountSid": self._account.account_sid,
            "From": caller,
            "To": self.number,
            "Direction": "inbound",
            "CallStatus": "ringing",
        }
        async with aiohttp.ClientSession() as session:
            greeting = await self.post(session, "/webhooks/twilio/voice", base)
            lang = "de" if "lang=de" in greeting else "en"
            step = await self.post(
                session, f"/webhooks/twilio/voice/menu?lang={lang}", {**base, "Digits": digits}
            )
            if "<Dial" in step:
                await self.post(
                    session, "/webhooks/twilio/voice/status", {**base, "CallStatus": "in-progress"}
                )
                await self.post(
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
            await self.post(session, f"/webhooks/twilio/voice/recorded?lang={lang}", {**base, **recording})
            if voicemail:
                await self.post(
                    session,
                    "/webhooks/twilio/voice/transcribed",
                    {**base, **recording, "TranscriptionText": voicemail, "TranscriptionStatus": "completed"},
                )
            await self.post(
                session,
                "/webhooks/twilio/voice/status",
                {**base, "CallStatus": "completed", "CallDuration": "20"},
            )


class SimulatedPhone:
    """Twilio's Messages API as far as the hub's replies need it, and the customer's
    phone that receives them: every reply is shown with ``say``, answered as Twilio
    answers (201, the message queued), then reported sent and delivered to the hub by
    signed status callbacks. The credentials are checked as Twilio checks them."""

    def __init__(self, simulator: Simulator, say: Callable[[str], None] = print) -> None:
        self._sim = simulator
        self._say = say
        self._session: aiohttp.ClientSession | None = None
        self._reports: set[asyncio.Task[None]] = set()
        self.app = web.Application()
        self.app.router.add_post(MESSAGES, self._create_message)
        self.app.on_cleanup.append(self._close)

    async def _create_message(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        account = self._sim.accounts.get(sid)
        if account is None or request.headers.get("Authorization") != aiohttp.encode_basic_auth(
            sid, account.auth_token.get_secret_value()
        ):
            return _twilio_error(401, 20003, "Authenticate")
        form = await request.post()
        to, sender, body = (str(form.get(name, "")) for name in ("To", "From", "Body"))
        if not to or not body:
            return _twilio_error(400, 21602, "A 'To' number and a 'Body' are required.")
        message_sid = "SM" + uuid.uuid4().hex
        self._say(f"SMS from {sender or '?'} to {to}: {body}")
        callback = str(form.get("StatusCallback", ""))
        if callback:
            report = asyncio.create_task(self._report(callback, account, message_sid, sender, to))
            self._reports.add(report)
            report.add_done_callback(self._reports.discard)
        message = {
            "sid": message_sid,
            "account_sid": sid,
            "to": to,
            "from": sender,
            "body": body,
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "uri": MESSAGES.format(sid=sid).removesuffix(".json") + f"/{message_sid}.json",
        }
        return web.json_response(message, status=201)

    async def _report(
        self, callback: str, account: TwilioAccount, message_sid: str, sender: str, to: str
    ) -> None:
        path_qs = self._sim.path_of(callback)
        if path_qs is None:
            self._say(f"status callback to {callback} not sent: it is not on the hub's public URL")
            return
        for status in ("sent", "delivered"):
            params = {
                "MessageSid": message_sid,
                "MessageStatus": status,
                "AccountSid": account.account_sid,
                "From": sender,
                "To": to,
            }
            try:
                await self._sim.post(self._client(), path_qs, params, account)
            except (ConfigError, aiohttp.ClientError) as exc:
                self._say(f"status callback {status!r} not accepted: {exc}")
                return

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _close(self, _app: web.Application) -> None:
        for report in list(self._reports):
            report.cancel()
        await asyncio.gather(*self._reports, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def run(self, sender: str, lines: AsyncIterator[str]) -> None:
        """Listen at ``api_base`` for the hub's replies; send each line as an SMS from
        ``sender``, until the lines end."""
        if not self._sim.api_base:
            raise ConfigError(
                "set connectors.twilio.api_base to where this phone listens, e.g. "
                "http://127.0.0.1:8081 (`contacthub demo` sets it), and restart the hub"
            )
        address = urlsplit(self._sim.api_base)
        host, port = address.hostname or "127.0.0.1", address.port or 80
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        try:
            try:
                await web.TCPSite(runner, host, port).start()
            except OSError as exc:
                raise ConfigError(
                    f"cannot listen on {host}:{port} (connectors.twilio.api_base): {exc}"
                ) from exc
            self._say(f"Phone {sender} on; the hub's number is {self._sim.number}. Type an SMS, Ctrl-D ends.")
            async for line in lines:
                if line.strip():
                    await self._send(sender, line.strip())
        finally:
            await runner.cleanup()  # closes the session too

    async def _send(self, sender: str, text: str) -> None:
        try:
            twiml = await self._sim.sms(sender, text, self._client())
        except (ConfigError, aiohttp.ClientError) as exc:  # shown; the next line may get through
            self._say(f"not sent: {exc}")
            return
        for answer in ElementTree.fromstring(twiml).iter("Message"):  # HELP's reply
            self._say(f"SMS from {self._sim.number} to {sender}: {answer.text or ''}")


def _twilio_error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message, "status": status}, status=status)
