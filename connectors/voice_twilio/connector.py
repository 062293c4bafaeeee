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
from hub.errors import ConfigError
from hub.model import InboundMessage
from hub.routespec import TEXT, Handler, RouteSpec, form_schema

XML = "application/xml"


def routes(ctx: ConnectorContext) -> list[RouteSpec]:
    webhooks = TwilioWebhooks(ctx.settings)
    if webhooks.public_url is None or not webhooks.accounts:
        raise ConfigError("connectors.twilio: set public_url and at least one account for voice")
    region = ctx.settings.phone.default_region
    accepted = ctx.metrics.accepted.labels("voice")

    async def append(msg: InboundMessage | None) -> None:
        if msg is not None:
            await ctx.queue.append(msg)
            accepted.inc()

    def xml(text: str) -> web.Response:
        return web.Response(text=text, content_type=XML)

    def language(request: web.Request) -> str:
        return request.query.get("lang", "en") if request.query.get("lang") in twiml.TEXT else "en"

    async def incoming(request: web.Request) -> web.Response:
        form, _ = await webhooks.verified(request)
        await append(payloads.new_call(form, region=region, received_at=ctx.clock()))
        return xml(twiml.greeting(twiml.language_of(form.get("From", ""))))

    async def menu(request: web.Request) -> web.Response:
        form, _ = await webhooks.verified(request)
        department, lang = twiml.choice(form.get("Digits", ""), language(request))
        if department is None:
            return xml(twiml.greeting(lang))
        caller = payloads.caller(form, region)
        call_sid = payloads.call_sid(form)
        target = await ctx.call_target(caller, department, lang, ctx.clock(), call_sid)
        if target.address is not None:
            await append(
                payloads.dialing(form, department, target.agent_id, region=region, received_at=ctx.clock())
            )
            return xml(twiml.dial(target.address, lang, target.ring_timeout_s))
        return xml(twiml.voicemail(lang, target.kind))

    async def dialed(request: web.Request) -> web.Response:
        form, _ = await webhooks.verified(request)
        if form.get("CallSid"):
            await ctx.end_call(form["CallSid"])
        if form.get("DialCallStatus") == "completed":
            return xml(twiml.hang_up())
        return xml(twiml.voicemail(language(request), "busy"))

    async def recorded(request: web.Request) -> web.Response:
        form, _ = await webhooks.verified(request)
        await append(payloads.voicemail(form, region=region, received_at=ctx.clock()))
        return xml(twiml.goodbye(language(request)))

    async def transcribed(request: web.Request) -> web.Response:
        form, _ = await webhooks.verified(request)
        await append(payloads.transcription(form, region=region, received_at=ctx.clock()))
        return web.Response(status=204)

    async def status(request: web.Request) -> web.Response:
        form, _ = await webhooks.verified(request)
        if (over := payloads.call_over(form)) is not None:
            await ctx.end_call(over)
        await append(payloads.status_event(form, region=region, received_at=ctx.clock()))
        return web.Response(status=204)

    # the fields of Twilio's voice webhooks the hub reads (one schema: each sends a subset)
    call_form = form_schema(
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

    def spec(path: str, handler: Handler, summary: str, ok: str) -> RouteSpec:
        return RouteSpec(
            "POST",
            f"{twiml.BASE}{path}",
            handler,
            summary,
            "signed",
            tag="channels",
            request_media="application/x-www-form-urlencoded",
            request_schema=call_form,
            query={"lang": TEXT},
            responses={
                200: ok,
                204: "Recorded",
                403: "Signature missing or wrong",
                422: "A field is missing",
            },
        )

    return [
        spec("", incoming, "Twilio: a call comes in (greeting and menu)", "TwiML"),
        spec("/menu", menu, "Twilio: the caller's menu choice (dial an agent, or voicemail)", "TwiML"),
        spec("/dialed", dialed, "Twilio: the agent's leg ended (voicemail if unanswered)", "TwiML"),
        spec("/recorded", recorded, "Twilio: a voicemail was recorded (routed)", "TwiML"),
        spec("/transcribed", transcribed, "Twilio: a voicemail's transcription", "Recorded"),
        spec("/status", status, "Twilio: call status (answered, ended, missed)", "Recorded"),
    ]
