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

from collections.abc import Mapping

from aiohttp import web

from connectors.base import ConnectorContext
from connectors.twilio.webhook import TwilioWebhooks
from connectors.voice_twilio import twiml
from hub.errors import ConfigError, InputError
from hub.model import Channel, InboundMessage, MessageKind, ThreadHint
from hub.routespec import TEXT, Handler, RouteSpec, form_schema
from hub.text.addresses import phone_address

XML = "application/xml"
UNANSWERED = ("busy", "no-answer", "canceled", "failed")
FINISHED = ("completed", *UNANSWERED)  # a call's terminal states


def routes(ctx: ConnectorContext) -> list[RouteSpec]:
    webhooks = TwilioWebhooks(ctx.settings)
    if webhooks.public_url is None or not webhooks.accounts:
        raise ConfigError("connectors.twilio: set public_url and at least one account for voice")
    region = ctx.settings.phone.default_region
    accepted = ctx.metrics.accepted.labels("voice")

    def message(
        form: Mapping[str, str],
        event: str,
        text: str,
        kind: MessageKind = MessageKind.CALL_EVENT,
        **meta: str,
    ) -> InboundMessage:
        call_sid = form.get("CallSid", "")
        if not call_sid:
            raise InputError("CallSid is missing", field="CallSid")
        inbound = form.get("Direction", "inbound") == "inbound"
        customer, ours = (
            (form.get("From", ""), form.get("To")) if inbound else (form.get("To", ""), form.get("From"))
        )
        return InboundMessage(
            channel=Channel.VOICE,
            external_id=f"twilio:{call_sid}:{event}",
            sender=phone_address(customer, region, "From"),
            recipient=phone_address(ours, region, "To") if ours else None,
            thread_hint=ThreadHint(key=f"call:{call_sid}"),
            text=text,
            kind=kind,
            received_at=ctx.clock(),
            meta={"event": event, "call_id": call_sid, **{k: v for k, v in meta.items() if v}},
        )

    async def append(msg: InboundMessage) -> None:
        await ctx.queue.append(msg)
        accepted.inc()

    def xml(text: str) -> web.Response:
        return web.Response(text=text, content_type=XML)

    async def incoming(request: web.Request) -> web.Response:
        form, _ = await webhooks.verified(request)
        await append(message(form, "newCall", "Incoming call"))
        return xml(twiml.greeting(twiml.language_of(form.get("From", ""))))

    async def menu(request: web.Request) -> web.Response:
        form, _ = await webhooks.verified(request)
        language = request.query.get("lang", "en") if request.query.get("lang") in twiml.TEXT else "en"
        department, language = twiml.choice(form.get("Digits", ""), language)
        if department is None:
            return xml(twiml.greeting(language))
        caller = phone_address(form.get("From", ""), region, "From")
        call_sid = form.get("CallSid", "")
        if not call_sid:
            raise InputError("CallSid is missing", field="CallSid")
        target = await ctx.call_target(caller, department, language, ctx.clock(), call_sid)
        if target.address is not None:
            await append(
                message(form, "dialing", f"Call put through ({department})", agent_id=target.agent_id or "")
            )
            return xml(twiml.dial(target.address, language, target.ring_timeout_s))
        return xml(twiml.voicemail(language, target.kind))

    async def dialed(request: web.Request) -> web.Response:
        form, _ = await webhooks.verified(request)
        language = request.query.get("lang", "en") if request.query.get("lang") in twiml.TEXT else "en"
        if form.get("CallSid"):
            await ctx.end_call(form["CallSid"])
        if form.get("DialCallStatus") == "completed":
            return xml(twiml.hang_up())
        return xml(twiml.voicemail(language, "busy"))

    async def recorded(request: web.Request) -> web.Response:
        form, _ = await webhooks.verified(request)
        language = request.query.get("lang", "en") if request.query.get("lang") in twiml.TEXT else "en"
        url = form.get("RecordingUrl", "")
        seconds = form.get("RecordingDuration", "0")
        await append(
            message(
                form,
                "voicemail",
                f"Voicemail ({seconds} s)",
                MessageKind.VOICEMAIL,
                recording_url=url,
                recording_sid=form.get("RecordingSid", ""),
                duration_s=seconds,
            )
        )
        return xml(twiml.goodbye(language))

    async def transcribed(request: web.Request) -> web.Response:
        form, _ = await webhooks.verified(request)
        text = form.get("TranscriptionText", "")
        if form.get("TranscriptionStatus", "completed") == "completed" and text:
            await append(message(form, "transcription", text, recording_url=form.get("RecordingUrl", "")))
        return web.Response(status=204)

    async def status(request: web.Request) -> web.Response:
        form, _ = await webhooks.verified(request)
        state = form.get("CallStatus", "")
        duration = form.get("CallDuration", "")
        if state in FINISHED and form.get("CallSid"):
            await ctx.end_call(form["CallSid"])
        if state == "in-progress":
            await append(message(form, "answer", "Call answered"))
        elif state == "completed":
            await append(message(form, "hangup", f"Call ended ({duration or 0} s)", duration_s=duration))
        elif state in UNANSWERED and form.get("Direction", "inbound") == "inbound":
            await append(
                message(form, "hangup", f"Missed call ({state})", MessageKind.MISSED_CALL, cause=state)
            )
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
