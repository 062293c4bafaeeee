"""Agents: list, create, change (skills, capacity, teams, role, two-factor requirement),
reset an agent's two-factor, and one's own presence.

Disabling an agent, a new password, a new role or a two-factor reset ends all of that
agent's sessions and publishes ``session.ended`` so every process closes their sockets:
an open socket keeps the role it was opened with (a demoted supervisor would go on
seeing every conversation's events).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import ConfigDict, Field, field_validator

from hub.auth.sessions import RANK, SESSION_ENDED, hash_password
from hub.auth.visibility import scope_for
from hub.customers import audit
from hub.customers.key_accounts import accounts_of
from hub.dispatch.inbox import notify
from hub.errors import Conflict, Forbidden, NotFound
from hub.keys import BUS, INBOX, ROUTING, STORE
from hub.model import AddressKind, Agent, Presence, Role
from hub.request_body import json_response, read_json_object
from hub.routespec import RouteSpec
from hub.store.engine import Connection
from hub.store.repos import agents as agent_repo
from hub.store.times import iso
from hub.text.addresses import normalise_address
from hub.validation import NULLABLE, RequestModel, validated
from hub.web.middleware import AGENT

Channel = Literal["email", "sms", "whatsapp", "voice", "fax", "chat", "api"]


class AgentFields(RequestModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    role: Literal["agent", "supervisor", "admin"] | None = None
    password: str | None = Field(None, min_length=10, max_length=1000)
    languages: list[str] | None = None
    departments: list[str] | None = None
    tags: list[str] | None = None
    teams: list[str] | None = None
    capacity: dict[Channel, int] | None = None
    active: bool | None = None
    phone: Annotated[str | None, NULLABLE] = Field(
        None, max_length=320, description="where calls are put through: a phone number or sip:user@host"
    )
    totp_required: bool | None = Field(
        None, description="the agent must use two-factor authentication (enrols at the next sign-in)"
    )

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None or value.startswith("sip:"):
            return value
        return normalise_address(AddressKind.PHONE, value, default_region="DE", field="phone").value


class AgentIn(AgentFields):
    """Without a password the agent cannot sign in until they use an invitation link."""

    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)
    name: str = Field(min_length=1, max_length=200)


class PresenceIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    presence: Literal["available", "away", "offline"]


def _public(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "email": agent.email,
        "name": agent.name,
        "role": agent.role,
        "presence": agent.presence,
        "languages": agent.languages,
        "departments": agent.departments,
        "tags": agent.tags,
        "teams": agent.teams,
        "capacity": agent.capacity,
        "active": agent.active,
        "phone": agent.phone,
        "totp_enabled": agent.totp_enabled,
        "totp_required": agent.totp_required,
        "created_at": iso(agent.created_at),
    }


def _values(body: AgentFields) -> dict[str, Any]:
    """The fields the caller set, as the repository stores them (a password as its hash)."""
    skip = {"password", "email"}  # the email is the new agent's key, not a field to change
    values = {k: v for k, v in body.model_dump().items() if k in body.model_fields_set and k not in skip}
    if body.password is not None:
        values["password_hash"] = hash_password(body.password)
    return values


async def _audit(
    conn: Connection,
    request: web.Request,
    action: str,
    agent_id: str,
    data: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        conn,
        actor=request[AGENT].actor,
        action=action,
        subject_type="agent",
        subject_id=agent_id,
        customer_id=None,
        data=data,
    )


async def _agent(conn: Connection, agent_id: str) -> Agent:
    agent = await agent_repo.get(conn, agent_id)
    if agent is None:
        raise NotFound(f"no agent with id {agent_id}")
    return agent


async def list_agents(request: web.Request) -> web.Response:
    async with request.app[STORE].read() as conn:
        found = await agent_repo.all_agents(conn)
    return json_response({"items": [_public(a) for a in found]})


async def create_agent(request: web.Request) -> web.Response:
    body = validated(AgentIn, await read_json_object(request, 16_384))
    values = _values(body)
    values.setdefault("capacity", dict(request.app[ROUTING].rules.default_capacity))
    agent_id = str(uuid.uuid4())
    email = body.email.lower()
    async with request.app[STORE].write() as conn:
        if await agent_repo.email_taken(conn, email):
            raise Conflict(f"an agent with the email {body.email} exists already")
        await agent_repo.create(conn, agent_id, email, values, datetime.now(UTC))
        await _audit(conn, request, "agent.created", agent_id)
        agent = await _agent(conn, agent_id)
    await notify(request.app[INBOX], agents=[agent_id])
    return json_response(_public(agent), status=201)


async def patch_agent(request: web.Request) -> web.Response:
    body = validated(AgentFields, await read_json_object(request, 16_384))
    agent_id = request.match_info["id"]
    values = _values(body)
    async with request.app[STORE].write() as conn:
        role = await agent_repo.role_of(conn, agent_id)
        if role is None:
            raise NotFound(f"no agent with id {agent_id}")
        ends_sessions = body.active is False or body.password is not None or body.role not in (None, role)
        if values and not await agent_repo.update(conn, agent_id, values):
            raise NotFound(f"no agent with id {agent_id}")
        if ends_sessions:
            await agent_repo.end_sessions(conn, agent_id)
        await _audit(conn, request, "agent.updated", agent_id, {"fields": sorted(body.model_fields_set)})
        agent = await _agent(conn, agent_id)
    if ends_sessions:
        request.app[BUS].publish(SESSION_ENDED, {"agent_id": agent_id})
    await notify(request.app[INBOX], agents=[agent_id])
    return json_response(_public(agent))


async def reset_totp(request: web.Request) -> web.Response:
    """Turn an agent's two-factor off and forget the secret (a lost phone); their
    sessions end. They enrol again when they sign in if it is required. NotFound."""
    agent_id = request.match_info["id"]
    async with request.app[STORE].write() as conn:
        if not await agent_repo.clear_totp(conn, agent_id):
            raise NotFound(f"no agent with id {agent_id}")
        await agent_repo.end_sessions(conn, agent_id)
        await _audit(conn, request, "agent.totp_reset", agent_id)
        agent = await _agent(conn, agent_id)
    request.app[BUS].publish(SESSION_ENDED, {"agent_id": agent_id})
    return json_response(_public(agent))


async def set_presence(request: web.Request) -> web.Response:
    body = validated(PresenceIn, await read_json_object(request, 1024))
    who = request[AGENT]
    presence = Presence(body.presence)
    async with request.app[STORE].write() as conn:
        await agent_repo.set_presence(conn, who.agent_id, presence, datetime.now(UTC))
    await notify(request.app[INBOX], agents=[who.agent_id])
    request.app[BUS].publish("agent.presence", {"agent_id": who.agent_id, "presence": presence})
    return json_response({"presence": presence})


async def key_accounts(request: web.Request) -> web.Response:
    """The customers whose key account manager the agent is, with their open conversations,
    last contact and revenue: for the manager themself, supervisors and admins."""
    who = request[AGENT]
    agent_id = request.match_info["id"]
    if agent_id != who.agent_id and RANK[who.role] < RANK[Role.SUPERVISOR]:
        raise Forbidden("only the key account manager themself, supervisors and admins see these accounts")
    async with request.app[STORE].read() as conn:
        if not await agent_repo.exists(conn, agent_id):
            raise NotFound(f"no agent with id {agent_id}")
        may_see: Any = lambda row: True  # noqa: E731 - supervisors and admins see all
        if who.role == Role.AGENT:
            may_see = (await scope_for(conn, who.agent_id, request.app[ROUTING].rules)).allows
        items = await accounts_of(conn, agent_id, may_see)
    return json_response({"items": items})


def agent_routes() -> list[RouteSpec]:
    common = {401: "Not signed in", 403: "Role too low"}
    return [
        RouteSpec(
            "GET",
            "/api/v1/agents",
            list_agents,
            "Agents with skills, capacity and presence",
            "agent",
            tag="agents",
            responses={200: "Agents", **common},
        ),
        RouteSpec(
            "POST",
            "/api/v1/agents",
            create_agent,
            "Create an agent",
            "admin",
            tag="agents",
            request_schema=AgentIn.model_json_schema(),
            responses={201: "Created", 409: "Email taken", 422: "Invalid field", **common},
        ),
        RouteSpec(
            "PATCH",
            "/api/v1/agents/{id}",
            patch_agent,
            "Change an agent; disabling, a new password or a new role ends their sessions",
            "admin",
            tag="agents",
            request_schema=AgentFields.model_json_schema(),
            responses={200: "Changed", 404: "No such agent", **common},
        ),
        RouteSpec(
            "DELETE",
            "/api/v1/agents/{id}/totp",
            reset_totp,
            "Reset an agent's two-factor authentication; ends their sessions",
            "admin",
            tag="agents",
            responses={200: "Reset", 404: "No such agent", **common},
        ),
        RouteSpec(
            "PUT",
            "/api/v1/me/presence",
            set_presence,
            "Set one's own presence",
            "agent",
            tag="agents",
            request_schema=PresenceIn.model_json_schema(),
            responses={200: "Set", **common},
        ),
        RouteSpec(
            "GET",
            "/api/v1/agents/{id}/key-accounts",
            key_accounts,
            "The customers whose key account manager the agent is, with open conversations, "
            "last contact and revenue (the manager themself, supervisors, admins)",
            "agent",
            tag="agents",
            responses={
                200: "The customers",
                401: "Not signed in",
                403: "Another agent's accounts",
                404: "No such agent",
            },
        ),
    ]
