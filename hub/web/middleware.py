"""Middlewares: request id and access log, errors as problem+json, and route access.

Errors follow ARCHITECTURE §8: the status says who is at fault; a 500 is logged with
its traceback and request id, never with the request body.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from hub.auth.csrf import HEADER as CSRF_HEADER
from hub.auth.csrf import UNSAFE_METHODS, check_csrf
from hub.auth.sessions import COOKIE, Principal
from hub.errors import (
    Forbidden,
    HubError,
    NotFound,
    PayloadRejected,
    ServiceUnavailable,
    TooManyRequests,
    TotpSetupRequired,
    Unauthenticated,
)
from hub.keys import METRICS, SESSIONS, TOKENS
from hub.model import Role
from hub.routespec import RouteSpec
from hub.tokens import TokenInfo
from hub.transient import classify

log = logging.getLogger("contacthub.http")
PROBLEM_BASE = "https://contacthub.dev/problems/"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
SPEC = web.AppKey("route_specs", dict[Any, RouteSpec])
REQUEST_ID = web.RequestKey("request_id", str)
TOKEN = web.RequestKey("token", TokenInfo)
AGENT = web.RequestKey("agent", Principal)


def problem(status: int, slug: str, title: str, detail: str, request_id: str, **extra: Any) -> web.Response:
    body = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "request_id": request_id,
        **extra,
    }
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/problem+json")


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(unmatched)"


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _REQUEST_ID.match(incoming) else os.urandom(16).hex()
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-ID"] = request_id
        return response
    except web.HTTPException as exc:
        # a redirect (HTTPFound from /console, /admin) passes ``errors`` untouched and is
        # sent by aiohttp: it is counted and logged with its own status, not as a 500
        status = exc.status
        exc.headers["X-Request-ID"] = request_id
        raise
    finally:
        route = _route_name(request)
        request.app[METRICS].count_request(route, status)
        if log.isEnabledFor(logging.INFO):  # the fields cost more than the check
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": request.method,
                    "route": route,  # the template, so tokens in paths never reach the log
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request.get(REQUEST_ID, "-")
    try:
        return await handler(request)
    except HubError as exc:
        if exc.status == 500:
            log.exception("internal error", extra={"request_id": request_id})
        extra: dict[str, Any] = {"field": exc.field} if exc.field is not None else {}
        errs = getattr(exc, "errors", None)
        if errs:
            extra["errors"] = errs
        response = problem(exc.status, exc.slug, exc.title, exc.detail, request_id, **extra)
        if isinstance(exc, Unauthenticated) and request.path.startswith("/api/v1/messages"):
            response.headers["WWW-Authenticate"] = "Bearer"
        elif isinstance(exc, ServiceUnavailable):
            log.warning("unavailable: %s (%r)", exc.detail, exc.__cause__, extra={"request_id": request_id})
            response.headers["Retry-After"] = "5"
        elif isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = {
            404: f"no such path: {request.path}",
            405: f"{request.method} is not allowed here",
            413: "the body is over the size limit",
        }.get(exc.status, exc.text or exc.reason)
        response = problem(exc.status, f"http-{exc.status}", exc.reason, detail, request_id)
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception as exc:
        outage = classify(exc)
        if outage is not None:  # the store or Redis is briefly away: an outage, not our bug
            log.warning("unavailable: %s (%r)", outage[1], exc, extra={"request_id": request_id})
            u = ServiceUnavailable
            response = problem(u.status, u.slug, u.title, f"{outage[1]}; retry later", request_id)
            response.headers["Retry-After"] = "5"
            return response
        log.exception("internal error", extra={"request_id": request_id})
        return problem(
            500,
            "internal",
            "Internal error",
            f"an internal error occurred; quote request id {request_id} when reporting it",
            request_id,
        )


@web.middleware
async def storable_params(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a NUL in the path (404: it names nothing) or in a query parameter (400 naming
    it) before any handler runs: PostgreSQL cannot hold one, and every value from a path or
    a query may end up in a statement."""
    if any("\x00" in value for value in request.match_info.values()):
        raise NotFound(f"no such path: {request.path[:200]!r}")
    for name, value in request.query.items():
        if "\x00" in name or "\x00" in value:
            field = name.replace("\x00", "")
            raise PayloadRejected(f"{field}: holds a NUL character", field=field)
    return await handler(request)


@web.middleware
async def access(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Enforce the access every route declared (RouteSpec.access) before its handler runs.

    A cookie session must be live (401), must send its CSRF token on POST, PUT, PATCH and
    DELETE (403), may only reach enrolment routes while two-factor setup is pending (403),
    and must have the role (403). Bearer tokens and public or signed routes need no CSRF
    token: a browser does not attach them on its own.
    """
    spec = request.app[SPEC].get(request.match_info.route)
    if spec is None or spec.access in ("public", "signed"):
        return await handler(request)
    if spec.access == "token":
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("send an API token as 'Authorization: Bearer <token>'")
        info = await request.app[TOKENS].verify(token.strip())
        if spec.scope not in info.scopes:
            raise Forbidden(
                f"this API token lacks the scope {spec.scope}; an admin can create one that has it"
            )
        request[TOKEN] = info
        return await handler(request)
    session = request.cookies.get(COOKIE)
    if not session:
        raise Unauthenticated("sign in first (POST /api/v1/auth/login)")
    principal = await request.app[SESSIONS].verify(session)
    if request.method in UNSAFE_METHODS:
        check_csrf(session, request.headers.get(CSRF_HEADER))
    if principal.setup_only and not spec.totp_setup:
        raise TotpSetupRequired(
            "set up two-factor authentication first: POST /api/v1/me/totp, then confirm a code "
            "with POST /api/v1/me/totp/confirm"
        )
    principal.require(Role(spec.access))
    request[AGENT] = principal
    return await handler(request)
