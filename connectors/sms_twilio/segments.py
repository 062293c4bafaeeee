"""SMS length: encoding, segments, and splitting long texts. Pure.

A text that fits the GSM 03.38 alphabet travels as GSM-7 (160 characters in one SMS,
153 per segment when concatenated; the extension characters count twice); any other
character makes the whole text UCS-2 (70, or 67 per segment, counted in UTF-16 units).
Longer replies are split (connectors.lib.twilio.messaging.split_text).
"""

from __future__ import annotations

GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = set("^{}\\[~]|€\f")


def encoding_of(text: str) -> str:
    return "GSM-7" if all(c in GSM_BASIC or c in GSM_EXTENSION for c in text) else "UCS-2"


def segments(text: str) -> int:
    """How many SMS segments the text costs."""
    if encoding_of(text) == "GSM-7":
        units, single, multi = sum(2 if c in GSM_EXTENSION else 1 for c in text), 160, 153
    else:
        units, single, multi = len(text.encode("utf-16-le")) // 2, 70, 67
    if units <= single:
        return 1
    return -(-units // multi)
