"""Canned responses for the console's reply box: shared ones (no team) and per team.

Agents list what is shared and what belongs to their teams; supervisors and admins
manage them. A body may hold placeholders such as ``{{customer.name}}`` or
``{{agent.name}}``; the console fills them in when the agent picks one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from aiohttp import web
from pydantic import ConfigDict, Field

from hub.customers import audit
from hub.errors import Conflict, NotFound
from hub.keys import STORE
from hub.model import Role
from hub.request_body import json_response, read_json_object
from hub.routespec import RouteSpec
from hub.store.tables import agents, canned_responses
from hub.store.times import iso
from hub.validation import NULLABLE, RequestModel, validated
from hub.web.middleware import AGENT

t = canned_responses.c


class CannedFields(RequestModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, min_length=1, max_length=200)
    shortcut: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_-]{0,59}$")
    body: str | None = Field(None, min_length=1, max_length=20_000)
    team: Annotated[str | None, NULLABLE] = Field(
        None, min_length=1, max_length=100, description="none: shared by everyone"
    )


class CannedIn(CannedFields):
    title: str = Field(min_length=1, max_length=200)
    shortcut: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,59}$", description="typed after '/'")
    body: str = Field(min_length=1, max_length=20_000)


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "shortcut": row.shortcut,
        "body": row.body,
        "team": row.team,
        "updated_at": iso(row.updated_at),
    }


async def list_canned(request: web.Request) -> web.Response:
    who = request[AGENT]
    query = sa.select(canned_responses).order_by(t.shortcut, t.team)
    async with request.app[STORE].read() as conn:
        if who.role == Role.AGENT:
            teams = await conn.scalar(sa.select(agents.c.teams).where(agents.c.id == who.agent_id)) or []
            query = query.where(sa.or_(t.team.is_(None), t.team.in_(list(teams))))
        rows = (await conn.execute(query)).all()
    return json_response({"items": [_public(r) for r in rows]})


async def _taken(conn: Any, shortcut: str, team: str | None, other_than: str | None = None) -> None:
    query = sa.select(t.id).where(
        t.shortcut == shortcut, t.team.is_(None) if team is None else t.team == team
    )
    if other_than is not None:
        query = query.where(t.id != other_than)
    if await conn.scalar(query) is not None:
        where = f"team {team}" if team else "the shared responses"
        raise Conflict(f"the shortcut /{shortcut} is taken in {where}")


async def create_canned(request: web.Request) -> web.Response:
    body = validated(CannedIn, await read_json_object(request, 65_536))
    now = datetime.now(UTC)
    row_id = str(uuid.uuid4())
    async with request.app[STORE].write() as conn:
        await _taken(conn, body.shortcut, body.team)
        await conn.execute(
            sa.insert(canned_responses).values(
                id=row_id,
                title=body.title,
                shortcut=body.shortcut,
                body=body.body,
                team=body.team,
                created_by=request[AGENT].actor,
                created_at=now,
                updated_at=now,
            )
        )
        await _audit(conn, request, "canned.created", row_id)
        row = (await conn.execute(sa.select(canned_responses).where(t.id == row_id))).one()
    return json_response(_public(row), status=201)


async def patch_canned(request: web.Request) -> web.Response:
    body = validated(CannedFields, await read_json_object(request, 65_536))
    row_id = request.match_info["id"]
    async with request.app[STORE].write() as conn:
        row = (await conn.execute(sa.select(canned_responses).where(t.id == row_id))).one_or_none()
        if row is None:
            raise NotFound(f"no canned response {row_id}")
        values = body.model_dump(exclude_unset=True)
        await _taken(conn, values.get("shortcut", row.shortcut), values.get("team", row.team), row_id)
        await conn.execute(
            sa.update(canned_responses).where(t.id == row_id).values(**values, updated_at=datetime.now(UTC))
        )
        await _audit(conn, request, "canned.updated", row_id)
        row = (await conn.execute(sa.select(canned_responses).where(t.id == row_id))).one()
    return json_response(_public(row))


async def delete_canned(request: web.Request) -> web.Response:
    row_id = request.match_info["id"]
    async with request.app[STORE].write() as conn:
        result = await conn.execute(sa.delete(canned_responses).where(t.id == row_id))
        if not result.rowcount:
            raise NotFound(f"no canned response {row_id}")
        await _audit(conn, request, "canned.deleted", row_id)
    return web.Response(status=204)


async def _audit(conn: Any, request: web.Request, action: str, row_id: str) -> None:
    await audit.record(
        conn,
        actor=request[AGENT].actor,
        action=action,
        subject_type="canned_response",
        subject_id=row_id,
        customer_id=None,
    )


def canned_routes() -> list[RouteSpec]:
    base = "/api/v1/canned-responses"
    common = {401: "Not signed in", 403: "Role too low"}
    return [
        RouteSpec(
            "GET",
            base,
            list_canned,
            "Canned responses: shared and your teams'",
            "agent",
            tag="console",
            responses={200: "Canned responses", **common},
        ),
        RouteSpec(
            "POST",
            base,
            create_canned,
            "Add a canned response",
            "supervisor",
            tag="console",
            request_schema=CannedIn.model_json_schema(),
            responses={201: "Added", 409: "Shortcut taken", 422: "Invalid field", **common},
        ),
        RouteSpec(
            "PATCH",
            f"{base}/{{id}}",
            patch_canned,
            "Change a canned response",
            "supervisor",
            tag="console",
            request_schema=CannedFields.model_json_schema(),
            responses={200: "Changed", 404: "No such response", 409: "Shortcut taken", **common},
        ),
        RouteSpec(
            "DELETE",
            f"{base}/{{id}}",
            delete_canned,
            "Remove a canned response",
            "supervisor",
            tag="console",
            responses={204: "Removed", 404: "No such response", **common},
        ),
    ]
