"""Segments: a customer filter saved by name (the customer list's parameters), private
or shared with one of the owner's teams, with its live count; its figures over a
window, and two segments side by side (supervisors and admins).

Who may see and change a segment is as for saved views: one's own and one's teams';
a shared segment is changed or removed by its owner or a supervisor. Who is counted is
the visibility rule's: a segment counts the customers the caller may see.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field

from hub.auth.sessions import Principal
from hub.auth.visibility import scope_of
from hub.customers import listing
from hub.customers.segment_access import visible_segment
from hub.errors import InputError
from hub.keys import RECORDS, ROUTING, STORE
from hub.model import Role
from hub.reports.segment_figures import SegmentFigures, figures
from hub.request_body import json_response, read_json_object
from hub.routespec import TEXT, RouteSpec
from hub.store import saved_views
from hub.store.engine import Connection
from hub.store.repos import segments
from hub.store.times import iso
from hub.validation import NULLABLE, RequestModel, validated
from hub.web.middleware import AGENT
from hub.web.reports import only_params, report_range, report_zone

Filters = dict[str, Annotated[str, Field(min_length=1, max_length=2000)]]


class SegmentIn(RequestModel):
    name: str = Field(min_length=1, max_length=80)
    filters: Filters = Field(
        default_factory=dict, description="the customer list's filter parameters (and q), name -> text"
    )
    team: Annotated[str | None, NULLABLE] = Field(
        None, max_length=100, description="shared with this team; none: private"
    )


class SegmentChange(RequestModel):
    name: str | None = Field(None, min_length=1, max_length=80)
    filters: Filters | None = None
    team: Annotated[str | None, NULLABLE] = Field(None, max_length=100, description="null: private")


def _public(segment: segments.Segment, count: int) -> dict[str, Any]:
    return {
        "id": segment.id,
        "name": segment.name,
        "filters": dict(segment.filters),
        "team": segment.team,
        "owner_id": segment.owner_id,
        "count": count,
        "created_at": iso(segment.created_at),
        "updated_at": iso(segment.updated_at),
    }


def _figures(f: SegmentFigures) -> dict[str, Any]:
    return {
        "customers": f.customers,
        "revenue": dict(f.revenue),
        "conversations": f.conversations,
        "contacts_per_customer": f.contacts_per_customer,
        "complaints": f.complaints,
        "complaint_rate": f.complaint_rate,
        "sla_met": f.sla_met,
        "sla_missed": f.sla_missed,
        "sla_attainment": f.sla_attainment,
        "open_conversations": f.open_conversations,
        "health_mean": f.health_mean,
        "csat_mean": f.csat_mean,
        "csat_response_rate": f.csat_response_rate,
        "at_risk": f.at_risk,
        "on_watch": f.on_watch,
    }


async def _count(conn: Connection, request: web.Request, segment: segments.Segment) -> int:
    scope = await scope_of(conn, request[AGENT], request.app[ROUTING].rules)
    return await listing.segment_count(conn, request.app[RECORDS], scope, segment.filters)


async def member_ids(conn: Connection, request: web.Request, segment: segments.Segment) -> list[str]:
    """The segment's customers the caller may see."""
    scope = await scope_of(conn, request[AGENT], request.app[ROUTING].rules)
    return await listing.segment_members(conn, request.app[RECORDS], scope, segment.filters)


async def _check_team(conn: Connection, who: Principal, team: str | None) -> None:
    if team is not None and team not in await saved_views.teams_of(conn, who.agent_id):
        raise InputError("team: share only with a team you are in", field="team")


async def list_segments(request: web.Request) -> web.Response:
    who = request[AGENT]
    async with request.app[STORE].read() as conn:
        found = await segments.visible_to(conn, who.agent_id, await saved_views.teams_of(conn, who.agent_id))
        items = [_public(s, await _count(conn, request, s)) for s in found]
    return json_response({"items": items})


async def create_segment(request: web.Request) -> web.Response:
    who = request[AGENT]
    body = validated(SegmentIn, await read_json_object(request, 16_384))
    listing.check_segment_filters(body.filters)
    async with request.app[STORE].write() as conn:
        await _check_team(conn, who, body.team)
        if await segments.count_owned(conn, who.agent_id) >= segments.MAX_SEGMENTS:
            raise InputError(f"at most {segments.MAX_SEGMENTS} segments each; delete one first", field="name")
        segment = await segments.create(
            conn,
            name=body.name.strip() or body.name,
            owner_id=who.agent_id,
            team=body.team,
            filters=body.filters,
            now=datetime.now(UTC),
        )
        count = await _count(conn, request, segment)
    return json_response(_public(segment, count), status=201)


async def read_segment(request: web.Request) -> web.Response:
    async with request.app[STORE].read() as conn:
        segment = await visible_segment(conn, request[AGENT], request.match_info["id"])
        count = await _count(conn, request, segment)
    return json_response(_public(segment, count))


async def _changeable(conn: Connection, who: Principal, segment_id: str) -> segments.Segment:
    segment = await visible_segment(conn, who, segment_id)
    if segment.owner_id != who.agent_id:
        who.require(Role.SUPERVISOR)  # a shared segment is its owner's, or a supervisor's to change
    return segment


async def change_segment(request: web.Request) -> web.Response:
    who = request[AGENT]
    body = validated(SegmentChange, await read_json_object(request, 16_384))
    changes: dict[str, Any] = {k: getattr(body, k) for k in body.model_fields_set}
    if "filters" in changes:
        listing.check_segment_filters(changes["filters"])
    if "name" in changes:
        changes["name"] = changes["name"].strip() or changes["name"]
    async with request.app[STORE].write() as conn:
        segment = await _changeable(conn, who, request.match_info["id"])
        if "team" in changes:
            await _check_team(conn, who, changes["team"])
        await segments.update(conn, segment.id, changes, datetime.now(UTC))
        changed = await segments.get(conn, segment.id)
        assert changed is not None
        count = await _count(conn, request, changed)
    return json_response(_public(changed, count))


async def delete_segment(request: web.Request) -> web.Response:
    who = request[AGENT]
    async with request.app[STORE].write() as conn:
        segment = await _changeable(conn, who, request.match_info["id"])
        await segments.delete(conn, segment.id)
    return web.Response(status=204)


_WINDOW = frozenset(("from", "to", "tz"))


async def segment_figures(request: web.Request) -> web.Response:
    only_params(request, _WINDOW)
    zone = report_zone(request)
    start, end = report_range(request, zone)
    async with request.app[STORE].read() as conn:
        segment = await visible_segment(conn, request[AGENT], request.match_info["id"])
        members = await member_ids(conn, request, segment)
    found = await figures(request.app[STORE], members, start, end)
    return json_response(
        {
            "segment": _public(segment, len(members)),
            "from": start.isoformat(),
            "to": end.isoformat(),
            **_figures(found),
        }
    )


async def compare_segments(request: web.Request) -> web.Response:
    only_params(request, _WINDOW | {"a", "b"})
    zone = report_zone(request)
    start, end = report_range(request, zone)
    sides: dict[str, Any] = {}
    for side in ("a", "b"):
        segment_id = request.query.get(side)
        if not segment_id:
            raise InputError(f"{side}: the id of a segment to compare", field=side)
        async with request.app[STORE].read() as conn:
            segment = await visible_segment(conn, request[AGENT], segment_id)
            members = await member_ids(conn, request, segment)
        found = await figures(request.app[STORE], members, start, end)
        sides[side] = {"segment": _public(segment, len(members)), **_figures(found)}
    return json_response({"from": start.isoformat(), "to": end.isoformat(), **sides})


_SEGMENT_SCHEMA = {
    "type": "object",
    "required": ["id", "name", "filters", "team", "owner_id", "count"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "filters": {"type": "object", "additionalProperties": {"type": "string"}},
        "team": {"type": ["string", "null"]},
        "owner_id": {"type": "string"},
        "count": {"type": "integer"},
    },
}
_WINDOW_QUERY = {"from": TEXT, "to": TEXT, "tz": TEXT}


def segment_routes() -> list[RouteSpec]:
    base = "/api/v1/segments"
    tag = "segments"
    common = {401: "Not signed in"}
    one = {404: "No such segment", **common}
    return [
        RouteSpec(
            "GET",
            base,
            list_segments,
            "Your segments and your teams' shared ones, each with its live count",
            "agent",
            tag=tag,
            responses={200: "The segments, by name", **common},
        ),
        RouteSpec(
            "POST",
            base,
            create_segment,
            "Save a customer filter by name, private or shared with one of your teams",
            "agent",
            tag=tag,
            request_schema=SegmentIn.model_json_schema(),
            response_schema=_SEGMENT_SCHEMA,
            responses={201: "Saved, with its count", 422: "A bad name, filter or team", **common},
        ),
        # before /segments/{id}, which would take "compare" for an id
        RouteSpec(
            "GET",
            f"{base}/compare",
            compare_segments,
            "Two segments' figures side by side over a window (?a=&b=&from=&to=)",
            "supervisor",
            tag=tag,
            query={"a": TEXT, "b": TEXT, **_WINDOW_QUERY},
            responses={200: "a and b", 403: "Role too low", 422: "Bad parameter", **one},
        ),
        RouteSpec(
            "GET",
            f"{base}/{{id}}",
            read_segment,
            "A segment and its live count",
            "agent",
            tag=tag,
            response_schema=_SEGMENT_SCHEMA,
            responses={200: "The segment", **one},
        ),
        RouteSpec(
            "PATCH",
            f"{base}/{{id}}",
            change_segment,
            "Rename a segment, change its filter or share it (a shared one: its owner or a supervisor)",
            "agent",
            tag=tag,
            request_schema=SegmentChange.model_json_schema(),
            response_schema=_SEGMENT_SCHEMA,
            responses={200: "Changed", 403: "Shared by someone else", 422: "A bad field", **one},
        ),
        RouteSpec(
            "DELETE",
            f"{base}/{{id}}",
            delete_segment,
            "Delete a segment (a shared one: its owner or a supervisor)",
            "agent",
            tag=tag,
            responses={204: "Deleted", 403: "Shared by someone else", **one},
        ),
        RouteSpec(
            "GET",
            f"{base}/{{id}}/figures",
            segment_figures,
            "A segment's figures over a window: customers, revenue, contacts per customer,"
            " complaint rate, SLA attainment, open conversations",
            "supervisor",
            tag=tag,
            query=_WINDOW_QUERY,
            responses={200: "The figures", 403: "Role too low", 422: "Bad parameter", **one},
        ),
    ]
