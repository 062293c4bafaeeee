"""Admins' API for the websites that embed the chat widget: ``/api/v1/widget/sites``.

A site has a public key (in the script tag), the origins allowed to open its widget, its
settings, and a secret that signs its signed-in users (``identifier_hash``). The secret
is shown when the site is created and when it is rotated. A site is never deleted, only
disabled, so its visitors' history stays readable.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import ConfigDict, Field, field_validator

from hub.customers import audit
from hub.errors import Conflict, NotFound
from hub.keys import STORE
from hub.request_body import json_response, read_json_object
from hub.routespec import RouteSpec
from hub.store.engine import Connection
from hub.store.repos import widget_sites as site_repo
from hub.store.repos.widget_sites import WidgetSite
from hub.store.times import iso
from hub.validation import NULLABLE, RequestModel, validated
from hub.web.middleware import AGENT
from hub.widget.sites import SiteSettings, normal_origin

BASE = "/api/v1/widget/sites"


def _origins(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return sorted({v if v == "*" else normal_origin(v) for v in values})


class SiteFields(RequestModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    allowed_origins: list[str] | None = Field(
        None, max_length=100, description='e.g. ["https://shop.example"]; "*" allows any page'
    )
    settings: SiteSettings | None = None
    active: bool | None = None

    _check_origins = field_validator("allowed_origins")(_origins)


class SiteIn(SiteFields):
    key: Annotated[str | None, NULLABLE] = Field(
        None, pattern=r"^[A-Za-z0-9_-]{3,64}$", description="default: a random key"
    )
    name: str = Field(min_length=1, max_length=200)
    allowed_origins: list[str] = Field(min_length=1, max_length=100)
    settings: SiteSettings = SiteSettings()

    _check_origins = field_validator("allowed_origins")(_origins)


def _public(site: WidgetSite, *, secret: bool = False) -> dict[str, Any]:
    shown = {
        "key": site.key,
        "name": site.name,
        "allowed_origins": list(site.allowed_origins),
        "settings": site.settings,
        "active": site.active,
        "created_at": iso(site.created_at),
        "updated_at": iso(site.updated_at),
        "snippet": f'<script src="/widget/chat.js" data-site="{site.key}" async></script>',
    }
    if secret:
        shown["secret"] = site.secret
    return shown


async def _load(conn: Connection, key: str) -> WidgetSite:
    site = await site_repo.get(conn, key)
    if site is None:
        raise NotFound(f"no widget site {key}")
    return site


async def list_sites(request: web.Request) -> web.Response:
    async with request.app[STORE].read() as conn:
        found = await site_repo.list_sites(conn)
    return json_response({"items": [_public(s) for s in found]})


async def get_site(request: web.Request) -> web.Response:
    async with request.app[STORE].read() as conn:
        site = await _load(conn, request.match_info["key"])
    return json_response(_public(site))


async def create_site(request: web.Request) -> web.Response:
    body = validated(SiteIn, await read_json_object(request, 256 * 1024))
    key = body.key or secrets.token_urlsafe(12)
    async with request.app[STORE].write() as conn:
        if await site_repo.key_taken(conn, key):
            raise Conflict(f"the site key {key} is taken")
        await site_repo.create(
            conn,
            key,
            name=body.name,
            secret=secrets.token_hex(32),
            allowed_origins=body.allowed_origins,
            settings=body.settings.model_dump(mode="json"),
            active=True if body.active is None else body.active,
            now=datetime.now(UTC),
        )
        await _audit(conn, request, "widget_site.created", key)
        site = await _load(conn, key)
    return json_response(_public(site, secret=True), status=201)


async def patch_site(request: web.Request) -> web.Response:
    body = validated(SiteFields, await read_json_object(request, 256 * 1024))
    key = request.match_info["key"]
    values = body.model_dump(exclude_unset=True, mode="json")
    async with request.app[STORE].write() as conn:
        await _load(conn, key)
        await site_repo.update(conn, key, values, datetime.now(UTC))
        await _audit(conn, request, "widget_site.updated", key, sorted(values))
        site = await _load(conn, key)
    return json_response(_public(site))


async def rotate_secret(request: web.Request) -> web.Response:
    key = request.match_info["key"]
    async with request.app[STORE].write() as conn:
        await _load(conn, key)
        await site_repo.set_secret(conn, key, secrets.token_hex(32), datetime.now(UTC))
        await _audit(conn, request, "widget_site.secret_rotated", key)
        site = await _load(conn, key)
    return json_response(_public(site, secret=True))


async def _audit(
    conn: Connection, request: web.Request, action: str, key: str, fields: list[str] | None = None
) -> None:
    await audit.record(
        conn,
        actor=request[AGENT].actor,
        action=action,
        subject_type="widget_site",
        subject_id=key,
        customer_id=None,
        data={"fields": fields} if fields else None,
    )


def widget_site_routes() -> list[RouteSpec]:
    common = {401: "Not signed in", 403: "Admins only"}
    return [
        RouteSpec(
            "GET",
            BASE,
            list_sites,
            "Websites that embed the chat widget",
            "admin",
            tag="widget",
            responses={200: "Sites (without secrets)", **common},
        ),
        RouteSpec(
            "POST",
            BASE,
            create_site,
            "Add a website (answers with its secret, once)",
            "admin",
            tag="widget",
            request_schema=SiteIn.model_json_schema(),
            responses={201: "Added", 409: "Key taken", 422: "Invalid field", **common},
        ),
        RouteSpec(
            "GET",
            f"{BASE}/{{key}}",
            get_site,
            "One website",
            "admin",
            tag="widget",
            responses={200: "The site", 404: "No such site", **common},
        ),
        RouteSpec(
            "PATCH",
            f"{BASE}/{{key}}",
            patch_site,
            "Change a website's origins, settings or state",
            "admin",
            tag="widget",
            request_schema=SiteFields.model_json_schema(),
            responses={200: "Changed", 404: "No such site", 422: "Invalid field", **common},
        ),
        RouteSpec(
            "POST",
            f"{BASE}/{{key}}/secret",
            rotate_secret,
            "A new secret for signing the site's users (the old one stops working)",
            "admin",
            tag="widget",
            responses={200: "The site with its new secret", 404: "No such site", **common},
        ),
    ]
