"""Invitation links: an admin makes a one-time link by which a new agent (or one who
forgot their password) sets a password of their own. Only a SHA-256 of the token is
stored; a new link voids the agent's older ones, and using one ends their sessions.
``issue`` also serves `contacthub admin-invite` (the first admin of an installation)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from aiohttp import web
from pydantic import ConfigDict, Field

from hub.auth.sessions import SESSION_ENDED, hash_password
from hub.customers import audit
from hub.errors import NotFound
from hub.keys import BUS, SETTINGS, STORE
from hub.request_body import json_response, public_base, read_json_object
from hub.routespec import RouteSpec
from hub.store.engine import Connection
from hub.store.repos import agents as agent_repo
from hub.store.repos import invitations as invitation_repo
from hub.store.times import iso
from hub.validation import RequestModel, validated
from hub.web.middleware import AGENT

VALID_FOR = timedelta(days=3)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(conn: Connection, agent_id: str, actor: str, now: datetime) -> str:
    """A new link's token for the agent (their older links stop working), audited."""
    token = secrets.token_urlsafe(32)
    await invitation_repo.void_open(conn, agent_id, now)
    await invitation_repo.add(conn, digest(token), agent_id, actor, now, now + VALID_FOR)
    await audit.record(
        conn, actor=actor, action="agent.invited", subject_type="agent", subject_id=agent_id, customer_id=None
    )
    return token


def link(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/invite/#{token}"


async def invite(request: web.Request) -> web.Response:
    agent_id = request.match_info["id"]
    now = datetime.now(UTC)
    async with request.app[STORE].write() as conn:
        if not await agent_repo.exists(conn, agent_id):
            raise NotFound(f"no agent with id {agent_id}")
        token = await issue(conn, agent_id, request[AGENT].actor, now)
    return json_response(
        {
            "url": link(public_base(request, request.app[SETTINGS].server.public_url), token),
            "expires_at": iso(now + VALID_FOR),
        },
        status=201,
    )


class AcceptIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=20, max_length=200)
    password: str = Field(min_length=10, max_length=1000)


async def accept(request: web.Request) -> web.Response:
    body = validated(AcceptIn, await read_json_object(request, 4096))
    now = datetime.now(UTC)
    async with request.app[STORE].write() as conn:
        row = await invitation_repo.find_open(conn, digest(body.token))
        if row is None or row.expires_at <= now:
            raise NotFound("this invitation link is unknown, used or expired; ask an admin for a new one")
        await invitation_repo.mark_used(conn, digest(body.token), now)
        await agent_repo.update(conn, row.agent_id, {"password_hash": hash_password(body.password)})
        await agent_repo.end_sessions(conn, row.agent_id)
        await audit.record(
            conn,
            actor=f"agent:{row.agent_id}",
            action="agent.password_set",
            subject_type="agent",
            subject_id=row.agent_id,
            customer_id=None,
        )
    request.app[BUS].publish(SESSION_ENDED, {"agent_id": row.agent_id})
    return json_response({"email": row.email})


def invitation_routes() -> list[RouteSpec]:
    return [
        RouteSpec(
            "POST",
            "/api/v1/agents/{id}/invitation",
            invite,
            "A one-time link (3 days) by which the agent sets their password; older links stop working",
            "admin",
            tag="agents",
            responses={
                201: "The link, shown once",
                401: "Not signed in",
                403: "Role too low",
                404: "No such agent",
            },
        ),
        RouteSpec(
            "POST",
            "/api/v1/auth/invitation",
            accept,
            "Set one's password with an invitation link's token",
            "public",
            tag="auth",
            request_schema=AcceptIn.model_json_schema(),
            responses={
                200: "The password is set: sign in",
                404: "Unknown, used or expired",
                422: "Too short",
            },
        ),
    ]
