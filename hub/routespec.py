"""How an HTTP route is declared: method, path, handler, who may call it, and what it
takes and returns. The app registers routes only from these, and the OpenAPI document
is built from the same list, so the two cannot drift apart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# public: anyone (health, docs); token: an API bearer token; signed: the handler checks a
# provider signature itself; agent/supervisor/admin: a logged-in user with that role or higher.
Access = Literal["public", "token", "signed", "agent", "supervisor", "admin"]


TEXT: Mapping[str, Any] = {"type": "string"}
TIME: Mapping[str, Any] = {"type": "string", "format": "date-time"}


def limit(top: int) -> dict[str, Any]:
    """A ``limit`` query parameter as ``int_query`` reads it."""
    return {"type": "integer", "minimum": 1, "maximum": top}


def form_schema(*fields: str, files: tuple[str, ...] = ()) -> dict[str, Any]:
    """The schema of a form body (urlencoded or multipart): text ``fields``, file parts
    ``files``. None is required: the handler says which one is missing (422)."""
    properties: dict[str, Any] = {name: {"type": "string"} for name in fields}
    properties.update({name: {"type": "string", "format": "binary"} for name in files})
    return {"type": "object", "properties": properties}


@dataclass(frozen=True, slots=True)
class RouteSpec:
    method: str
    path: str
    handler: Handler
    summary: str
    access: Access
    tag: str = "system"
    request_schema: Mapping[str, Any] | None = None
    request_media: str = "application/json"
    responses: Mapping[int, str] = field(default_factory=lambda: {200: "OK"})
    response_schema: Mapping[str, Any] | None = None
    response_text: tuple[str, ...] = ()
    """Other media types the success answer may come as (e.g. ``text/csv``), as text."""
    pages: bool = False
    """A page for people (``response_text`` is ``text/html``): its answers, errors too, are pages."""
    query: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """The query parameters the handler reads: name to JSON schema (all optional)."""
    totp_setup: bool = False
    """A session that must set up two-factor authentication first may call it (enrolment)."""
    scope: str = "ingest"
    """For ``token`` access: the scope the token must carry (hub/tokens.py)."""
