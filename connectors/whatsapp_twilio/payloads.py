"""A Twilio WhatsApp webhook's fields to an ``InboundMessage``. Pure.

Twilio writes WhatsApp addresses as ``whatsapp:+4917…``; the hub keeps the number (E.164)
as a phone identity, so the customer who writes on WhatsApp is the one whose number the
hub knows from SMS or calls. A tapped quick-reply button arrives as its text (and its
payload in ``meta``), a shared location as its label and coordinates. Keywords (STOP,
START) are applied by ingest, which changes the WhatsApp consent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from connectors.lib.twilio.messaging import message_sid
from hub.errors import InputError
from hub.model import Address, AddressKind, Attachment, Channel, InboundMessage
from hub.text.addresses import normalise_address, unprintable

PREFIX = "whatsapp:"
MAX_PROFILE_NAME = 200


def whatsapp_address(value: str, region: str, field: str) -> Address:
    """``whatsapp:+4917…`` as the phone number it names; InputError for anything else."""
    if not value.startswith(PREFIX):
        raise InputError(f"{field}: not a WhatsApp address (whatsapp:+…)", field=field)
    return normalise_address(AddressKind.PHONE, value[len(PREFIX) :], default_region=region, field=field)


def parse_whatsapp(
    form: Mapping[str, str], *, received_at: datetime, region: str, attachments: tuple[Attachment, ...] = ()
) -> InboundMessage:
    sid = message_sid(form)
    text = form.get("Body", "")
    meta: dict[str, str] = {}
    if payload := form.get("ButtonPayload"):
        meta["button_payload"] = payload
        text = text or form.get("ButtonText") or payload
    if (lat := form.get("Latitude")) and (lon := form.get("Longitude")):
        meta["location"] = f"{lat},{lon}"
        text = text or " ".join(p for p in (form.get("Label"), form.get("Address"), f"({lat}, {lon})") if p)
    name = (form.get("ProfileName") or "").strip()[:MAX_PROFILE_NAME]
    return InboundMessage(
        channel=Channel.WHATSAPP,
        external_id=sid,
        sender=whatsapp_address(form.get("From", ""), region, "From"),
        recipient=whatsapp_address(form["To"], region, "To") if form.get("To") else None,
        text=text,
        attachments=attachments,
        received_at=received_at,
        sender_name=name if name and unprintable(name) is None else None,
        meta=meta,
    )
