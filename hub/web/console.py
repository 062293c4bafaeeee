"""The console's static files at ``/console/`` and the attachment downloads it links to.

The pages are plain ES modules from ``widgets/console`` (no build step), served with a
Content-Security-Policy that allows only the hub's own scripts, so text from customers
can never run as code even if it slipped into the page. Attachments are always sent as
downloads (``nosniff``), except raster images, which the console shows inline.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from hub.auth.visibility import scope_of
from hub.customers import audit
from hub.errors import NotFound
from hub.keys import BLOBS, ROUTING, STORE
from hub.request_body import int_path
from hub.routespec import Handler, RouteSpec
from hub.store.repos import conversations as conversation_repo
from hub.web.middleware import AGENT

WIDGETS = Path(__file__).resolve().parents[2] / "widgets"
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
MAX_STATIC_PATH = 1024
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}


def static_path(root: Path, name: str) -> Path | None:
    """The file ``name`` names under ``root`` (resolved), or None: for a path that escapes
    ``root``, is no file, or that the file system cannot even look up (a NUL byte, a name
    over its length limit). Never raises; ``root`` must be resolved."""
    if "\x00" in name or len(name) > MAX_STATIC_PATH or any(len(p) > 255 for p in name.split("/")):
        return None
    try:
        path = (root / name).resolve()
        found = path.is_file() and root in path.parents
    except (OSError, ValueError):  # ENAMETOOLONG, ELOOP, a NUL the checks above missed
        return None
    return path if found else None


def static_files(folder: str) -> Handler:
    """A handler serving ``widgets/<folder>``; unknown, escaping or unreadable paths are 404."""
    root = (WIDGETS / folder).resolve()

    async def serve(request: web.Request) -> web.StreamResponse:
        path = static_path(root, request.match_info.get("path") or "index.html")
        if path is None:
            raise NotFound(f"no such file: {request.path[:200]}")
        content_type = (
            _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        )
        response = web.FileResponse(path, headers={"Content-Type": content_type})
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-cache"
        return response

    return serve


async def to_console(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/console/")


async def download(request: web.Request) -> web.StreamResponse:
    """One attachment, for an agent who may see its conversation (audited)."""
    who = request[AGENT]
    attachment_id = int_path(request, "id")
    async with request.app[STORE].write() as conn:
        found = await conversation_repo.attachment_in_context(conn, attachment_id)
        if found is None or not (await scope_of(conn, who, request.app[ROUTING].rules)).allows(
            found.conversation
        ):
            raise NotFound(f"no attachment {attachment_id} for you")
        await audit.record(
            conn,
            actor=who.actor,
            action="audit.read",
            subject_type="attachment",
            subject_id=str(attachment_id),
            customer_id=found.customer_id,
        )
    file = found.attachment
    data = await request.app[BLOBS].get(file.sha256)  # NotFound once erased
    inline = file.content_type in INLINE_TYPES
    disposition = "inline" if inline else "attachment"
    return web.Response(
        body=data,
        headers={
            "Content-Type": file.content_type if inline else "application/octet-stream",
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(file.filename, safe='')}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


def console_routes() -> list[RouteSpec]:
    serve = static_files("console")
    page = {200: "The file", 404: "No such file"}
    return [
        RouteSpec(
            "GET",
            "/console",
            to_console,
            "The agent console (redirects)",
            "public",
            tag="ui",
            responses={302: "To the pages, with a trailing slash"},
        ),
        RouteSpec("GET", "/console/", serve, "The agent console", "public", tag="ui", responses=page),
        RouteSpec(
            "GET",
            "/console/{path:.+}",
            serve,
            "The console's scripts and styles",
            "public",
            tag="ui",
            responses=page,
        ),
        RouteSpec(
            "GET",
            "/api/v1/attachments/{id}",
            download,
            "An attachment's content (a download; images inline); audited",
            "agent",
            tag="conversations",
            responses={200: "The file", 404: "No such attachment", 401: "Not signed in"},
        ),
    ]
