"""What Twilio's messaging webhooks (SMS, MMS, WhatsApp) share: the message id, media
items and delivery states. Pure.

Twilio adds parameters without notice; only the ones named here are read."""

from __future__ import annotations

from collections.abc import Mapping

from hub.errors import InputError, PayloadRejected
from hub.text.addresses import unprintable
from hub.untrusted import strict_int

TWILIO_MAX_CHARS = 1600  # a message's body, SMS or WhatsApp

# Twilio's message states to a reply's delivery state ("read" is WhatsApp's blue ticks).
DELIVERY = {
    **dict.fromkeys(("accepted", "scheduled", "queued", "sending", "sent"), "sent"),
    **dict.fromkeys(("delivered", "read"), "delivered"),
    "undelivered": "undelivered",
    **dict.fromkeys(("failed", "canceled"), "failed"),
}


def message_sid(form: Mapping[str, str]) -> str:
    """The webhook's MessageSid (SmsSid on older webhooks), checked."""
    sid = form.get("MessageSid") or form.get("SmsSid")
    if not sid:
        raise InputError("MessageSid is missing", field="MessageSid")
    if unprintable(sid) is not None or len(sid) > 64:
        raise PayloadRejected("MessageSid: not a Twilio message id", field="MessageSid")
    return sid


def media_of(form: Mapping[str, str]) -> list[tuple[str, str]]:
    """(url, content type) of each media item (MMS, a WhatsApp photo or document)."""
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


def split_text(text: str, limit: int = TWILIO_MAX_CHARS) -> list[str]:
    """Parts of at most ``limit`` characters, cut at the last space or line break before
    the limit where there is one."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = max(rest.rfind(" ", 0, limit), rest.rfind("\n", 0, limit))
        if cut <= limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts
