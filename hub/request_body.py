"""Reading a JSON request body with clear errors. Used by the web layer and connectors."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from hub.errors import InputError, PayloadRejected, PayloadTooLarge, UnsupportedMediaType


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
    return value


def int_query(request: web.Request, name: str, default: int, top: int) -> int:
    """A whole-number query parameter from 1 to ``top``; 422 naming it otherwise."""
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= top:
        raise InputError(f"{name}: a whole number from 1 to {top}", field=name)
    return int(raw)


def public_base(request: web.Request, *configured: str | None) -> str:
    """The URL others reach this hub at: the first configured one (a connector's
    public_url, server.public_url), else the address this request came to; no trailing slash."""
    public = next((url for url in configured if url), None)
    return (public or f"{request.scheme}://{request.host}").rstrip("/")
