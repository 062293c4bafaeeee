"""Reading request bodies and parameters with clear errors. Used by the web layer and
connectors: JSON objects, forms (urlencoded or multipart), and whole numbers from the
query or the path (STYLE §12: one reader per shape; a caller's mistake is a 4xx, never
a 500)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDict, MultiDictProxy

from hub.errors import InputError, PayloadRejected, PayloadTooLarge, UnsupportedMediaType
from hub.untrusted import INT64_MAX, nul_at, strict_int, strict_text

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# what aiohttp's multipart reader raises for a body that is not what its headers say
_MULTIPART_ERRORS = (ValueError, KeyError, AssertionError, HttpProcessingError)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


async def read_limited(request: web.Request, max_bytes: int, what: str = "the body") -> bytes:
    """The whole body, streamed; PayloadTooLarge past ``max_bytes`` (whatever the app-wide
    limit, so one route may take larger bodies than the rest)."""
    data = bytearray()
    async for chunk in request.content.iter_chunked(1 << 16):
        data += chunk
        if len(data) > max_bytes:
            raise PayloadTooLarge(f"{what} is over the limit of {max_bytes} bytes")
    return bytes(data)


async def read_json_object(request: web.Request, max_bytes: int) -> dict[str, Any]:
    """Return the body as a JSON object.

    Raises UnsupportedMediaType (not JSON), PayloadTooLarge (over ``max_bytes``),
    PayloadRejected (unparseable) or InputError (not an object).
    """
    if request.content_type != "application/json":
        raise UnsupportedMediaType(
            f"send the body as application/json (got {request.content_type or 'none'})"
        )
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(f"the body is {request.content_length} bytes; the limit is {max_bytes}")
    try:
        raw = await request.read()  # the app's client_max_size is max_bytes
    except web.HTTPRequestEntityTooLarge as exc:
        raise PayloadTooLarge(f"the body is over the limit of {max_bytes} bytes") from exc
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PayloadRejected(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InputError(f"the body must be a JSON object, not {type(value).__name__}", field="")
    if b"\\u0000" in raw and (where := nul_at(value)) is not None:  # JSON has NUL only escaped
        raise PayloadRejected(
            f"{where}: holds a NUL character (\\u0000), which cannot be stored", field=where
        )
    return value


def int_query(request: web.Request, name: str, default: int, top: int = INT64_MAX, *, low: int = 1) -> int:
    """A whole-number query parameter from ``low`` to ``top`` (ASCII digits only), or
    ``default`` when it is absent; PayloadRejected (400) naming it otherwise."""
    raw = request.query.get(name)
    return default if raw is None else strict_int(raw, name, low=low, high=top)


def int_path(request: web.Request, name: str, *, low: int = 1, top: int = INT64_MAX) -> int:
    """A whole-number path parameter (an id) from ``low`` to ``top``; PayloadRejected (400)
    naming it otherwise, so a bad id never reaches a 64-bit column."""
    return strict_int(request.match_info[name], name, low=low, high=top)


@dataclass(frozen=True, slots=True)
class FormFile:
    """A file part of a multipart form: its field, the name the sender gave it, its bytes."""

    name: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Form:
    """A form as read: text fields (repeated names kept, in order), file parts, and for a
    urlencoded form its raw body (what some providers sign)."""

    fields: MultiDictProxy[str]
    files: tuple[FormFile, ...] = ()
    body: bytes = b""


async def read_form(request: web.Request, max_bytes: int) -> Form:
    """The body as a form, urlencoded or multipart/form-data, at most ``max_bytes`` in all.

    Raises UnsupportedMediaType (another type), PayloadTooLarge (over ``max_bytes``) and
    PayloadRejected (400) for an unknown charset, bytes that are not in the charset, a NUL
    in a field (no database stores one), or a multipart body that cannot be read (no
    boundary, broken framing, nested multipart).
    """
    if request.content_type not in FORM_TYPES:
        raise UnsupportedMediaType(f"send a form ({' or '.join(FORM_TYPES)})")
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(f"the body is {request.content_length} bytes; the limit is {max_bytes}")
    if request.content_type == "multipart/form-data":
        form = await _read_multipart_form(request, max_bytes)
    else:
        form = await _read_urlencoded_form(request, max_bytes)
    for name, value in form.fields.items():
        if "\x00" in name or "\x00" in value:
            field = name.replace("\x00", "") or "(field)"
            raise PayloadRejected(f"{field}: holds a NUL character, which cannot be stored", field=field)
    return form


async def _read_urlencoded_form(request: web.Request, max_bytes: int) -> Form:
    body = await read_limited(request, max_bytes)
    charset = request.charset or "utf-8"
    text = strict_text(body, charset, "(body)")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding=charset, errors="strict")
        for name, value in pairs:
            (name + value).encode("utf-8")  # no lone surrogate from a percent-escape either
    except ValueError as exc:
        raise PayloadRejected(
            f"(body): a percent-escaped value is not valid {charset}", field="(body)"
        ) from exc
    return Form(MultiDictProxy(MultiDict(pairs)), body=body)


async def _read_multipart_form(request: web.Request, max_bytes: int) -> Form:
    fields: MultiDict[str] = MultiDict()
    files: list[FormFile] = []
    left = max_bytes
    async for part in multipart_parts(await open_multipart(request)):
        name = part.name or ""
        try:
            data = await read_part(part, left, "the body")
        except PayloadTooLarge as exc:
            raise PayloadTooLarge(f"the body is over the limit of {max_bytes} bytes") from exc
        left -= len(data)
        if part.filename is not None:
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            files.append(FormFile(name, part.filename, content_type.split(";")[0].strip(), data))
        else:
            fields.add(name, strict_text(data, part.get_charset("utf-8"), name or "(field)"))
    return Form(MultiDictProxy(fields), tuple(files))


async def open_multipart(request: web.Request) -> MultipartReader:
    """The multipart reader of the body; PayloadRejected (400) when the Content-Type names
    no usable boundary."""
    try:
        return await request.multipart()
    except _MULTIPART_ERRORS as exc:
        raise PayloadRejected(f"(body): not a readable multipart body ({exc!r:.80})", field="(body)") from exc


async def multipart_parts(reader: MultipartReader) -> AsyncIterator[BodyPartReader]:
    """The parts of a multipart body, in order; PayloadRejected (400) for broken framing
    or a nested multipart (no form needs one)."""
    while True:
        try:
            part = await reader.next()
        except _MULTIPART_ERRORS as exc:
            raise _malformed(exc) from exc
        if part is None:
            return
        if not isinstance(part, BodyPartReader):
            raise PayloadRejected("(body): nested multipart bodies are not taken", field="(body)")
        yield part


def _malformed(exc: BaseException) -> PayloadRejected:
    return PayloadRejected(f"(body): the multipart body is malformed ({exc!r:.80})", field="(body)")


async def read_part(part: BodyPartReader, max_bytes: int, what: str) -> bytes:
    """One part's bytes, as sent (no transfer decoding); PayloadTooLarge past ``max_bytes``
    (naming ``what``), PayloadRejected (400) for broken framing."""
    data = bytearray()
    try:
        while chunk := await part.read_chunk(1 << 16):
            data += chunk
            if len(data) > max_bytes:
                raise PayloadTooLarge(f"{what} is over the limit of {max_bytes} bytes")
    except _MULTIPART_ERRORS as exc:
        raise _malformed(exc) from exc
    return bytes(data)


def public_base(request: web.Request, *configured: str | None) -> str:
    """The URL others reach this hub at: the first configured one (a connector's
    public_url, server.public_url), else the address this request came to; no trailing slash."""
    public = next((url for url in configured if url), None)
    return (public or f"{request.scheme}://{request.host}").rstrip("/")
