"""Delivery status notifications (RFC 3464): which of our messages bounced, for whom, and
whether for good. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.parser import HeaderParser

from connectors.email.charsets import decode_bytes
from connectors.email.headers import find_ids
from connectors.email.mime import DSN_TYPES, EML_TYPES, HEADER_TYPES, Part, decode_payload, read_entity


@dataclass(frozen=True, slots=True)
class Bounce:
    """A delivery status notification (RFC 3464) about a message we sent."""

    original_message_id: str | None
    recipient: str | None
    status: str | None  # e.g. "5.1.1"
    permanent: bool
    diagnostic: str | None


@dataclass(frozen=True, slots=True)
class Report:
    status: str  # the message/delivery-status part, as text
    original_headers: str  # the returned message's header section ("" when absent)


def find_report(parts: list[Part], raw_bodies: dict[int, bytes]) -> Report | None:
    """The status part and returned headers of a delivery-status report, if any."""
    status = next((p for p in parts if p.in_report and p.ctype in DSN_TYPES), None)
    if status is None:
        return None
    original = ""
    for part in parts:
        if part.in_report and part.ctype in EML_TYPES:
            original = decode_bytes(read_entity(part.msg, raw_bodies))
        elif part.in_report and part.ctype in HEADER_TYPES:
            original = decode_bytes(decode_payload(part.msg))
    text = decode_bytes(read_entity(status.msg, raw_bodies)).replace("\r\n", "\n")
    return Report(status=text, original_headers=original.replace("\r\n", "\n").split("\n\n", 1)[0])


def read_bounce(report: Report | None) -> Bounce | None:
    """The first failed (else the first) recipient of a delivery-status report."""
    if report is None:
        return None
    blocks = [_parse_fields(block) for block in re.split(r"\n[ \t]*\n", report.status) if block.strip()]
    recipients = [
        b for b in blocks if {"final-recipient", "original-recipient", "action", "status"} & b.keys()
    ]
    chosen = next((b for b in recipients if b.get("action", "").lower() == "failed"), None)
    chosen = chosen or (recipients[0] if recipients else {})
    found = re.search(r"\d\.\d{1,3}\.\d{1,3}", chosen.get("status", ""))
    status = found.group(0) if found else None
    recipient = (chosen.get("final-recipient") or chosen.get("original-recipient") or "").split(";")[-1]
    diagnostic = " ".join(chosen.get("diagnostic-code", "").split(";", 1)[-1].split())
    original = find_ids(HeaderParser().parsestr(report.original_headers).get("message-id", ""), bare=True)
    return Bounce(
        original_message_id=original[0] if original else None,
        recipient=recipient.strip().strip("<>").lower() or None,
        status=status,
        permanent=status.startswith("5") if status else chosen.get("action", "").lower() == "failed",
        diagnostic=diagnostic or None,
    )


def _parse_fields(text: str) -> dict[str, str]:
    """One block of a delivery-status report as lower-cased field names to values."""
    out: dict[str, str] = {}
    for line in re.sub(r"\r?\n[ \t]+", " ", text).splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            out.setdefault(name.strip().lower(), value.strip())
    return out
