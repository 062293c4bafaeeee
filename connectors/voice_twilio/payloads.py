"""Twilio's voice webhook fields to ``InboundMessage``s: one call event each. Pure.

Every event of a call carries its CallSid as the thread, so a call is one conversation.
Which event a status callback makes (answered, ended, missed) is decided here too, so
the connector only verifies, routes the call and answers with TwiML. Twilio adds
parameters without notice; only the ones named here are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from hub.errors import InputError
from hub.model import Address, Channel, InboundMessage, MessageKind, ThreadHint
from hub.text.addresses import phone_address

UNANSWERED = ("busy", "no-answer", "canceled", "failed")
FINISHED = ("completed", *UNANSWERED)  # a call's terminal states


def call_sid(form: Mapping[str, str]) -> str:
    sid = form.get("CallSid", "")
    if not sid:
        raise InputError("CallSid is missing", field="CallSid")
    return sid


def caller(form: Mapping[str, str], region: str) -> Address:
    return phone_address(form.get("From", ""), region, "From")


def call_event(
    form: Mapping[str, str],
    event: str,
    text: str,
    *,
    region: str,
    received_at: datetime,
    kind: MessageKind = MessageKind.CALL_EVENT,
    **meta: str,
) -> InboundMessage:
    """One event of a call; the customer is the far end whichever way the call went."""
    sid = call_sid(form)
    inbound = form.get("Direction", "inbound") == "inbound"
    customer, ours = (
        (form.get("From", ""), form.get("To")) if inbound else (form.get("To", ""), form.get("From"))
    )
    return InboundMessage(
        channel=Channel.VOICE,
        external_id=f"twilio:{sid}:{event}",
        sender=phone_address(customer, region, "From"),
        recipient=phone_address(ours, region, "To") if ours else None,
        thread_hint=ThreadHint(key=f"call:{sid}"),
        text=text,
        kind=kind,
        received_at=received_at,
        meta={"event": event, "call_id": sid, **{k: v for k, v in meta.items() if v}},
    )


def new_call(form: Mapping[str, str], *, region: str, received_at: datetime) -> InboundMessage:
    return call_event(form, "newCall", "Incoming call", region=region, received_at=received_at)


def dialing(
    form: Mapping[str, str], department: str, agent_id: str | None, *, region: str, received_at: datetime
) -> InboundMessage:
    text = f"Call put through ({department})"
    return call_event(form, "dialing", text, region=region, received_at=received_at, agent_id=agent_id or "")


def voicemail(form: Mapping[str, str], *, region: str, received_at: datetime) -> InboundMessage:
    seconds = form.get("RecordingDuration", "0")
    return call_event(
        form,
        "voicemail",
        f"Voicemail ({seconds} s)",
        region=region,
        received_at=received_at,
        kind=MessageKind.VOICEMAIL,
        recording_url=form.get("RecordingUrl", ""),
        recording_sid=form.get("RecordingSid", ""),
        duration_s=seconds,
    )


def transcription(form: Mapping[str, str], *, region: str, received_at: datetime) -> InboundMessage | None:
    """The voicemail's text; None for a failed or empty transcription (nothing to add)."""
    text = form.get("TranscriptionText", "")
    if form.get("TranscriptionStatus", "completed") != "completed" or not text:
        return None
    return call_event(
        form,
        "transcription",
        text,
        region=region,
        received_at=received_at,
        recording_url=form.get("RecordingUrl", ""),
    )


def call_over(form: Mapping[str, str]) -> str | None:
    """The CallSid of a call whose status says it is over (its agent's line is free)."""
    if form.get("CallStatus", "") not in FINISHED:
        return None
    return form.get("CallSid") or None


def status_event(form: Mapping[str, str], *, region: str, received_at: datetime) -> InboundMessage | None:
    """What a status callback means for the conversation: answered, ended, or (an inbound
    call nobody took) missed; None for the progress states the hub does not show."""
    state = form.get("CallStatus", "")
    if state == "in-progress":
        return call_event(form, "answer", "Call answered", region=region, received_at=received_at)
    if state == "completed":
        duration = form.get("CallDuration", "")
        text = f"Call ended ({duration or 0} s)"
        return call_event(form, "hangup", text, region=region, received_at=received_at, duration_s=duration)
    if state in UNANSWERED and form.get("Direction", "inbound") == "inbound":
        return call_event(
            form,
            "hangup",
            f"Missed call ({state})",
            region=region,
            received_at=received_at,
            kind=MessageKind.MISSED_CALL,
            cause=state,
        )
    return None
