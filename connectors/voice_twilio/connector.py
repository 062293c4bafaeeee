"""Twilio voice webhooks: the call flow (TwiML), call events, voicemail. All signed.

- ``/webhooks/twilio/voice``: a call comes in; it is logged and greeted with the menu.
- ``/voice/menu``: the caller's choice; within hours and with a free agent the call is
  dialled to that agent's phone or SIP address (which holds one unit of the agent's voice
  capacity), else the caller leaves a voicemail.
- ``/voice/dialed``: the agent's leg ended: their line is free; if they did not answer,
  voicemail.
- ``/voice/recorded``: the voicemail, a routed conversation with the recording link.
- ``/voice/transcribed``: the transcription, added to the same call.
- ``/voice/status``: call progress; an inbound call that nobody took is a missed call.
  A call's last status (completed, busy, no-answer, canceled, failed) frees the agent's
  line, should ``/voice/dialed`` not have come.

Every event of a call carries its CallSid as the thread, so a call is one conversation.
"""

from __future__ import annotations

from aiohttp import web

from connectors.base import ConnectorContext
from connectors.lib.twilio.webhook import TwilioWebhooks
from connectors.voice_twilio import payloads, twiml
from hub.model import InboundMessage
from hub.routespec import TEXT, Handler, RouteSpec, form_schema

XML = "application/xml"


# the fields of Twilio's voice webhooks the hub reads (one schema: each sends a subset)
CALL_FORM = form_schema(
    "CallSid",
    "AccountSid",
    "From",
    "To",
    "Direction",
    "CallStatus",
    "CallDuration",
    "Digits",
    "DialCallStatus",
    "RecordingUrl",
    "RecordingSid",
    "RecordingDuration",
    "TranscriptionText",
    "TranscriptionStatus",
)


def routes(ctx: ConnectorContext) -> list[RouteSpec]:
    calls = CallFlow(ctx)
    return [
        _spec("", calls.incoming, "Twilio: a call comes in (greeting and menu)", "TwiML"),
        _spec("/menu", calls.menu, "Twilio: the caller's menu choice (dial an agent, or voicemail)", "TwiML"),
        _spec("/dialed", calls.dialed, "Twilio: the agent's leg ended (voicemail if unanswered)", "TwiML"),
        _spec("/recorded", calls.recorded, "Twilio: a voicemail was recorded (routed)", "TwiML"),
        _spec("/transcribed", calls.transcribed, "Twilio: a voicemail's transcription", "Recorded"),
        _spec("/status", calls.status, "Twilio: call status (answered, ended, missed)", "Recorded"),
    ]


def _spec(path: str, handler: Handler, summary: str, ok: str) -> RouteSpec:
    return RouteSpec(
        "POST",
        f"{twiml.BASE}{path}",
        handler,
        summary,
        "signed",
        tag="channels",
        request_media="application/x-www-form-urlencoded",
        request_schema=CALL_FORM,
        query={"lang": TEXT},
        responses={
            200: ok,
            204: "Recorded",
            403: "Signature missing or wrong",
            422: "A field is missing",
        },
    )


def _xml(text: str) -> web.Response:
    return web.Response(text=text, content_type=XML)


def _language(request: web.Request) -> str:
    """The prompts' language the call flow carries in its URLs; English for none or an unknown one."""
    return request.query.get("lang", "en") if request.query.get("lang") in twiml.TEXT else "en"


class CallFlow:
    """The webhooks' handlers: each verifies Twilio's signature, then answers TwiML or 204."""

    def __init__(self, ctx: ConnectorContext) -> None:
        self.ctx = ctx
        self.webhooks = TwilioWebhooks.configured(ctx.settings)
        self.region = ctx.settings.phone.default_region
        self.accepted = ctx.metrics.accepted.labels("voice")

    async def _append(self, msg: InboundMessage | None) -> None:
        if msg is not None:
            await self.ctx.queue.append(msg)
            self.accepted.inc()

    async def incoming(self, request: web.Request) -> web.Response:
        form, _ = await self.webhooks.verified(request)
        await self._append(payloads.new_call(form, region=self.region, received_at=self.ctx.clock()))
        return _xml(twiml.greeting(twiml.language_of(form.get("From", ""))))

    async def menu(self, request: web.Request) -> web.Response:
        form, _ = await self.webhooks.verified(request)
        department, lang = twiml.choice(form.get("Digits", ""), _language(request))
        if department is None:
            return _xml(twiml.greeting(lang))
        caller = payloads.caller(form, self.region)
        call_sid = payloads.call_sid(form)
        target = await self.ctx.call_target(caller, department, lang, self.ctx.clock(), call_sid)
        if target.address is not None:
            await self._append(
                payloads.dialing(
                    form, department, target.agent_id, region=self.region, received_at=self.ctx.clock()
                )
            )
            return _xml(twiml.dial(target.address, lang, target.ring_timeout_s))
        return _xml(twiml.voicemail(lang, target.kind))

    async def dialed(self, request: web.Request) -> web.Response:
        form, _ = await self.webhooks.verified(request)
        if form.get("CallSid"):
            await self.ctx.end_call(form["CallSid"])
        if form.get("DialCallStatus") == "completed":
            return _xml(twiml.hang_up())
        return _xml(twiml.voicemail(_language(request), "busy"))

    async def recorded(self, request: web.Request) -> web.Response:
        form, _ = await self.webhooks.verified(request)
        await self._append(payloads.voicemail(form, region=self.region, received_at=self.ctx.clock()))
        return _xml(twiml.goodbye(_language(request)))

    async def transcribed(self, request: web.Request) -> web.Response:
        form, _ = await self.webhooks.verified(request)
        await self._append(payloads.transcription(form, region=self.region, received_at=self.ctx.clock()))
        return web.Response(status=204)

    async def status(self, request: web.Request) -> web.Response:
        form, _ = await self.webhooks.verified(request)
        if (over := payloads.call_over(form)) is not None:
            await self.ctx.end_call(over)
        await self._append(payloads.status_event(form, region=self.region, received_at=self.ctx.clock()))
        return web.Response(status=204)
