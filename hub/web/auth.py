"""Agent session routes: log in, log out, who am I."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Annotated

from aiohttp import web
from pydantic import Field, IPvAnyNetwork

from hub.auth.csrf import csrf_token
from hub.auth.sessions import COOKIE, SESSION_ENDED, Principal, session_digest
from hub.keys import BUS, SESSIONS, SETTINGS
from hub.request_body import json_response, read_json_object
from hub.routespec import RouteSpec
from hub.validation import NULLABLE, RequestModel, validated
from hub.web.middleware import AGENT


class LoginIn(RequestModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1000)
    totp: Annotated[str | None, NULLABLE] = Field(
        None, max_length=16, description="the current code from the authenticator app, if two-factor is on"
    )


def me_body(who: Principal, session: str) -> dict[str, object]:
    """The signed-in agent as the console sees it, with the session's CSRF token."""
    return {
        "id": who.agent_id,
        "email": who.email,
        "name": who.name,
        "role": who.role,
        "csrf_token": csrf_token(session),
        "totp_enabled": who.totp_enabled,
        "totp_required": who.totp_required,
        "totp_setup_required": who.setup_only,
    }


def client_address(remote: str | None, forwarded_for: str | None, trusted: Sequence[IPvAnyNetwork]) -> str:
    """The caller's address: the peer, or behind trusted proxies the last X-Forwarded-For
    hop that is not one of them (earlier hops are the client's to forge)."""
    hops = [remote or "unknown"]
    if forwarded_for:
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()] + hops
    for hop in reversed(hops):
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return hop[:64]
        if not any(address in net for net in trusted):
            return hop
    return hops[0][:64]


def forwarded_https(
    remote: str | None, forwarded_proto: str | None, trusted: Sequence[IPvAnyNetwork]
) -> bool:
    """Whether a TLS-terminating proxy says the client used https: only the
    X-Forwarded-Proto of a peer in ``trusted`` counts (anyone else may send the header).
    With several proxies the first value is the client's own hop."""
    if not forwarded_proto or not remote:
        return False
    try:
        peer = ipaddress.ip_address(remote)
    except ValueError:
        return False
    if not any(peer in net for net in trusted):
        return False
    return forwarded_proto.split(",")[0].strip().lower() == "https"


def cookie_secure(request: web.Request) -> bool:
    """Whether the session cookie gets ``Secure``: direct TLS, an https public_url, or a
    trusted proxy's ``X-Forwarded-Proto: https``."""
    settings = request.app[SETTINGS]
    return (
        request.secure
        or (settings.server.public_url or "").startswith("https://")
        or forwarded_https(
            request.remote, request.headers.get("X-Forwarded-Proto"), settings.security.trusted_proxies
        )
    )


def request_address(request: web.Request) -> str:
    """The caller's address for the sign-in throttle (security.trusted_proxies applied)."""
    trusted = request.app[SETTINGS].security.trusted_proxies
    return client_address(request.remote, request.headers.get("X-Forwarded-For"), trusted)


async def login(request: web.Request) -> web.Response:
    body = validated(LoginIn, await read_json_object(request, 16_384))
    ip = request_address(request)
    token, who = await request.app[SESSIONS].login(body.email, body.password, totp=body.totp, ip=ip)
    response = json_response(me_body(who, token))
    response.set_cookie(COOKIE, token, httponly=True, samesite="Lax", path="/", secure=cookie_secure(request))
    return response


async def logout(request: web.Request) -> web.Response:
    token = request.cookies[COOKIE]
    await request.app[SESSIONS].logout(token)
    request.app[BUS].publish(
        SESSION_ENDED, {"agent_id": request[AGENT].agent_id, "session": session_digest(token)}
    )
    response = web.Response(status=204)
    response.del_cookie(COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    return json_response(me_body(request[AGENT], request.cookies[COOKIE]))


def auth_routes() -> list[RouteSpec]:
    return [
        RouteSpec(
            "POST",
            "/api/v1/auth/login",
            login,
            "Sign in; sets an HttpOnly session cookie and returns the csrf_token to send as "
            "X-CSRF-Token on POST, PUT, PATCH and DELETE",
            "public",
            tag="auth",
            request_schema=LoginIn.model_json_schema(),
            responses={
                200: "Signed in (totp_setup_required: the session may only enrol in two-factor)",
                401: "Wrong email or password (unauthenticated), two-factor code missing "
                "(totp-required) or wrong (totp-invalid)",
                403: "Account disabled",
                429: "Too many failed sign-ins for this email or address; see Retry-After",
            },
        ),
        RouteSpec(
            "POST",
            "/api/v1/auth/logout",
            logout,
            "Sign out",
            "agent",
            tag="auth",
            responses={204: "Signed out", 401: "Not signed in", 403: "No CSRF token"},
            totp_setup=True,
        ),
        RouteSpec(
            "GET",
            "/api/v1/me",
            me,
            "The signed-in agent, its two-factor state and the session's csrf_token",
            "agent",
            tag="auth",
            responses={200: "The agent", 401: "Not signed in"},
            totp_setup=True,
        ),
    ]
