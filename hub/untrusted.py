"""Hostile input, one helper per shape (STYLE §12). Pure: no I/O, no aiohttp.

- ``secrets_equal``: a secret or signature from a request against ours, as bytes and in
  constant time. A header aiohttp decoded from non-ASCII bytes is an unequal value, never
  a ``TypeError`` (``hmac.compare_digest`` refuses non-ASCII ``str``).
- ``strict_int``: a whole number from text: ASCII digits only (``'²'.isdigit()`` is True,
  ``int('²')`` fails), within a range that fits a 64-bit column, else PayloadRejected
  naming the field.
- ``strict_text``: bytes decoded with a charset a client named; an unknown charset or
  bytes that are not in it are PayloadRejected, never a LookupError or a replaced char.
- ``nul_at``: where a parsed JSON value holds a NUL, which no PostgreSQL text can.
- ``finite_number``: a float that is neither NaN nor infinite, else InputError naming the
  field (``float('nan')`` and ``float('1e400')`` both succeed, and neither is storable).

``request_body`` applies these to aiohttp requests; pure parsers call them directly.
"""

from __future__ import annotations

import codecs
import hmac
import math
import re
from typing import Any

from hub.errors import InputError, PayloadRejected

INT64_MAX = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")  # 19 digits hold every int64; more cannot be in range


def _as_bytes(value: str | bytes) -> bytes:
    # surrogatepass: a header decoded with surrogateescape still encodes, and injectively
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def secrets_equal(given: str | bytes | None, expected: str | bytes) -> bool:
    """Whether ``given`` (from the request) is ``expected`` (ours), compared as UTF-8 bytes
    in constant time. None or empty is never equal. Never raises."""
    if not given:
        return False
    return hmac.compare_digest(_as_bytes(given), _as_bytes(expected))


def strict_int(raw: str, field: str, *, low: int = 0, high: int = INT64_MAX) -> int:
    """``raw`` as a whole number from ``low`` to ``high``: ASCII digits only (no sign, no
    space, no other script's digits). Raises PayloadRejected naming ``field``."""
    if not _DIGITS.fullmatch(raw) or not low <= (value := int(raw)) <= high:
        raise PayloadRejected(f"{field}: a whole number from {low} to {high}", field=field)
    return value


def strict_text(data: bytes, charset: str | None, field: str) -> str:
    """``data`` decoded with ``charset`` (UTF-8 when none is named). Raises PayloadRejected
    naming ``field`` for an unknown charset or bytes that are not in it."""
    name = (charset or "utf-8").strip() or "utf-8"
    try:
        codec = codecs.lookup(name)
    except (LookupError, ValueError) as exc:  # ValueError: a name with a NUL in it
        raise PayloadRejected(f"{field}: unknown charset {name[:40]!r}", field=field) from exc
    if not codec._is_text_encoding:  # e.g. "rot13", "zlib" (bytes to bytes)
        raise PayloadRejected(f"{field}: {name[:40]!r} is not a text charset", field=field)
    try:
        text = codec.decode(data)[0]
        text.encode("utf-8")  # a lone surrogate (unicode_escape can make one) is no text either
    except ValueError as exc:  # UnicodeDecodeError, UnicodeEncodeError, UnicodeError
        raise PayloadRejected(f"{field}: not valid {codec.name}", field=field) from exc
    return text


def finite_number(value: object, field: str) -> float:
    """``value`` (a number, or text such as ``"1,200.50"``) as a finite float. Raises
    InputError naming ``field`` for anything else, NaN and infinities included."""
    if isinstance(value, bool):
        raise InputError(f"{field}: {value!r} is not a number", field=field)
    try:
        number = float(value.replace(",", "") if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"{field}: {str(value)[:40]!r} is not a number", field=field) from exc
    if not math.isfinite(number):
        raise InputError(f"{field}: {str(value)[:40]!r} is not a finite number", field=field)
    return number


def nul_at(value: Any) -> str | None:
    """The dotted path (``identities.0.value``) of the first key or string in a parsed JSON
    value that holds a NUL, or None. PostgreSQL cannot store a NUL in text. Pure; iterative,
    so any nesting a JSON parser takes is walked without recursion."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where or "(body)"
            continue
        pairs = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        children = []
        for key, child in pairs:
            path = f"{where}.{key}" if where else str(key)
            if "\x00" in str(key):
                return path.replace("\x00", "")
            children.append((path, child))
        stack.extend(reversed(children))  # depth-first, in document order
    return None
