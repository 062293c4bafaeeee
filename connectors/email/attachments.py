"""The parts of a mail that are files, as ``MailFile``s: named (a declared name, else one
made from an embedded message's subject, the Content-ID, the description or the type),
unique within the mail, and never a path. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from connectors.email.charsets import collapse, decode_words
from connectors.email.headers import HeaderFields
from connectors.email.mime import EML_TYPES, Part, decode_payload, read_entity


@dataclass(frozen=True, slots=True)
class MailFile:
    filename: str  # unique within the message
    content_type: str
    data: bytes
    content_id: str | None = None  # without angle brackets
    inline: bool = False


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


def make_files(
    parts: list[Part], raw_bodies: dict[int, bytes], hint: tuple[str, ...]
) -> tuple[MailFile, ...]:
    """The parts as files, named and with their decoded (message/*: source) bytes."""
    files: list[MailFile] = []
    used: dict[str, int] = {}
    for part in parts:
        name = _make_unique(_sanitise_name(_name_file(part, hint)), used)
        data = read_entity(part.msg, raw_bodies) if part.msg.is_multipart() else decode_payload(part.msg)
        files.append(MailFile(name, part.ctype, data, part.content_id, part.inline))
    return tuple(files)


def _name_file(part: Part, hint: tuple[str, ...]) -> str:
    """The declared name; else an embedded message's subject, a Content-ID that looks like
    a file name, a name from the description or the type, or the Content-ID."""
    if part.filename:
        return part.filename
    description = collapse(decode_words(part.view.get("content-description") or ""))
    if part.ctype in EML_TYPES and part.msg.is_multipart():
        payload = part.msg.get_payload()
        first = payload[0] if isinstance(payload, list) and payload else None
        inner = first if isinstance(first, Message) else None
        subject = HeaderFields(inner, hint).text("subject").strip() if inner is not None else ""
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
