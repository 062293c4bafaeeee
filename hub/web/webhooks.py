"""Outgoing webhooks in the admin pages: register a URL with the events it wants (its
signing secret shown once), pause, change, rotate the secret, remove, and see each
delivery attempt (hub/webhooks/delivery.py delivers them)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import ConfigDict, Field, HttpUrl

from hub.customers import audit
from hub.errors import NotFound
from hub.keys import STORE
from hub.request_body import int_query, json_response, read_json_object
from hub.routespec import RouteSpec, limit
from hub.store.repos import webhooks as repo
from hub.store.repos.webhooks import Attempt, Webhook
from hub.store.times import iso
from hub.validation import RequestModel, validated
from hub.web.middleware import AGENT
from hub.webhooks.delivery import EVENTS

Event = Literal[EVENTS]  # type: ignore[valid-type]


class WebhookFields(RequestModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200, description="what receives it")
    url: HttpUrl | None = Field(None, description="http or https; the hub POSTs each delivery here")
    events: list[Event] | None = Field(None, min_length=1, max_length=len(EVENTS))
    active: bool | None = Field(
        None, description="false: paused (nothing is skipped: it resumes where it stopped)"
    )


class WebhookIn(WebhookFields):
    name: str = Field(min_length=1, max_length=200, description="what receives it")
    url: HttpUrl = Field(description="http or https; the hub POSTs each delivery here")
    events: list[Event] = Field(min_length=1, max_length=len(EVENTS))


def _public(hook: Webhook, last: Attempt | None = None) -> dict[str, Any]:
    return {
        "id": hook.id,
        "name": hook.name,
        "url": hook.url,
        "events": list(hook.events),
        "active": hook.active,
        "failures": hook.failures,
        "next_attempt_at": iso(hook.next_attempt_at) if hook.failures else None,
        "created_at": iso(hook.created_at),
        "last_attempt": _attempt(last) if last else None,
    }


def _attempt(a: Attempt) -> dict[str, Any]:
    return {"at": iso(a.at), "items": a.items, "status": a.status, "error": a.error, "ms": a.ms}


async def list_webhooks(request: web.Request) -> web.Response:
    async with request.app[STORE].read() as conn:
        hooks = await repo.all_webhooks(conn)
        items = [_public(h, next(iter(await repo.attempts(conn, h.id, 1)), None)) for h in hooks]
    return json_response({"items": items, "events": list(EVENTS)})


async def create_webhook(request: web.Request) -> web.Response:
    body = validated(WebhookIn, await read_json_object(request, 16_384))
    secret = secrets.token_urlsafe(32)
    async with request.app[STORE].write() as conn:
        hook_id = await repo.create(
            conn,
            name=body.name,
            url=str(body.url),
            wanted=list(dict.fromkeys(body.events)),
            secret=secret,
            now=datetime.now(UTC),
        )
        await _audit(request, conn, "webhook.created", hook_id)
        hook = await _get(conn, hook_id)
    return json_response({**_public(hook), "secret": secret}, status=201)


async def change_webhook(request: web.Request) -> web.Response:
    body = validated(WebhookFields, await read_json_object(request, 16_384))
    values = body.model_dump(exclude_unset=True)
    if "url" in values:
        values["url"] = str(body.url)
    if "events" in values:
        values["events"] = list(dict.fromkeys(values["events"]))
    async with request.app[STORE].write() as conn:
        await _get(conn, request.match_info["id"])
        await repo.change(conn, request.match_info["id"], values, datetime.now(UTC))
        await _audit(request, conn, "webhook.changed", request.match_info["id"])
        hook = await _get(conn, request.match_info["id"])
    return json_response(_public(hook))


async def rotate_secret(request: web.Request) -> web.Response:
    secret = secrets.token_urlsafe(32)
    async with request.app[STORE].write() as conn:
        await _get(conn, request.match_info["id"])
        await repo.change(conn, request.match_info["id"], {"secret": secret}, datetime.now(UTC))
        await _audit(request, conn, "webhook.secret_rotated", request.match_info["id"])
    return json_response({"secret": secret})


async def delete_webhook(request: web.Request) -> web.Response:
    async with request.app[STORE].write() as conn:
        if not await repo.delete(conn, request.match_info["id"]):
            raise NotFound(f"no webhook with id {request.match_info['id']}")
        await _audit(request, conn, "webhook.deleted", request.match_info["id"])
    return web.Response(status=204)


async def list_attempts(request: web.Request) -> web.Response:
    count = int_query(request, "limit", 50, top=500)
    async with request.app[STORE].read() as conn:
        await _get(conn, request.match_info["id"])
        found = await repo.attempts(conn, request.match_info["id"], count)
    return json_response({"items": [_attempt(a) for a in found]})


async def _get(conn: Any, hook_id: str) -> Webhook:
    hook = await repo.get(conn, hook_id)
    if hook is None:
        raise NotFound(f"no webhook with id {hook_id}")
    return hook


async def _audit(request: web.Request, conn: Any, action: str, hook_id: str) -> None:
    await audit.record(
        conn,
        actor=request[AGENT].actor,
        action=action,
        subject_type="webhook",
        subject_id=hook_id,
        customer_id=None,
    )


def webhook_routes() -> list[RouteSpec]:
    base, one = "/api/v1/webhooks", "/api/v1/webhooks/{id}"
    common = {401: "Not signed in", 403: "Role too low"}
    missing = {404: "No such webhook"}
    return [
        RouteSpec(
            "GET",
            base,
            list_webhooks,
            "Every webhook with its last attempt, and the events there are",
            "admin",
            tag="admin",
            responses={200: "Webhooks", **common},
        ),
        RouteSpec(
            "POST",
            base,
            create_webhook,
            "Register a webhook; the answer holds its signing secret, the only time it is shown",
            "admin",
            tag="admin",
            request_schema=WebhookIn.model_json_schema(),
            responses={201: "Registered, with its secret", 422: "Invalid field", **common},
        ),
        RouteSpec(
            "PATCH",
            one,
            change_webhook,
            "Change, pause or resume a webhook",
            "admin",
            tag="admin",
            request_schema=WebhookFields.model_json_schema(),
            responses={200: "Changed", 422: "Invalid field", **missing, **common},
        ),
        RouteSpec(
            "POST",
            f"{one}/secret",
            rotate_secret,
            "A new signing secret for a webhook (shown once; the old one stops at once)",
            "admin",
            tag="admin",
            responses={200: "The new secret", **missing, **common},
        ),
        RouteSpec(
            "DELETE",
            one,
            delete_webhook,
            "Remove a webhook and its attempts",
            "admin",
            tag="admin",
            responses={204: "Removed", **missing, **common},
        ),
        RouteSpec(
            "GET",
            f"{one}/attempts",
            list_attempts,
            "A webhook's delivery attempts, newest first",
            "admin",
            tag="admin",
            query={"limit": limit(500)},
            responses={200: "Attempts", 400: "Bad limit", **missing, **common},
        ),
    ]
