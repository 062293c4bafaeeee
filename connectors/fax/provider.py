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

import aiohttp
import orjson
from aiohttp import web

from connectors.base import FilePart, ReceivedFax
from hub.errors import PayloadRejected, PayloadTooLarge
from hub.request_body import FORM_TYPES, public_base, read_form, read_limited
from hub.untrusted import nul_at, strict_int

PDF = "application/pdf"
TIFF = "image/tiff"
MAX_PAGES = 100_000


def json_object(body: bytes) -> dict[str, Any]:
    """A callback body that must be a JSON object. Raises PayloadRejected (400). Pure."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadRejected(f"the body is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise PayloadRejected("the body must be a JSON object")
    if b"\\u0000" in body and (where := nul_at(doc)) is not None:  # no database stores a NUL
        raise PayloadRejected(f"{where}: holds a NUL character (\\u0000)", field=where)
    return doc


def page_count(value: object) -> int | None:
    """A gateway's page count (a number, or its digits as text); None when it is missing
    or not a plausible count: the fax itself is kept either way. Pure."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value <= MAX_PAGES else None
    try:
        return strict_int(value, "pages", high=MAX_PAGES) if isinstance(value, str) else None
    except PayloadRejected:
        return None


def base64_bytes(value: object, where: str) -> bytes:
    """A document sent as base64 text. Raises PayloadRejected naming ``where``. Pure."""
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PayloadRejected(f"{where}: not base64") from exc


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

    Raises PayloadTooLarge past the limit and PayloadRejected (400) for a form that cannot
    be read (a bogus charset, bytes not in it, broken multipart). Nothing here trusts the
    content: verification comes next.
    """
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(f"the body is {request.content_length} bytes; the limit is {max_bytes}")
    url = public_base(request, public_url) + request.rel_url.raw_path_qs
    query = dict(request.query)
    ctype = request.content_type
    head = request.headers
    if ctype in FORM_TYPES:
        form = await read_form(request, max_bytes)
        fields = {name: value for name, value in form.fields.items()}  # a repeated name: the last
        return Callback(
            url=url,
            headers=head,
            query=query,
            content_type=ctype,
            fields=fields,
            files=form.files,
            body=form.body,
        )
    body = await read_limited(request, max_bytes)
    return Callback(url=url, headers=head, query=query, content_type=ctype, body=body)
