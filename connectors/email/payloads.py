"""A raw RFC 5322 message to a ``ParsedMail``. Pure: no I/O, no event loop.

The part tree comes from the stdlib parser with ``policy.default`` (``compat32`` when
that raises on a broken header). Header values are read raw and decoded here, because
``policy.default`` decodes encoded-words inside address local parts, which lets a
sender forge the address (``=?utf-8?q?ceo=40bank.example?=@evil.example``), and its
header objects raise on some broken headers; parameters use ``compat32``'s lenient
parser. Which part is the body, and what an unnamed attachment is called, follows
mail clients and Zammad's parser: HTML wins over text when it has visible content.

``parse_mail`` never raises, except ``PayloadRejected`` for empty input.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.utils import parsedate_to_datetime
from html import escape
from types import MappingProxyType
from typing import Literal

from connectors.email.charsets import (
    collapse,
    decode_bytes,
    decode_words,
    split_address_list,
    unescape_raw,
    unfold,
)
from connectors.email.quotes import html_to_text, visible_html_text, visible_text
from hub.errors import PayloadRejected
from hub.sanitize import clean_html

AutoReason = Literal["auto-submitted", "precedence", "x-loop", "list", "suppress"]
BodyType = Literal["text/plain", "text/html"]
# What the stdlib parser and its header objects raise on hostile input.
_PARSER_ERRORS = (
    ValueError,
    TypeError,
    IndexError,
    AttributeError,
    LookupError,
    UnicodeError,
    AssertionError,
)

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


@dataclass(frozen=True, slots=True)
class MailFile:
    filename: str  # unique within the message
    content_type: str
    data: bytes
    content_id: str | None = None  # without angle brackets
    inline: bool = False


@dataclass(frozen=True, slots=True)
class Bounce:
    """A delivery status notification (RFC 3464) about a message we sent."""

    original_message_id: str | None
    recipient: str | None
    status: str | None  # e.g. "5.1.1"
    permanent: bool
    diagnostic: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedMail:
    """One inbound mail, decoded. ``auto``, ``out_of_office`` and ``bounce`` each mean
    "never answer this automatically" (see ``suppresses_auto_reply``)."""

    message_id: str | None  # ids are given without angle brackets
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    sender: MailAddress | None = None
    to: tuple[MailAddress, ...] = ()
    cc: tuple[MailAddress, ...] = ()
    reply_to: tuple[MailAddress, ...] = ()
    subject: str = ""
    date: datetime | None = None  # UTC
    body_type: BodyType = "text/plain"
    text: str = ""  # what the author wrote: quoted history and signature removed
    full_text: str = ""
    html: str | None = None  # sanitised with nh3
    attachments: tuple[MailFile, ...] = ()
    auto: AutoReason | None = None  # why no automatic answer may be sent
    out_of_office: bool = False
    bounce: Bounce | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    degraded: bool = False  # the structure could not be read; full_text is the raw bytes as text

    @property
    def suppresses_auto_reply(self) -> bool:
        """True when an automatic answer must not be sent (RFC 3834 loop protection)."""
        return self.auto is not None or self.out_of_office or self.bounce is not None


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse a raw message. Raises ``PayloadRejected`` for empty input and nothing else:
    a message whose structure cannot be read comes back ``degraded``, as text."""
    if not raw:
        raise PayloadRejected("empty message")
    try:
        return _parse(raw)
    except (*_PARSER_ERRORS, RecursionError):
        # Hostile input must still reach a person, so it is delivered as plain text.
        text = decode_bytes(raw)
        return ParsedMail(message_id=None, text=text, full_text=text, degraded=True)


def _parse(raw: bytes) -> ParsedMail:
    """``parse_mail`` without the safety net; raises what the stdlib raises."""
    raw = _repair_header_block(raw)
    try:
        msg: Message = BytesParser(policy=policy.default).parsebytes(raw)
    except _PARSER_ERRORS:
        msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    hint = _find_charsets(msg)
    fields = _Fields(msg, hint)
    body = _read_body(msg, raw, hint)
    if body.text_from_html:
        text = visible_html_text(body.html_source or "")
    else:
        text = visible_text(body.full_text) if body.full_text.strip() else ""
    subject = fields.text("subject").strip()
    bounce = _read_bounce(body.report)
    ids = _find_ids(fields.first("message-id"), bare=True)
    return ParsedMail(
        message_id=ids[0] if ids else None,
        in_reply_to=_find_ids(fields.first("in-reply-to")),
        references=_find_ids(" ".join(fields.all("references"))),
        sender=_choose_sender(fields),
        to=_read_addresses(fields, "to"),
        cc=_read_addresses(fields, "cc"),
        reply_to=_read_addresses(fields, "reply-to"),
        subject=subject,
        date=_parse_date(fields.first("date")),
        body_type=body.body_type,
        text=text,
        full_text=body.full_text,
        html=clean_html(body.html_source),
        attachments=body.files,
        auto=_detect_auto(fields),
        out_of_office=bounce is None and _is_out_of_office(fields, subject),
        bounce=bounce,
        headers=MappingProxyType({name: fields.text(name) for name in KEPT_HEADERS if fields.first(name)}),
    )


class _Fields:
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


def _find_ids(value: str | None, *, bare: bool = False) -> tuple[str, ...]:
    """The message ids in ``value``, without angle brackets; with ``bare``, a lone id
    written without brackets counts too."""
    if not value:
        return ()
    found = tuple(_ID.findall(value))
    if not found and bare and value.split():
        return (value.split()[0].strip("<>"),)
    return found


def _parse_date(value: str | None) -> datetime | None:
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


def _read_addresses(fields: _Fields, name: str) -> tuple[MailAddress, ...]:
    """The addresses of every ``name`` header."""
    return tuple(addr for value in fields.all(name) for addr in parse_addresses(value))


def _choose_sender(fields: _Fields) -> MailAddress | None:
    """The first From address with an ``@`` in it; else Sender's, then Reply-To's; else any."""
    candidates = [
        *_read_addresses(fields, "from"),
        *_read_addresses(fields, "sender"),
        *_read_addresses(fields, "reply-to"),
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


def _detect_auto(fields: _Fields) -> AutoReason | None:
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


def _is_out_of_office(fields: _Fields, subject: str) -> bool:
    """An absence note: auto-replied, X-Autoreply/X-Autorespond, or an absence subject."""
    submitted = (fields.first("auto-submitted") or "").split(";")[0].strip().lower()
    if submitted == "auto-replied" or fields.first("x-autoreply") or fields.first("x-autorespond"):
        return True
    return bool(_OOF_SUBJECT.match(subject))


def _read_bounce(report: _Report | None) -> Bounce | None:
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
    original = _find_ids(HeaderParser().parsestr(report.original_headers).get("message-id", ""), bare=True)
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


# --- The MIME structure: which part is the body, and the files -------------------------

_EML_TYPES = frozenset({"message/rfc822", "message/global"})
_DSN_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_HEADER_TYPES = frozenset({"text/rfc822-headers", "message/global-headers"})
_EXTENSIONS = {
    "text/plain": ".txt", "text/html": ".html", "text/calendar": ".ics", "text/csv": ".csv",
    "image/jpeg": ".jpg", "image/jpg": ".jpg", "image/pjpeg": ".jpg", "image/png": ".png",
    "image/gif": ".gif", "image/bmp": ".bmp", "image/tiff": ".tif", "image/webp": ".webp",
    "video/quicktime": ".mov", "video/mp4": ".mp4", "audio/mpeg": ".mp3", "audio/wav": ".wav",
    "application/pdf": ".pdf", "message/delivery-status": ".txt",
}  # fmt: skip
_STEMS = {
    "text": "document",
    "image": "image",
    "video": "video",
    "audio": "audio",
    "message": "delivery-status",
}
_UU = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})
_PARAMETER_LINE = re.compile(rb"^[\w.-]+\*?(?:\d+\*?)?=")
_FIELD_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:+-]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Report:
    status: str  # the message/delivery-status part, as text
    original_headers: str  # the returned message's header section ("" when absent)


@dataclass(frozen=True, slots=True)
class _Body:
    body_type: BodyType
    full_text: str
    html_source: str | None  # not sanitised yet
    text_from_html: bool
    files: tuple[MailFile, ...]
    report: _Report | None


@dataclass(frozen=True, slots=True)
class _Part:
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


def _repair_header_block(raw: bytes) -> bytes:
    """Undo two header breakages clients and gateways produce: junk lines before the
    first field, and folded lines that lost their indentation (which would end the
    header section early; after the last field only a ``name=value`` parameter after a
    ``;`` counts as one). Returns ``raw`` itself when nothing needs repair."""
    end = _BLANK_LINE.search(raw)
    head = raw[: end.start()] if end else raw
    lines = head.split(b"\n")
    fields = [bool(_FIELD_LINE.match(line)) for line in lines]
    if not any(fields) or fields.index(True) > 3:
        return raw
    first, last = fields.index(True), max(i for i, f in enumerate(fields) if f)
    out: list[bytes] = []
    for i, line in enumerate(lines):
        if i < first:
            if i == 0 and line.startswith(b"From "):  # mbox separator: the parser knows it
                out.append(line)
        elif fields[i] or line[:1] in (b" ", b"\t") or not line.strip():
            out.append(line)
        elif i > last and not (_PARAMETER_LINE.match(line) and out and out[-1].rstrip().endswith(b";")):
            out.append(line)
        else:
            out.append(b" " + line)
    repaired = b"\n".join(out)
    return raw if repaired == head else repaired + raw[len(head) :]


def _find_charsets(msg: Message) -> tuple[str, ...]:
    """Every charset the message's parts declare: how 8-bit header bytes may be meant."""
    found: list[str] = []
    for part in msg.walk():
        for name, value in part.raw_items():
            if name.lower() == "content-type":
                found += _CHARSET.findall(str(value))
    return tuple(dict.fromkeys(label.lower() for label in found))


def _read_body(msg: Message, raw: bytes, hint: tuple[str, ...]) -> _Body:
    """Choose the body and collect the files. The first HTML part is the body when any
    HTML part has visible text; plain text parts interleaved with inline images are
    joined into HTML (Apple Mail); other text/html parts become files."""
    raw_bodies: dict[int, bytes] = {}
    _index_raw(raw, msg, raw_bodies, 0)
    parts: list[_Part] = []
    _collect(msg, hint, parts, related=False, in_report=False, depth=0)
    candidates = [p for p in parts if _is_text_body(p)]
    htmls = [p for p in candidates if p.ctype == "text/html"]
    plains = [p for p in candidates if p.ctype != "text/html"]
    plain_texts = [t for t in (_decode_text(p) for p in plains) if t.strip()]
    html_texts = [_decode_text(p) for p in htmls]
    html_source = html_texts[0] if html_texts else None
    body_type: BodyType = "text/plain"
    if any(_shows_text(html) for html in html_texts):
        body_type = "text/html"
    elif len(plains) > 1 and any(_is_inline_image(p) for p in parts):
        body_type, html_source = "text/html", _interleave(parts, set(map(id, plains)))
    text_from_html = body_type == "text/html" and not plain_texts and html_source is not None
    full_text = html_to_text(html_source or "") if text_from_html else "\n".join(plain_texts)
    extra = {id(p) for p in htmls[1:]}
    files = [p for p in parts if not _is_text_body(p) or id(p) in extra]
    return _Body(
        body_type=body_type,
        full_text=full_text.replace("\x00", ""),
        html_source=html_source,
        text_from_html=text_from_html,
        files=_make_files(files, raw_bodies, hint),
        report=_find_report(parts, raw_bodies),
    )


def _collect(
    part: Message, hint: tuple[str, ...], out: list[_Part], *, related: bool, in_report: bool, depth: int
) -> None:
    """Append the leaves of ``part`` to ``out`` in order. message/* parts are leaves:
    an embedded message is a file, not part of this mail's body."""
    view = _copy_content_fields(part, hint)
    ctype = view.get_content_type()
    if not ctype.startswith("multipart/") or not part.is_multipart() or depth > 40:
        cid = (view.get("content-id") or "").strip().strip("<>").strip() or None
        disposition = view.get_content_disposition()
        filename = view.get_filename()
        out.append(
            _Part(
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
            _collect(
                child,
                hint,
                out,
                related=related or ctype == "multipart/related",
                in_report=in_report or report,
                depth=depth + 1,
            )


def _copy_content_fields(part: Message, hint: tuple[str, ...]) -> Message:
    """A compat32 message holding only the part's Content-* fields, decoded: its
    parameter parsing never raises."""
    view = Message()
    view.set_default_type(part.get_default_type())
    for name, value in part.raw_items():
        if name.lower().startswith("content-"):
            view[name] = unfold(unescape_raw(str(value), hint))
    return view


def _is_text_body(part: _Part) -> bool:
    """Whether the part may be (a piece of) the body rather than a file."""
    if part.attached:
        return False
    if part.ctype.startswith("multipart/"):  # a multipart without usable boundaries: its text
        return True
    return part.ctype in ("text/plain", "text/html")


def _decode_text(part: _Part) -> str:
    """A text part as str, in its declared charset (or the one its HTML declares)."""
    data = _decode_payload(part.msg)
    charset = part.view.get_param("charset")
    label = charset if isinstance(charset, str) else None
    if label is None and part.ctype == "text/html":
        sniffed = _CHARSET.search(data[:4096].decode("ascii", "replace"))
        label = sniffed.group(1) if sniffed else None
    return decode_bytes(data, label).replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _decode_payload(part: Message) -> bytes:
    """The decoded body of a leaf part. Lenient where the stdlib is strict: base64 with
    a stray character, uuencode without its ``begin`` line. 7bit (the default) content is
    text in canonical CRLF form and gets LF line ends, as the mail gem (Zammad) does."""
    encoding = _transfer_encoding(part)
    if encoding == "base64" or encoding in _UU:
        try:  # base64 and uuencode are ASCII; anything else is noise
            text = part.get_payload()
        except _PARSER_ERRORS:  # the stdlib decodes 8-bit noise with the declared charset
            text = ""
        data = text.encode("ascii", "ignore") if isinstance(text, str) else b""
        return _decode_base64(data) if encoding == "base64" else _decode_uu(data)
    try:
        decoded = part.get_payload(decode=True)  # the raw bytes, or quoted-printable decoded
    except _PARSER_ERRORS:
        decoded = None
    data = decoded if isinstance(decoded, bytes) else b""
    return data.replace(b"\r\n", b"\n") if encoding in ("", "7bit") else data


def _decode_base64(data: bytes) -> bytes:
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


def _shows_text(html: str) -> bool:
    """Whether the HTML shows any text once sanitised (nh3 keeps a title's text; an
    image alone is no text)."""
    return bool(html_to_text(clean_html(html) or "").strip())


def _is_inline_image(part: _Part) -> bool:
    """An image shown in the body rather than offered as a download."""
    return part.ctype.startswith("image/") and (
        part.inline or part.view.get_content_disposition() == "inline"
    )


def _interleave(parts: list[_Part], texts: set[int]) -> str:
    """Text parts and inline images in their order, as one HTML document."""
    chunks: list[str] = []
    for part in parts:
        if id(part) in texts:
            chunks.append("<div>" + escape(_decode_text(part)).replace("\n", "<br>") + "</div>")
        elif _is_inline_image(part):
            chunks.append(f'<img src="cid:{escape(part.content_id)}">' if part.content_id else "<br>")
    return "".join(chunks)


def _make_files(
    parts: list[_Part], raw_bodies: dict[int, bytes], hint: tuple[str, ...]
) -> tuple[MailFile, ...]:
    """The parts as files, named and with their decoded (message/*: source) bytes."""
    files: list[MailFile] = []
    used: dict[str, int] = {}
    for part in parts:
        name = _make_unique(_sanitise_name(_name_file(part, hint)), used)
        data = _read_entity(part.msg, raw_bodies) if part.msg.is_multipart() else _decode_payload(part.msg)
        files.append(MailFile(name, part.ctype, data, part.content_id, part.inline))
    return tuple(files)


def _name_file(part: _Part, hint: tuple[str, ...]) -> str:
    """The declared name; else an embedded message's subject, a Content-ID that looks like
    a file name, a name from the description or the type, or the Content-ID."""
    if part.filename:
        return part.filename
    description = collapse(decode_words(part.view.get("content-description") or ""))
    if part.ctype in _EML_TYPES and part.msg.is_multipart():
        payload = part.msg.get_payload()
        first = payload[0] if isinstance(payload, list) and payload else None
        inner = first if isinstance(first, Message) else None
        subject = _Fields(inner, hint).text("subject").strip() if inner is not None else ""
        return f"{subject or description or 'message'}.eml"
    cid = part.content_id or ""
    named = re.match(r"([^@<>\s]+\.[A-Za-z0-9]{2,6})@", cid)
    if named:
        return named.group(1)
    extension = _EXTENSIONS.get(part.ctype)
    stem = description or _STEMS.get(part.ctype.split("/")[0], "")
    if extension and stem:
        return stem + extension
    return cid.split("@")[0] or "file"


def _sanitise_name(name: str) -> str:
    """A file name without path separators or control characters."""
    cleaned = re.sub(r"[\x00-\x1f\x7f/\\]", "_", name).strip()
    return cleaned or "file"


def _make_unique(name: str, used: dict[str, int]) -> str:
    """``name``, or with a counter after the stem up to the first dot (report.tar.gz →
    report1.tar.gz) when the message already has a file of that name. ``used`` maps
    each name taken to the last counter tried for it."""
    stem, dot, rest = name.partition(".")
    candidate, counter = name, used.get(name, 0)
    while candidate in used:
        counter += 1
        candidate = f"{stem}{counter}{dot}{rest}"
    used[name], used[candidate] = counter, 0
    return candidate


def _find_report(parts: list[_Part], raw_bodies: dict[int, bytes]) -> _Report | None:
    """The status part and returned headers of a delivery-status report, if any."""
    status = next((p for p in parts if p.in_report and p.ctype in _DSN_TYPES), None)
    if status is None:
        return None
    original = ""
    for part in parts:
        if part.in_report and part.ctype in _EML_TYPES:
            original = decode_bytes(_read_entity(part.msg, raw_bodies))
        elif part.in_report and part.ctype in _HEADER_TYPES:
            original = decode_bytes(_decode_payload(part.msg))
    text = decode_bytes(_read_entity(status.msg, raw_bodies)).replace("\r\n", "\n")
    return _Report(status=text, original_headers=original.replace("\r\n", "\n").split("\n\n", 1)[0])


def _read_entity(part: Message, raw_bodies: dict[int, bytes]) -> bytes:
    """The bytes of a message/* part's body as they were in the source (decoded if a
    transfer encoding was applied against the rules); regenerated when not found."""
    data = raw_bodies.get(id(part))
    if data is None:
        data = _regenerate(part)
    encoding = _transfer_encoding(part)
    if encoding == "base64":
        return _decode_base64(data)
    if encoding == "quoted-printable":
        return quopri.decodestring(data)
    return data.replace(b"\r\n", b"\n") if encoding in ("", "7bit") else data


def _transfer_encoding(part: Message) -> str:
    """The Content-Transfer-Encoding token, read raw (a broken value is just unknown)."""
    for name, value in part.raw_items():
        if name.lower() == "content-transfer-encoding":
            return str(value).split(";")[0].strip().lower()
    return ""


def _regenerate(part: Message) -> bytes:
    """A message/* part's body regenerated by the stdlib (when the source was not found)."""
    try:
        flat = part.as_bytes(policy=policy.compat32)
    except _PARSER_ERRORS:
        return b""
    found = _BLANK_LINE.search(flat)
    return flat[found.end() :] if found else b""


def _index_raw(entity: bytes, part: Message, out: dict[int, bytes], depth: int) -> None:
    """Map each message/* part (by id) to its body's bytes in ``entity``, walking the
    boundaries as the parser did; a subtree whose part count differs is left out."""
    if not part.is_multipart() or depth > 40:
        return
    payload = part.get_payload()
    body = _strip_header(entity)
    view = _copy_content_fields(part, ())
    if not view.get_content_type().startswith("multipart/"):
        out[id(part)] = body
        return
    boundary = view.get_boundary()
    pieces = _split_parts(body, boundary) if boundary else []
    if len(pieces) == len(payload):
        for piece, child in zip(pieces, payload, strict=True):
            if isinstance(child, Message):
                _index_raw(piece, child, out, depth + 1)


def _strip_header(entity: bytes) -> bytes:
    """The body of an entity: what follows its first empty line."""
    if entity.startswith((b"\n", b"\r\n")):
        return entity[entity.index(b"\n") + 1 :]
    found = _BLANK_LINE.search(entity)
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
