"""A raw RFC 5322 message to a ``ParsedMail``. Pure: no I/O, no event loop.

The part tree comes from the stdlib parser with ``compat32`` (header values unfolded,
see ``STRUCTURE``). Header values are read raw and decoded in ``headers``, because
``policy.default`` decodes encoded-words inside address local parts, which lets a
sender forge the address, and its header objects raise on some broken headers;
parameters use ``compat32``'s lenient parser (``mime``). Which part is
the body (``bodies``), and what an unnamed attachment is called (``attachments``),
follows mail clients and Zammad's parser: HTML wins over text when it has visible
content. Bounces are read in ``bounces``.

``parse_mail`` never raises, except ``PayloadRejected`` for empty input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.header import Header
from email.parser import BytesParser
from email.policy import Compat32
from email.utils import format_datetime
from types import MappingProxyType

from connectors.email.attachments import MailFile
from connectors.email.bodies import BodyType, read_body
from connectors.email.bounces import Bounce, read_bounce
from connectors.email.charsets import decode_bytes, unfold
from connectors.email.headers import (
    KEPT_HEADERS,
    AutoReason,
    HeaderFields,
    MailAddress,
    Priority,
    choose_sender,
    detect_auto,
    find_ids,
    is_out_of_office,
    parse_addresses,
    parse_date,
    read_addresses,
    read_priority,
)
from connectors.email.mime import BLANK_LINE, EML_TYPES, PARSER_ERRORS, find_charsets
from connectors.email.quotes import FORWARD_MARKER, visible_forward, visible_text
from hub.errors import PayloadRejected
from hub.sanitize import clean_html

__all__ = [
    "AutoReason",
    "BodyType",
    "Bounce",
    "MailAddress",
    "MailFile",
    "ParsedMail",
    "degraded_mail",
    "parse_addresses",
    "parse_mail",
]

# header repair: a parameter continuing a folded line, and the start of a field
_PARAMETER_LINE = re.compile(rb"^[\w.-]+\*?(?:\d+\*?)?=")
_FIELD_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")


class _StructurePolicy(Compat32):
    """``compat32`` with each header value unfolded when the parser reads it (a folded
    ``boundary`` parameter is one line to ``policy.default`` too). The parser reads
    only the Content-* fields that shape the part tree; ``policy.default`` built a
    header object for each of those reads, which was half the cost of a parse, and
    nothing here uses those objects."""

    # (typeshed's own Compat32 overrides Policy's ``-> str`` the same way)
    def header_fetch_parse(self, name: str, value: str) -> str | Header:  # type: ignore[override]
        return super().header_fetch_parse(name, unfold(value))


STRUCTURE = _StructurePolicy()


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
    priority: Priority | None = None  # as the sender marked it; None: normal
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    degraded: bool = False  # the structure could not be read; full_text is the raw bytes as text

    @property
    def suppresses_auto_reply(self) -> bool:
        """True when an automatic answer must not be sent (RFC 3834 loop protection)."""
        return self.auto is not None or self.out_of_office or self.bounce is not None


def parse_mail(raw: bytes, depth: int = 0) -> ParsedMail:
    """Parse a raw message. Raises ``PayloadRejected`` for empty input and nothing else:
    a message whose structure cannot be read comes back ``degraded``, as text.
    ``depth`` > 0 parses an embedded message (whose own embedded ones stay files)."""
    if not raw:
        raise PayloadRejected("empty message")
    try:
        return _parse(raw, depth)
    except (*PARSER_ERRORS, RecursionError):
        return degraded_mail(raw)


def degraded_mail(raw: bytes) -> ParsedMail:
    """A message whose structure cannot be read, as plain text: hostile input must still
    reach a person."""
    text = decode_bytes(raw)
    return ParsedMail(message_id=None, text=text, full_text=text, degraded=True)


def _parse(raw: bytes, depth: int = 0) -> ParsedMail:
    """``parse_mail`` without the safety net; raises what the stdlib raises."""
    raw = _repair_header_block(raw)
    msg = BytesParser(policy=STRUCTURE).parsebytes(raw)
    hint = find_charsets(msg)
    fields = HeaderFields(msg, hint)
    body = read_body(msg, raw, hint)
    subject = fields.text("subject").strip()
    # a forward as attachment (message/rfc822): the embedded message's text is the content
    embedded = _embedded_texts(body.files) if body.report is None and depth == 0 else []
    full_text = "\n\n".join(t for t in (body.full_text, *embedded) if t.strip())
    text = (visible_forward(full_text, subject) or visible_text(full_text)) if full_text.strip() else ""
    bounce = read_bounce(body.report)
    ids = find_ids(fields.first("message-id"), bare=True)
    return ParsedMail(
        message_id=ids[0] if ids else None,
        in_reply_to=find_ids(fields.first("in-reply-to")),
        references=find_ids(" ".join(fields.all("references"))),
        sender=choose_sender(fields),
        to=read_addresses(fields, "to"),
        cc=read_addresses(fields, "cc"),
        reply_to=read_addresses(fields, "reply-to"),
        subject=subject,
        date=parse_date(fields.first("date")),
        body_type=body.body_type,
        text=text,
        full_text=full_text,
        html=clean_html(body.html_source),
        attachments=body.files,
        auto=detect_auto(fields),
        out_of_office=bounce is None and is_out_of_office(fields, subject),
        bounce=bounce,
        priority=read_priority(fields),
        headers=MappingProxyType({name: fields.text(name) for name in KEPT_HEADERS if fields.first(name)}),
    )


def _embedded_texts(files: tuple[MailFile, ...]) -> list[str]:
    """Each embedded message (a forward as attachment, message/rfc822) as a forwarded
    block: a marker, its From, Date, Subject and To, and its whole text."""
    texts = []
    for file in files:
        if file.content_type not in EML_TYPES or not file.data.strip():
            continue
        inner = parse_mail(file.data, depth=1)
        fields = [
            ("From", _address(inner.sender)),
            ("Date", format_datetime(inner.date) if inner.date else ""),
            ("Subject", inner.subject),
            ("To", ", ".join(_address(a) for a in inner.to)),
        ]
        head = "\n".join(f"{name}: {value}" for name, value in fields if value)
        texts.append(f"{FORWARD_MARKER}\n{head}\n\n{inner.full_text.strip()}".rstrip())
    return texts


def _address(address: MailAddress | None) -> str:
    if address is None:
        return ""
    return f"{address.name} <{address.email}>" if address.name else address.email


def _repair_header_block(raw: bytes) -> bytes:
    """Undo two header breakages clients and gateways produce: junk lines before the
    first field, and folded lines that lost their indentation (which would end the
    header section early; after the last field only a ``name=value`` parameter after a
    ``;`` counts as one). Returns ``raw`` itself when nothing needs repair."""
    end = BLANK_LINE.search(raw)
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
