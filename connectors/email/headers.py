"""The header fields of a mail, read raw: addresses that cannot be forged by an
encoded-word, message ids, the date, and the signals that a mail is automatic (RFC 3834)
or an absence note. Pure: no I/O.

The values are read raw and decoded here, because ``policy.default`` decodes
encoded-words inside address local parts, which lets a sender forge the address
(``=?utf-8?q?ceo=40bank.example?=@evil.example``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Literal

from connectors.email.charsets import collapse, decode_words, split_address_list, unescape_raw, unfold

AutoReason = Literal["auto-submitted", "precedence", "x-loop", "list", "suppress"]

KEPT_HEADERS = (
    "Auto-Submitted",
    "Precedence",
    "X-Loop",
    "List-Id",
    "List-Unsubscribe",
    "X-Auto-Response-Suppress",
)

_ID = re.compile(r"<([^<>\s]+)>")
_OOF_SUBJECT = re.compile(
    r"^\s*(?:(?:re|aw|fw|fwd|wg)\s*:\s*)*(?:out of (?:the )?office|abwesenheitsnotiz|automatische antwort"
    r"|auto:|auto-?reply|automatic reply|abwesend|réponse automatique|absence du bureau"
    r"|respuesta automática|fuera de la oficina|automatisch antwoord|afwezig|risposta automatica|fuori sede)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class MailAddress:
    """An address as written; ``email`` is lower-cased as a whole (as the hub's identities are)."""

    email: str
    name: str | None = None


class HeaderFields:
    """The header fields of one entity, unfolded; 8-bit bytes read in a ``hint`` charset."""

    def __init__(self, part: Message, hint: tuple[str, ...]) -> None:
        self._items = [(name.lower(), unfold(unescape_raw(str(v), hint))) for name, v in part.raw_items()]

    def all(self, name: str) -> list[str]:
        key = name.lower()
        return [value for item, value in self._items if item == key]

    def first(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def text(self, name: str) -> str:
        """The first value with encoded-words decoded; line breaks become spaces."""
        value = self.first(name)
        return re.sub(r"[\r\n]+", " ", decode_words(value)) if value else ""


def find_ids(value: str | None, *, bare: bool = False) -> tuple[str, ...]:
    """The message ids in ``value``, without angle brackets; with ``bare``, a lone id
    written without brackets counts too."""
    if not value:
        return ()
    found = tuple(_ID.findall(value))
    if not found and bare and value.split():
        return (value.split()[0].strip("<>"),)
    return found


def parse_date(value: str | None) -> datetime | None:
    """The Date header in UTC (a date without zone is taken as UTC); None if unreadable."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def read_addresses(fields: HeaderFields, name: str) -> tuple[MailAddress, ...]:
    """The addresses of every ``name`` header."""
    return tuple(addr for value in fields.all(name) for addr in parse_addresses(value))


def choose_sender(fields: HeaderFields) -> MailAddress | None:
    """The first From address with an ``@`` in it; else Sender's, then Reply-To's; else any."""
    candidates = [
        *read_addresses(fields, "from"),
        *read_addresses(fields, "sender"),
        *read_addresses(fields, "reply-to"),
    ]
    for addr in candidates:
        if "@" in addr.email:
            return addr
    return candidates[0] if candidates else None


def parse_addresses(value: str) -> tuple[MailAddress, ...]:
    """The addresses in an (unfolded, raw) address-list value. The address is the
    addr-spec as written and is never decoded: an encoded-word can only be a name."""
    out: list[MailAddress] = []
    for parts in split_address_list(value):
        words = parts.words
        if parts.angle is not None:
            email = parts.angle.strip()
            if email.startswith("@") and ":" in email:  # obsolete source route
                email = email.split(":", 1)[1]
            name = parts.display_name() or parts.comment_name()
        elif len(words) > 1 and "@" in words[-1]:  # Name user@example.com, without brackets
            email = words[-1]
            name = collapse(decode_words(" ".join(words[:-1])).strip('"')) or parts.comment_name()
        else:
            email, name = "".join(words), parts.comment_name()
        email = re.sub(r"^mailto:", "", email.strip().strip("<>").strip(), flags=re.IGNORECASE)
        if email:
            out.append(MailAddress(email.lower(), name or None))
    return tuple(out)


def detect_auto(fields: HeaderFields) -> AutoReason | None:
    """RFC 3834 and the de-facto headers that say "do not answer this automatically"."""
    submitted = (fields.first("auto-submitted") or "").split(";")[0].strip().lower()
    if (submitted and submitted != "no") or any(
        fields.first(name) for name in ("x-autoreply", "x-autorespond", "x-autogenerated")
    ):
        return "auto-submitted"
    if (fields.first("precedence") or "").strip().lower() in ("bulk", "list", "junk", "auto_reply"):
        return "precedence"
    if fields.first("x-loop"):
        return "x-loop"
    if fields.first("list-id") or fields.first("list-unsubscribe"):
        return "list"
    suppress = {
        token.strip().lower() for token in (fields.first("x-auto-response-suppress") or "").split(",")
    }
    return "suppress" if suppress & {"all", "oof", "autoreply"} else None


def is_out_of_office(fields: HeaderFields, subject: str) -> bool:
    """An absence note: auto-replied, X-Autoreply/X-Autorespond, or an absence subject."""
    submitted = (fields.first("auto-submitted") or "").split(";")[0].strip().lower()
    if submitted == "auto-replied" or fields.first("x-autoreply") or fields.first("x-autorespond"):
        return True
    return bool(_OOF_SUBJECT.match(subject))


Priority = Literal["high", "low"]


def read_priority(fields: HeaderFields) -> Priority | None:
    """What the sender marked: ``Importance`` (RFC 2156, Outlook), ``X-Priority`` (1–2
    high, 4–5 low; "1 (Highest)"), ``Priority`` (RFC 2156: urgent, non-urgent) and
    ``X-MSMail-Priority``; the most urgent wins. None for normal or unmarked."""
    found: set[str] = set()
    for name in ("importance", "x-msmail-priority"):
        value = (fields.first(name) or "").strip().lower()
        found.add({"high": "high", "low": "low"}.get(value, ""))
    number = re.match(r"\s*(\d)", fields.first("x-priority") or "")
    if number:
        found.add("high" if number.group(1) in "12" else "low" if number.group(1) in "45" else "")
    value = (fields.first("priority") or "").strip().lower()
    found.add({"urgent": "high", "non-urgent": "low"}.get(value, ""))
    if "high" in found:
        return "high"
    return "low" if "low" in found else None
