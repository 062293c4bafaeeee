"""One's own two-factor authentication (TOTP): enrol, confirm, turn off.

Enrolment stores a new secret that only takes effect once a code from it is confirmed;
confirming also gives a ``totp_setup`` session (two-factor required, not yet set up)
full access. The secret is shown once, at enrolment, and never again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.auth.sessions import COOKIE
from hub.auth.totp import new_secret, provisioning_uri, verify_code
from hub.customers import audit
from hub.errors import Conflict, InputError
from hub.keys import SESSIONS, STORE
from hub.request_body import json_response, read_json_object
from hub.routespec import RouteSpec
from hub.store.repos import agents as agent_repo
from hub.validation import RequestModel, validated
from hub.web.auth import request_address
from hub.web.middleware import AGENT

WRONG_CODE = "the code does not match; enter the current 6-digit code from your authenticator app"


class CodeIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=6, max_length=16, description="the current code from the authenticator app")


class EnrolmentOut(BaseModel):
    secret: str
    uri: str = Field(description="otpauth:// URI for the authenticator app, e.g. as a QR code")


async def start_enrolment(request: web.Request) -> web.Response:
    """A new secret for the caller; Conflict if two-factor is already on."""
    who = request[AGENT]
    secret = new_secret()
    async with request.app[STORE].write() as conn:
        enrolled = await agent_repo.enrol_totp(conn, who.agent_id, secret)
    if not enrolled:
        raise Conflict("two-factor authentication is on already; turn it off first (DELETE /api/v1/me/totp)")
    return json_response({"secret": secret, "uri": provisioning_uri(secret, who.email)})


async def confirm_enrolment(request: web.Request) -> web.Response:
    """Turn two-factor on if the code matches the enrolled secret; the session gets full access."""
    body = validated(CodeIn, await read_json_object(request, 1024))
    who = request[AGENT]
    async with request.app[STORE].write() as conn:
        state = await agent_repo.totp_state(conn, who.agent_id)
        if state is not None and state.enabled:
            raise Conflict("two-factor authentication is on already")
        if state is None or not state.secret:
            raise Conflict("start the enrolment first (POST /api/v1/me/totp)")
        if not verify_code(state.secret, body.code):
            raise InputError(WRONG_CODE, field="code")
        await agent_repo.enable_totp(conn, who.agent_id)
        await audit.record(
            conn,
            actor=who.actor,
            action="agent.totp_enabled",
            subject_type="agent",
            subject_id=who.agent_id,
            customer_id=None,
        )
    await request.app[SESSIONS].upgrade(request.cookies[COOKIE])
    return json_response({"totp_enabled": True})


async def turn_off(request: web.Request) -> web.Response:
    """Turn one's own two-factor off with a valid code; Conflict if it is off or required.

    A wrong code counts against the sign-in throttle, so a stolen session cannot guess
    its way to turning two-factor off.
    """
    body = validated(CodeIn, await read_json_object(request, 1024))
    who = request[AGENT]
    if not who.totp_enabled:
        raise Conflict("two-factor authentication is not on")
    if who.totp_required:
        raise Conflict("two-factor authentication is required for your account; an admin can reset it")
    throttle = request.app[SESSIONS].throttle
    ip = request_address(request)
    now = datetime.now(UTC)
    await throttle.attempt(who.email, ip, now)  # counted before the code is checked
    async with request.app[STORE].write() as conn:
        state = await agent_repo.totp_state(conn, who.agent_id)
        right = state is not None and verify_code(state.secret, body.code)
        if right:
            await agent_repo.clear_totp(conn, who.agent_id)
            await audit.record(
                conn,
                actor=who.actor,
                action="agent.totp_disabled",
                subject_type="agent",
                subject_id=who.agent_id,
                customer_id=None,
            )
    if not right:
        raise InputError(WRONG_CODE, field="code")  # the attempt stays counted
    await throttle.give_back(who.email, ip)
    return web.Response(status=204)


def totp_routes() -> list[RouteSpec]:
    common = {401: "Not signed in", 403: "No CSRF token"}
    return [
        RouteSpec(
            "POST",
            "/api/v1/me/totp",
            start_enrolment,
            "Start two-factor enrolment: a new secret and its otpauth:// URI (issuer ContactHub)",
            "agent",
            tag="auth",
            responses={200: "The secret, shown once", 409: "Two-factor is on already", **common},
            response_schema=EnrolmentOut.model_json_schema(),
            totp_setup=True,
        ),
        RouteSpec(
            "POST",
            "/api/v1/me/totp/confirm",
            confirm_enrolment,
            "Turn two-factor on with a code from the new secret",
            "agent",
            tag="auth",
            request_schema=CodeIn.model_json_schema(),
            responses={
                200: "Two-factor is on",
                409: "Not enrolled, or on already",
                422: "Wrong code",
                **common,
            },
            totp_setup=True,
        ),
        RouteSpec(
            "DELETE",
            "/api/v1/me/totp",
            turn_off,
            "Turn one's own two-factor off (needs a current code)",
            "agent",
            tag="auth",
            request_schema=CodeIn.model_json_schema(),
            responses={
                204: "Two-factor is off",
                409: "Off already, or required for this account",
                422: "Wrong code",
                429: "Too many wrong codes",
                **common,
            },
        ),
    ]
