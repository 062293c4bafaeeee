"""The pluggable fax gateway: what every adapter (Phaxio, Sinch, generic signed) does.

An adapter verifies a callback, parses it into a ``ReceivedFax`` or a ``StatusReport``,
and sends a PDF to a number. ``verify`` and ``parse`` are pure: they get the callback as
read (``Callback``) and the time, never the request; ``read_callback`` is the one place a
request body is read, with the fax size limit (larger than the hub's usual body limit).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl

import aiohttp
import orjson
from aiohttp import web

from hub.errors import InputError, PayloadRejected, PayloadTooLarge
from hub.request_body import public_base

PDF = "application/pdf"
TIFF = "image/tiff"


def json_object(body: bytes) -> dict[str, Any]:
    """A callback body that must be a JSON object. Raises PayloadRejected (400). Pure."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadRejected(f"the body is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise PayloadRejected("the body must be a JSON object")
    return doc


def base64_bytes(value: object, where: str) -> bytes:
    """A document sent as base64 text. Raises PayloadRejected naming ``where``. Pure."""
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PayloadRejected(f"{where}: not base64") from exc


@dataclass(frozen=True, slots=True)
class FilePart:
    """A file of a callback: its form field, the name the gateway gave it, its bytes."""

    name: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Callback:
    """A gateway's request, read: ``url`` is the one the gateway called (the public
    base, the path and the query as received), which is what Phaxio signs."""

    url: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    content_type: str
    fields: Mapping[str, str] = field(default_factory=dict)  # form fields (multipart or urlencoded)
    files: tuple[FilePart, ...] = ()
    body: bytes = b""  # the raw body of a non-form (JSON) callback


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedFax:
    """An inbound fax as a gateway reported it; numbers as the gateway wrote them."""

    provider: str
    fax_id: str
    sender: str
    recipient: str | None
    document: FilePart
    pages: int | None = None
    station_id: str | None = None  # the sending machine's CSID / TSI


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusReport:
    """How far a fax of ours got: ``status`` is delivered, failed, undelivered or sent."""

    reply_id: str
    provider_id: str
    status: str
    code: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingFax:
    reply_id: str
    to: str  # E.164
    sender: str | None  # our number, where the gateway lets us choose
    pdf: bytes
    callback_url: str  # where the gateway reports delivery (carries ?id=<reply>)


class FaxProvider(Protocol):
    name: str  # also the URL segment: /webhooks/fax/<name>

    def verify(self, callback: Callback, now: datetime) -> None:
        """Raise Forbidden (or Unauthenticated) unless the callback is the gateway's. Pure."""
        ...

    def parse(self, callback: Callback) -> ReceivedFax | StatusReport:
        """The callback's meaning. Raises PayloadRejected (malformed) or Ignored (an
        event the hub does not need). Pure."""
        ...

    @property
    def can_send(self) -> bool: ...

    async def send(self, http: aiohttp.ClientSession, fax: OutgoingFax) -> str:
        """Hand the fax to the gateway; return its id. Raises ``SendFailed``."""
        ...


def status_failed(status: int) -> bool:
    """A gateway's HTTP answer that will not change on a retry (a bad number, bad keys)."""
    return 400 <= status < 500 and status not in (408, 425, 429)


async def read_callback(request: web.Request, public_url: str | None, max_bytes: int) -> Callback:
    """Read a callback body (multipart, urlencoded or raw), at most ``max_bytes`` in all.

    Raises PayloadTooLarge past the limit and InputError for a body that is not a form
    where one is announced. Nothing here trusts the content: verification comes next.
    """
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(f"the body is {request.content_length} bytes; the limit is {max_bytes}")
    url = public_base(request, public_url) + request.rel_url.raw_path_qs
    query = dict(request.query)
    ctype = request.content_type
    head = request.headers
    if request.content_type == "multipart/form-data":
        fields: dict[str, str] = {}
        files: list[FilePart] = []
        total = 0
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, aiohttp.BodyPartReader):
                    raise InputError("nested multipart bodies are not taken", field="(body)")
                data = bytearray()
                while chunk := await part.read_chunk(1 << 16):
                    data += chunk
                    total += len(chunk)
                    if total > max_bytes:
                        raise PayloadTooLarge(f"the body is over the limit of {max_bytes} bytes")
                name = part.name or ""
                if part.filename is not None:
                    content_type = part.headers.get("Content-Type", "application/octet-stream")
                    files.append(
                        FilePart(name, part.filename, content_type.split(";")[0].strip(), bytes(data))
                    )
                else:
                    fields[name] = bytes(data).decode(part.get_charset("utf-8"), "replace")
        except ValueError as exc:  # a broken multipart body
            raise InputError(f"the multipart body cannot be read: {exc}", field="(body)") from exc
        return Callback(
            url=url, headers=head, query=query, content_type=ctype, fields=fields, files=tuple(files)
        )
    body = bytearray()
    async for chunk in request.content.iter_chunked(1 << 16):
        body += chunk
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"the body is over the limit of {max_bytes} bytes")
    if request.content_type == "application/x-www-form-urlencoded":
        pairs = parse_qsl(bytes(body).decode("utf-8", "replace"), keep_blank_values=True)
        return Callback(
            url=url, headers=head, query=query, content_type=ctype, fields=dict(pairs), body=bytes(body)
        )
    return Callback(url=url, headers=head, query=query, content_type=ctype, body=bytes(body))
