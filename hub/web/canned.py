"""Canned responses for the console's reply box: shared ones (no team) and per team.

Agents list what is shared and what belongs to their teams; supervisors and admins
manage them. A body may hold placeholders such as ``{{customer.name}}`` or
``{{agent.name}}``; the console fills them in when the agent picks one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import ConfigDict, Field

from hub.customers import audit
from hub.errors import Conflict, NotFound
from hub.keys import STORE
from hub.model import Role
from hub.request_body import json_response, read_json_object
from hub.routespec import RouteSpec
from hub.store.engine import Connection
from hub.store.repos import agents as agent_repo
from hub.store.repos import canned as canned_repo
from hub.store.repos.canned import CannedResponse
from hub.store.times import iso
from hub.validation import NULLABLE, RequestModel, validated
from hub.web.middleware import AGENT


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


def _public(canned: CannedResponse) -> dict[str, Any]:
    return {
        "id": canned.id,
        "title": canned.title,
        "shortcut": canned.shortcut,
        "body": canned.body,
        "team": canned.team,
        "updated_at": iso(canned.updated_at),
    }


async def list_canned(request: web.Request) -> web.Response:
    who = request[AGENT]
    async with request.app[STORE].read() as conn:
        teams = None
        if who.role == Role.AGENT:
            agent = await agent_repo.get(conn, who.agent_id)
            teams = agent.teams if agent is not None else ()
        found = await canned_repo.list_canned(conn, teams)
    return json_response({"items": [_public(c) for c in found]})


async def _refuse_taken(
    conn: Connection, shortcut: str, team: str | None, other_than: str | None = None
) -> None:
    if await canned_repo.shortcut_taken(conn, shortcut, team, other_than):
        where = f"team {team}" if team else "the shared responses"
        raise Conflict(f"the shortcut /{shortcut} is taken in {where}")


async def _canned(conn: Connection, row_id: str) -> CannedResponse:
    canned = await canned_repo.get(conn, row_id)
    if canned is None:
        raise NotFound(f"no canned response {row_id}")
    return canned


async def create_canned(request: web.Request) -> web.Response:
    body = validated(CannedIn, await read_json_object(request, 65_536))
    row_id = str(uuid.uuid4())
    async with request.app[STORE].write() as conn:
        await _refuse_taken(conn, body.shortcut, body.team)
        await canned_repo.create(
            conn,
            row_id,
            title=body.title,
            shortcut=body.shortcut,
            body=body.body,
            team=body.team,
            created_by=request[AGENT].actor,
            now=datetime.now(UTC),
        )
        await _audit(conn, request, "canned.created", row_id)
        canned = await _canned(conn, row_id)
    return json_response(_public(canned), status=201)


async def patch_canned(request: web.Request) -> web.Response:
    body = validated(CannedFields, await read_json_object(request, 65_536))
    row_id = request.match_info["id"]
    async with request.app[STORE].write() as conn:
        before = await _canned(conn, row_id)
        values = body.model_dump(exclude_unset=True)
        await _refuse_taken(
            conn, values.get("shortcut", before.shortcut), values.get("team", before.team), row_id
        )
        await canned_repo.update(conn, row_id, values, datetime.now(UTC))
        await _audit(conn, request, "canned.updated", row_id)
        canned = await _canned(conn, row_id)
    return json_response(_public(canned))


async def delete_canned(request: web.Request) -> web.Response:
    row_id = request.match_info["id"]
    async with request.app[STORE].write() as conn:
        if not await canned_repo.delete(conn, row_id):
            raise NotFound(f"no canned response {row_id}")
        await _audit(conn, request, "canned.deleted", row_id)
    return web.Response(status=204)


async def _audit(conn: Connection, request: web.Request, action: str, row_id: str) -> None:
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
