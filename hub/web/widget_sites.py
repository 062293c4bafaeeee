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

import sqlalchemy as sa
from aiohttp import web
from pydantic import ConfigDict, Field, field_validator

from hub.customers import audit
from hub.errors import Conflict, NotFound
from hub.keys import STORE
from hub.request_body import json_response, read_json_object
from hub.routespec import RouteSpec
from hub.store.tables import widget_sites
from hub.store.times import iso
from hub.validation import NULLABLE, RequestModel, validated
from hub.web.middleware import AGENT
from hub.widget.sites import SiteSettings, normal_origin

t = widget_sites.c
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


def _public(row: Any, *, secret: bool = False) -> dict[str, Any]:
    shown = {
        "key": row.key,
        "name": row.name,
        "allowed_origins": list(row.allowed_origins),
        "settings": row.settings,
        "active": row.active,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "snippet": f'<script src="/widget/chat.js" data-site="{row.key}" async></script>',
    }
    if secret:
        shown["secret"] = row.secret
    return shown


async def _load(conn: Any, key: str) -> Any:
    row = (await conn.execute(sa.select(widget_sites).where(t.key == key))).one_or_none()
    if row is None:
        raise NotFound(f"no widget site {key}")
    return row


async def list_sites(request: web.Request) -> web.Response:
    async with request.app[STORE].read() as conn:
        rows = (await conn.execute(sa.select(widget_sites).order_by(t.name))).all()
    return json_response({"items": [_public(r) for r in rows]})


async def get_site(request: web.Request) -> web.Response:
    async with request.app[STORE].read() as conn:
        row = await _load(conn, request.match_info["key"])
    return json_response(_public(row))


async def create_site(request: web.Request) -> web.Response:
    body = validated(SiteIn, await read_json_object(request, 256 * 1024))
    key = body.key or secrets.token_urlsafe(12)
    now = datetime.now(UTC)
    async with request.app[STORE].write() as conn:
        if await conn.scalar(sa.select(t.key).where(t.key == key)) is not None:
            raise Conflict(f"the site key {key} is taken")
        await conn.execute(
            sa.insert(widget_sites).values(
                key=key,
                name=body.name,
                secret=secrets.token_hex(32),
                allowed_origins=body.allowed_origins,
                settings=body.settings.model_dump(mode="json"),
                active=True if body.active is None else body.active,
                created_at=now,
                updated_at=now,
            )
        )
        await _audit(conn, request, "widget_site.created", key)
        row = await _load(conn, key)
    return json_response(_public(row, secret=True), status=201)


async def patch_site(request: web.Request) -> web.Response:
    body = validated(SiteFields, await read_json_object(request, 256 * 1024))
    key = request.match_info["key"]
    values = body.model_dump(exclude_unset=True, mode="json")
    async with request.app[STORE].write() as conn:
        await _load(conn, key)
        await conn.execute(
            sa.update(widget_sites).where(t.key == key).values(**values, updated_at=datetime.now(UTC))
        )
        await _audit(conn, request, "widget_site.updated", key, sorted(values))
        row = await _load(conn, key)
    return json_response(_public(row))


async def rotate_secret(request: web.Request) -> web.Response:
    key = request.match_info["key"]
    async with request.app[STORE].write() as conn:
        await _load(conn, key)
        await conn.execute(
            sa.update(widget_sites)
            .where(t.key == key)
            .values(secret=secrets.token_hex(32), updated_at=datetime.now(UTC))
        )
        await _audit(conn, request, "widget_site.secret_rotated", key)
        row = await _load(conn, key)
    return json_response(_public(row, secret=True))


async def _audit(
    conn: Any, request: web.Request, action: str, key: str, fields: list[str] | None = None
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
