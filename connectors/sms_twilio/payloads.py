"""A Twilio SMS/MMS webhook's fields to an ``InboundMessage``. Pure.

Twilio adds parameters without notice; only the ones named here are read, the rest are
ignored. Keywords (STOP, START and their German synonyms) are applied by ingest, which
changes the SMS consent; HELP is answered by the webhook.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from connectors.lib.twilio.messaging import message_sid
from hub.model import Attachment, Channel, InboundMessage
from hub.text.addresses import phone_address

GEO_FIELDS = ("FromCity", "FromState", "FromZip", "FromCountry", "ToCity", "ToState", "ToZip", "ToCountry")


def parse_sms(
    form: Mapping[str, str], *, received_at: datetime, region: str, attachments: tuple[Attachment, ...] = ()
) -> InboundMessage:
    sid = message_sid(form)
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
