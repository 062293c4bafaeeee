"""What websites and their visitors fetch: ``/widget/chat.js``, visitors' uploads and
files, and ``/demo/``, a sample company page with the widget embedded.

Uploads answer CORS for the site's allowed origins only; the visitor token (header
``Authorization: Visitor <token>``) is the credential, never a cookie. A file in a chat
is fetched by a capability URL that the hub signs with the site's secret.
"""

from __future__ import annotations

import mimetypes
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote

from aiohttp import web

from hub.errors import (
    Forbidden,
    InputError,
    NotFound,
    Unauthenticated,
    UnsupportedMediaType,
)
from hub.keys import BLOBS, SETTINGS, STORE
from hub.request_body import json_response, multipart_parts, open_multipart, read_part
from hub.routespec import TEXT, RouteSpec
from hub.store.repos import widget_sites as site_repo
from hub.store.repos.widget_sites import WidgetSite, WidgetUpload
from hub.untrusted import secrets_equal
from hub.web.agent_socket import hub_origins
from hub.web.console import CSP, INLINE_TYPES, WIDGETS, static_files
from hub.widget.feed import file_signature
from hub.widget.sites import SiteSettings, origin_allowed
from hub.widget.visitors import find_visitor

SCRIPT = WIDGETS / "chat" / "chat.js"
DEMO = WIDGETS / "demo"


async def chat_script(request: web.Request) -> web.StreamResponse:
    """The widget, for any page (its socket checks the page's origin)."""
    return web.FileResponse(
        SCRIPT,
        headers={
            "Content-Type": "text/javascript; charset=utf-8",
            "Access-Control-Allow-Origin": "*",  # also loadable as type="module"
            "Cache-Control": "public, max-age=300",
            "X-Content-Type-Options": "nosniff",
        },
    )


def page_allowed(request: web.Request, allowed: list[str]) -> bool:
    """Whether the page (its ``Origin``) may use a site's widget: one the site allows, or
    the hub's own pages (``/demo/``, whichever address the hub is reached at)."""
    origin = request.headers.get("Origin")
    return origin_allowed(allowed, origin) or origin in hub_origins(request)


def _cors(request: web.Request, allowed: list[str]) -> dict[str, str]:
    origin = request.headers.get("Origin")
    if origin is None:
        return {}
    if not page_allowed(request, allowed):
        raise Forbidden("this page's origin may not use this site's chat widget")
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


async def _site(request: web.Request) -> tuple[WidgetSite, dict[str, str]]:
    async with request.app[STORE].read() as conn:
        site = await site_repo.get(conn, request.query.get("site", ""), active_only=True)
    if site is None:
        raise NotFound("no such site: give ?site=KEY")
    return site, _cors(request, list(site.allowed_origins))


async def upload_preflight(request: web.Request) -> web.Response:
    _, cors = await _site(request)
    return web.Response(
        status=204,
        headers={
            **cors,
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Authorization",
            "Access-Control-Max-Age": "600",
        },
    )


async def upload(request: web.Request) -> web.Response:
    """A visitor's file: checked against the site's size and type limits, then stored."""
    site, cors = await _site(request)
    token = request.headers.get("Authorization", "").removeprefix("Visitor ").strip()
    now = datetime.now(UTC)
    async with request.app[STORE].write() as conn:
        # tokens the hub gives out are ASCII; a header of other bytes is no token (401, not 500)
        visitor = await find_visitor(conn, site.key, token, now) if token and token.isascii() else None
    if visitor is None:
        raise Unauthenticated("send the visitor token as 'Authorization: Visitor <token>'")
    limits = SiteSettings.model_validate(site.settings).uploads
    if not request.content_type.startswith("multipart/"):
        raise UnsupportedMediaType("send the file as multipart/form-data, field 'file'")
    part = None
    async for found in multipart_parts(await open_multipart(request)):
        if found.name == "file":
            part = found
            break
    if part is None:
        raise InputError("file: missing (multipart field 'file')", field="file")
    content_type = part.headers.get("Content-Type", "application/octet-stream").split(";")[0].strip().lower()
    if content_type not in limits.types:
        raise UnsupportedMediaType(
            f"file: {content_type} is not allowed here (allowed: {', '.join(limits.types)})"
        )
    data = await read_part(part, limits.max_bytes, "file")
    if not data:
        raise InputError("file: empty", field="file")
    raw = unquote(part.filename or "file")  # some clients percent-encode (RFC 5987)
    name = "".join(ch for ch in Path(raw.replace("\\", "/")).name if ch.isprintable())
    sha = await request.app[BLOBS].put(bytes(data))
    upload = WidgetUpload(
        id=str(uuid.uuid4()),
        visitor_id=visitor.id,
        sha256=sha,
        filename=name[:255] or "file",
        content_type=content_type,
        size=len(data),
        created_at=now,
    )
    async with request.app[STORE].write() as conn:
        await site_repo.add_upload(conn, upload)
    body = {"upload": upload.id, "name": upload.filename, "type": upload.content_type, "size": upload.size}
    response = json_response(body, status=201)
    response.headers.update(cors)
    return response


async def visitor_file(request: web.Request) -> web.Response:
    """A file of a chat, for whoever holds its signed link."""
    key, sha, name = (request.match_info[k] for k in ("site", "sha256", "name"))
    async with request.app[STORE].read() as conn:
        site = await site_repo.get(conn, key, active_only=True)
    if site is None or not secrets_equal(request.query.get("sig"), file_signature(site.secret, sha)):
        raise NotFound("no such file")
    data = await request.app[BLOBS].get(sha)
    content_type = _type_of(name)
    inline = content_type in INLINE_TYPES
    disposition = "inline" if inline else "attachment"
    return web.Response(
        body=data,
        headers={
            "Content-Type": content_type if inline else "application/octet-stream",
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name, safe='')}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=86400",
        },
    )


def _type_of(name: str) -> str:
    guessed = mimetypes.guess_type(name)[0]
    return guessed if guessed in INLINE_TYPES else "application/octet-stream"


async def demo_page(request: web.Request) -> web.Response:
    """The sample company page, embedding the widget of ``?site=`` or the demo site."""
    key = request.query.get("site") or request.app[SETTINGS].connectors.chat.demo_site
    if not key:
        raise NotFound("the demo page is off (connectors.chat.demo_site)")
    html = (DEMO / "index.html").read_text(encoding="utf-8")
    return web.Response(
        text=html.replace("__SITE_KEY__", quote(key, safe="")),
        content_type="text/html",
        headers={
            # the admin pages show it in a frame, as the widget's live preview
            "Content-Security-Policy": CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'"),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
        },
    )


def widget_public_routes() -> list[RouteSpec]:
    demo_files = static_files("demo")
    return [
        RouteSpec(
            "GET", "/widget/chat.js", chat_script, "The chat widget (one ES module)", "public", tag="widget"
        ),
        RouteSpec(
            "OPTIONS",
            "/widget/uploads",
            upload_preflight,
            "CORS preflight for uploads",
            "public",
            tag="widget",
            query={"site": TEXT},
            responses={204: "Allowed", 403: "Origin not allowed", 404: "No such site"},
        ),
        RouteSpec(
            "POST",
            "/widget/uploads",
            upload,
            "A visitor's file (?site=KEY, multipart field 'file')",
            "public",
            tag="widget",
            query={"site": TEXT},
            request_media="multipart/form-data",
            responses={
                201: "Stored: name `upload` in a message",
                401: "No visitor token",
                403: "Origin not allowed",
                404: "No such site",
                413: "Too large",
                415: "Type not allowed",
            },
        ),
        RouteSpec(
            "GET",
            "/widget/files/{site}/{sha256}/{name}",
            visitor_file,
            "A file of a chat (signed link)",
            "public",
            tag="widget",
            query={"sig": TEXT},
            responses={200: "The file", 404: "No such file"},
        ),
        RouteSpec("GET", "/demo/", demo_page, "A sample company page with the widget", "public", tag="ui"),
        RouteSpec(
            "GET",
            "/demo/{path:.+}",
            demo_files,
            "The sample page's styles",
            "public",
            tag="ui",
            responses={200: "The file", 404: "No such file"},
        ),
    ]
