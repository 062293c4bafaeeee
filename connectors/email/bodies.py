"""Which part of a mail is its body: the first HTML part when any HTML part shows text,
else the plain text (Apple Mail's text interleaved with inline images becomes HTML),
following mail clients and Zammad's parser. Every other part is a file. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from html import escape
from typing import Literal

from connectors.email.attachments import MailFile, make_files
from connectors.email.bounces import Report, find_report
from connectors.email.charsets import decode_bytes
from connectors.email.mime import CHARSET, Part, collect, decode_payload, index_raw
from connectors.email.quotes import html_to_text
from hub.sanitize import clean_html

BodyType = Literal["text/plain", "text/html"]


@dataclass(frozen=True, slots=True)
class Body:
    body_type: BodyType
    full_text: str
    html_source: str | None  # not sanitised yet
    text_from_html: bool
    files: tuple[MailFile, ...]
    report: Report | None


def read_body(msg: Message, raw: bytes, hint: tuple[str, ...]) -> Body:
    """Choose the body and collect the files. The first HTML part is the body when any
    HTML part has visible text; plain text parts interleaved with inline images are
    joined into HTML (Apple Mail); other text/html parts become files."""
    raw_bodies: dict[int, bytes] = {}
    index_raw(raw, msg, raw_bodies, 0)
    parts: list[Part] = []
    collect(msg, hint, parts, related=False, in_report=False, depth=0)
    candidates = [p for p in parts if _is_text_body(p)]
    htmls = [p for p in candidates if p.ctype == "text/html"]
    plains = [p for p in candidates if p.ctype != "text/html"]
    plain_texts = [t for t in (_decode_text(p) for p in plains) if t.strip()]
    if not plain_texts and not htmls:
        # no body but an inline text file: mail clients show the first one as the body
        # (it stays a file too, byte for byte)
        shown = next((p for p in parts if _is_inline_text_file(p) and _decode_text(p).strip()), None)
        plain_texts = [_decode_text(shown)] if shown is not None else []
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
    return Body(
        body_type=body_type,
        full_text=full_text.replace("\x00", ""),
        html_source=html_source,
        text_from_html=text_from_html,
        files=make_files(files, raw_bodies, hint),
        report=find_report(parts, raw_bodies),
    )


def _is_text_body(part: Part) -> bool:
    """Whether the part may be (a piece of) the body rather than a file."""
    if part.attached:
        return False
    if part.ctype.startswith("multipart/"):  # a multipart without usable boundaries: its text
        return True
    return part.ctype in ("text/plain", "text/html")


def _is_inline_text_file(part: Part) -> bool:
    """A text/plain part with a file name that is not marked as an attachment."""
    return (
        part.ctype == "text/plain"
        and part.filename is not None
        and part.view.get_content_disposition() != "attachment"
    )


def _decode_text(part: Part) -> str:
    """A text part as str, in its declared charset (or the one its HTML declares)."""
    data = decode_payload(part.msg)
    charset = part.view.get_param("charset")
    label = charset if isinstance(charset, str) else None
    if label is None and part.ctype == "text/html":
        sniffed = CHARSET.search(data[:4096].decode("ascii", "replace"))
        label = sniffed.group(1) if sniffed else None
    return decode_bytes(data, label).replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _shows_text(html: str) -> bool:
    """Whether the HTML shows any text once sanitised (nh3 keeps a title's text; an
    image alone is no text)."""
    return bool(html_to_text(clean_html(html) or "").strip())


def _is_inline_image(part: Part) -> bool:
    """An image shown in the body rather than offered as a download."""
    return part.ctype.startswith("image/") and (
        part.inline or part.view.get_content_disposition() == "inline"
    )


def _interleave(parts: list[Part], texts: set[int]) -> str:
    """Text parts and inline images in their order, as one HTML document."""
    chunks: list[str] = []
    for part in parts:
        if id(part) in texts:
            chunks.append("<div>" + escape(_decode_text(part)).replace("\n", "<br>") + "</div>")
        elif _is_inline_image(part):
            chunks.append(f'<img src="cid:{escape(part.content_id)}">' if part.content_id else "<br>")
    return "".join(chunks)
