"""Normalising sender addresses at the edge. Pure: no I/O.

- phone and fax: E.164 via ``phonenumbers``, with a default region for national forms
  (``0171 1234567`` in DE is ``+491711234567``);
- email: trimmed and lower-cased as a whole. RFC 5321 lets the local part be
  case-sensitive, but no mainstream mailbox provider treats it so, and matching
  ``Max.Mustermann@Example.COM`` to ``max.mustermann@example.com`` is what users expect;
- chat visitors and external ids: trimmed, case kept.

No kind holds a control or format character (NUL, a newline inside, a zero-width
space), a lone surrogate, or more than 320 characters: such a value is refused here,
at the edge, and never becomes an identity. A sender that is no phone number (a short
code, an alphanumeric sender) is kept as an external identity only if it is short.

Raises ``InputError`` naming ``field`` when a value cannot be an address of that kind.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import phonenumbers

from hub.errors import InputError
from hub.model import Address, AddressKind

_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\"]+$")
MAX_LENGTH = 320
MAX_OTHER_SENDER = 64  # a short code or an alphanumeric sender ID (11 characters at most)
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def unprintable(value: str) -> str | None:
    """The first character no address may hold (see above), or None. Pure."""
    return next((ch for ch in value if unicodedata.category(ch) in _UNPRINTABLE), None)


def normalise_address(kind: AddressKind, value: str, *, default_region: str, field: str = "value") -> Address:
    raw = value.strip()
    if not raw:
        raise InputError(f"{field}: must not be empty", field=field)
    if len(raw) > MAX_LENGTH:
        raise InputError(f"{field}: longer than {MAX_LENGTH} characters", field=field)
    if (bad := unprintable(raw)) is not None:
        raise InputError(f"{field}: holds the control character U+{ord(bad):04X}", field=field)
    if kind in (AddressKind.PHONE, AddressKind.FAX):
        return Address(kind, normalise_phone(raw, default_region=default_region, field=field))
    if kind is AddressKind.EMAIL:
        email = raw.lower()
        if not _EMAIL.match(email):
            raise InputError(f"{field}: {mask(kind, raw)} is not an email address", field=field)
        return Address(kind, email)
    return Address(kind, raw)


def normalise_phone(raw: str, *, default_region: str, field: str = "value") -> str:
    e164 = _e164(raw, default_region)
    if e164.startswith("+"):
        return e164
    raise InputError(f"{field}: {e164}", field=field)


@functools.lru_cache(maxsize=65_536)
def _e164(raw: str, region: str) -> str:
    """E.164, or the reason it is not a number. Cached: the same senders write again
    and again, and parsing is the costliest step of accepting a message."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        return f"not a phone number ({exc})"
    # Valid numbers pass. A "possible" but not valid one passes too when it is long
    # enough: number plans change faster than metadata, and refusing a real caller's
    # number would lose the message.
    plausible = phonenumbers.is_possible_number(number) and len(str(number.national_number)) >= 6
    if not (plausible or phonenumbers.is_valid_number(number)):  # the cheap test first
        return "not a possible phone number"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask(kind: AddressKind | str, value: str) -> str:
    """Redact an address for logs: ``+49…567``, ``j…@example.com``, ``ab…``."""
    if kind in (AddressKind.EMAIL, "email") and "@" in value:
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}…@{domain}"
    if kind in (AddressKind.PHONE, AddressKind.FAX, "phone", "fax"):
        return f"{value[:3]}…{value[-3:]}" if len(value) > 6 else "…"
    return f"{value[:2]}…" if len(value) > 4 else "…"


def phone_address(value: str, region: str, field: str) -> Address:
    """A phone number in E.164; a short code or an alphanumeric sender (which no
    number parser accepts) stays as it is, as an external identity."""
    try:
        return normalise_address(AddressKind.PHONE, value, default_region=region, field=field)
    except InputError:
        raw = value.strip()
        if not raw or len(raw) > MAX_OTHER_SENDER or unprintable(raw) is not None:
            raise
        return Address(AddressKind.EXTERNAL, f"phone:{raw}")
