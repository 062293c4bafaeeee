"""A Twilio SMS/MMS webhook's fields to an ``InboundMessage``. Pure.

Twilio adds parameters without notice; only the ones named here are read, the rest are
ignored. Keywords (STOP, START and their German synonyms) are applied by ingest, which
changes the SMS consent; HELP is answered by the webhook.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from hub.errors import InputError, PayloadRejected
from hub.model import Attachment, Channel, InboundMessage
from hub.text.addresses import phone_address, unprintable
from hub.untrusted import strict_int

# Twilio's message states to a reply's delivery state.
DELIVERY = {
    **dict.fromkeys(("accepted", "scheduled", "queued", "sending", "sent"), "sent"),
    **dict.fromkeys(("delivered", "read"), "delivered"),
    "undelivered": "undelivered",
    **dict.fromkeys(("failed", "canceled"), "failed"),
}
GEO_FIELDS = ("FromCity", "FromState", "FromZip", "FromCountry", "ToCity", "ToState", "ToZip", "ToCountry")


def parse_sms(
    form: Mapping[str, str], *, received_at: datetime, region: str, attachments: tuple[Attachment, ...] = ()
) -> InboundMessage:
    sid = form.get("MessageSid") or form.get("SmsSid")
    if not sid:
        raise InputError("MessageSid is missing", field="MessageSid")
    if unprintable(sid) is not None or len(sid) > 64:
        raise PayloadRejected("MessageSid: not a Twilio message id", field="MessageSid")
    text = form.get("Body", "")
    meta = {name: value for name in GEO_FIELDS if (value := form.get(name))}
    if form.get("MessagingServiceSid"):
        meta["messaging_service_sid"] = form["MessagingServiceSid"]
    return InboundMessage(
        channel=Channel.SMS,
        external_id=sid,
        sender=phone_address(form.get("From", ""), region, "From"),
        recipient=phone_address(form["To"], region, "To") if form.get("To") else None,
        text=text,
        attachments=attachments,
        received_at=received_at,
        meta=meta,
    )


def media_of(form: Mapping[str, str]) -> list[tuple[str, str]]:
    """(url, content type) of each MMS media item."""
    count = strict_int(form.get("NumMedia") or "0", "NumMedia")
    return [
        (form[f"MediaUrl{n}"], form.get(f"MediaContentType{n}", "application/octet-stream"))
        for n in range(min(count, 10))
        if form.get(f"MediaUrl{n}")
    ]


def delivery_state(form: Mapping[str, str]) -> str:
    """A status callback's MessageStatus as a reply's delivery state; a state Twilio adds
    later counts as ``sent`` (on its way, nothing final)."""
    return DELIVERY.get(form.get("MessageStatus", ""), "sent")
