"""The MIME structure of a mail as a list of leaf parts, and the bytes of each part:
Content-* fields read leniently (``compat32``'s parameter parser never raises), transfer
encodings decoded with tolerance for what real mail gets wrong, and ``message/*``
bodies taken from the source as they were. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from dataclasses import dataclass
from email import policy
from email.message import Message

from connectors.email.charsets import decode_words, unescape_raw, unfold

# What the stdlib parser and its header objects raise on hostile input.
PARSER_ERRORS = (
    ValueError,
    TypeError,
    IndexError,
    AttributeError,
    LookupError,
    UnicodeError,
    AssertionError,
)
# an embedded message (kept as .eml), a delivery status, and the headers a report returns
EML_TYPES = frozenset({"message/rfc822", "message/global"})
DSN_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
HEADER_TYPES = frozenset({"text/rfc822-headers", "message/global-headers"})
_UU = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})
BLANK_LINE = re.compile(rb"\r?\n\r?\n")
CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:+-]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Part:
    msg: Message
    ctype: str
    view: Message  # compat32 copy of the Content-* fields: lenient parameter parsing
    filename: str | None
    inline: bool
    content_id: str | None
    in_report: bool

    @property
    def attached(self) -> bool:
        return self.view.get_content_disposition() == "attachment" or bool(self.filename)


def find_charsets(msg: Message) -> tuple[str, ...]:
    """Every charset the message's parts declare: how 8-bit header bytes may be meant."""
    found: list[str] = []
    for part in msg.walk():
        for name, value in part.raw_items():
            if name.lower() == "content-type":
                found += CHARSET.findall(str(value))
    return tuple(dict.fromkeys(label.lower() for label in found))


def collect(
    part: Message, hint: tuple[str, ...], out: list[Part], *, related: bool, in_report: bool, depth: int
) -> None:
    """Append the leaves of ``part`` to ``out`` in order. message/* parts are leaves:
    an embedded message is a file, not part of this mail's body."""
    view = copy_content_fields(part, hint)
    ctype = view.get_content_type()
    if not ctype.startswith("multipart/") or not part.is_multipart() or depth > 40:
        cid = (view.get("content-id") or "").strip().strip("<>").strip() or None
        disposition = view.get_content_disposition()
        filename = view.get_filename()
        out.append(
            Part(
                msg=part,
                ctype=ctype,
                view=view,
                filename=decode_words(filename).strip() or None if filename else None,
                inline=disposition == "inline" or (disposition is None and cid is not None and related),
                content_id=cid,
                in_report=in_report,
            )
        )
        return
    report = (
        ctype == "multipart/report" and str(view.get_param("report-type") or "").lower() == "delivery-status"
    )
    for child in part.get_payload():
        if isinstance(child, Message):
            collect(
                child,
                hint,
                out,
                related=related or ctype == "multipart/related",
                in_report=in_report or report,
                depth=depth + 1,
            )


def copy_content_fields(part: Message, hint: tuple[str, ...]) -> Message:
    """A compat32 message holding only the part's Content-* fields, decoded: its
    parameter parsing never raises."""
    view = Message()
    view.set_default_type(part.get_default_type())
    for name, value in part.raw_items():
        if name.lower().startswith("content-"):
            view[name] = unfold(unescape_raw(str(value), hint))
    return view


def decode_payload(part: Message) -> bytes:
    """The decoded body of a leaf part. Lenient where the stdlib is strict: base64 with
    a stray character, uuencode without its ``begin`` line. The bytes are left as they
    came, line ends included: an attached file is what the sender attached (a text
    body is turned into LF lines where it is read as text)."""
    encoding = transfer_encoding(part)
    if encoding == "base64" or encoding in _UU:
        try:  # base64 and uuencode are ASCII; anything else is noise
            text = part.get_payload()
        except PARSER_ERRORS:  # the stdlib decodes 8-bit noise with the declared charset
            text = ""
        data = text.encode("ascii", "ignore") if isinstance(text, str) else b""
        return decode_base64(data) if encoding == "base64" else _decode_uu(data)
    try:
        decoded = part.get_payload(decode=True)  # the raw bytes, or quoted-printable decoded
    except PARSER_ERRORS:
        decoded = None
    return decoded if isinstance(decoded, bytes) else b""


def decode_base64(data: bytes) -> bytes:
    """Base64 that tolerates noise, missing padding and one character too many."""
    cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", data.split(b"=", 1)[0] if b"=" in data else data)
    if len(cleaned) % 4 == 1:  # one character too many: it cannot be decoded, drop it
        cleaned = cleaned[:-1]
    try:
        return base64.b64decode(cleaned + b"=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        return b""


def _decode_uu(data: bytes) -> bytes:
    """Uuencoded data, with or without the ``begin``/``end`` lines."""
    out = bytearray()
    for line in data.splitlines():
        stripped = line.strip()
        if stripped.startswith(b"begin ") or not stripped:
            continue
        if stripped in (b"end", b"`"):
            break
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:  # a line with trailing garbage: decode its declared length
            length = ((line[0] - 32) & 63) * 4 // 3 + 3 if line else 0
            try:
                out += binascii.a2b_uu(line[:length])
            except binascii.Error:
                continue
    return bytes(out)


def read_entity(part: Message, raw_bodies: dict[int, bytes]) -> bytes:
    """The bytes of a message/* part's body as they were in the source (decoded if a
    transfer encoding was applied against the rules); regenerated when not found."""
    data = raw_bodies.get(id(part))
    if data is None:
        data = _regenerate(part)
    encoding = transfer_encoding(part)
    if encoding == "base64":
        return decode_base64(data)
    if encoding == "quoted-printable":
        return quopri.decodestring(data)
    return data


def transfer_encoding(part: Message) -> str:
    """The Content-Transfer-Encoding token, read raw (a broken value is just unknown)."""
    for name, value in part.raw_items():
        if name.lower() == "content-transfer-encoding":
            return str(value).split(";")[0].strip().lower()
    return ""


def _regenerate(part: Message) -> bytes:
    """A message/* part's body regenerated by the stdlib (when the source was not found)."""
    try:
        flat = part.as_bytes(policy=policy.compat32)
    except PARSER_ERRORS:
        return b""
    found = BLANK_LINE.search(flat)
    return flat[found.end() :] if found else b""


def index_raw(entity: bytes, part: Message, out: dict[int, bytes], depth: int) -> None:
    """Map each message/* part (by id) to its body's bytes in ``entity``, walking the
    boundaries as the parser did; a subtree whose part count differs is left out."""
    if not part.is_multipart() or depth > 40:
        return
    payload = part.get_payload()
    body = _strip_header(entity)
    view = copy_content_fields(part, ())
    if not view.get_content_type().startswith("multipart/"):
        out[id(part)] = body
        return
    boundary = view.get_boundary()
    pieces = _split_parts(body, boundary) if boundary else []
    if len(pieces) == len(payload):
        for piece, child in zip(pieces, payload, strict=True):
            if isinstance(child, Message):
                index_raw(piece, child, out, depth + 1)


def _strip_header(entity: bytes) -> bytes:
    """The body of an entity: what follows its first empty line."""
    if entity.startswith((b"\n", b"\r\n")):
        return entity[entity.index(b"\n") + 1 :]
    found = BLANK_LINE.search(entity)
    return entity[found.end() :] if found else b""


def _split_parts(body: bytes, boundary: str) -> list[bytes]:
    """The parts between the delimiter lines of ``boundary``; the line break before a
    delimiter belongs to the delimiter (RFC 2046)."""
    try:
        delimiter = re.compile(rb"(?m)^--" + re.escape(boundary.encode("ascii")) + rb"(--)?[ \t]*\r?$")
    except UnicodeEncodeError:
        return []
    pieces: list[bytes] = []
    start: int | None = None
    for found in delimiter.finditer(body):
        if start is not None:
            end = found.start()
            if end > start and body[end - 1 : end] == b"\n":
                end -= 2 if body[end - 2 : end] == b"\r\n" and end - 2 >= start else 1
            pieces.append(body[start:end])
        if found.group(1):
            return pieces
        start = found.end() + (1 if body[found.end() : found.end() + 1] == b"\n" else 0)
    if start is not None:
        pieces.append(body[start:])
    return pieces
