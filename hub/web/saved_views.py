"""Saved views: a search (words and filters) saved by name, private or shared with one
of the owner's teams; the console's inbox sidebar lists them with a live count
(``GET /api/v1/search/count``).

Who may do what: an agent sees their own views and their teams' shared ones (any other
id is 404, as if there were none). The owner edits and deletes their view, and alone
decides whom it is shared with (``team``). A supervisor or an admin in the team may
also rename, re-word and delete a view shared with it (a team's views are the team's
to keep tidy); an agent who is not the owner may only use it (403).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field, field_validator

from hub.errors import Forbidden, InputError, NotFound
from hub.keys import STORE
from hub.model import Role
from hub.request_body import json_response, read_json_object
from hub.routespec import RouteSpec
from hub.store import saved_views
from hub.store.times import iso
from hub.text.search_query import MAX_QUERY, parse
from hub.validation import NULLABLE, RequestModel, validated
from hub.web.middleware import AGENT
from hub.web.search import LISTS, MAX_VALUE, MAX_VALUES

FILTERS = (*LISTS, "key_account", "from", "to")


Name = Annotated[str, Field(min_length=1, max_length=80)]
Words = Annotated[str, Field(max_length=MAX_QUERY)]
ViewFilters = dict[str, list[Annotated[str, Field(max_length=MAX_VALUE)]]]
Team = Annotated[
    str | None, NULLABLE, Field(max_length=100, description="shared with this team; null: private")
]


def _known(value: ViewFilters) -> ViewFilters:
    """The filters as ``GET /api/v1/search`` takes them, so that a saved view always runs."""
    for name, values in value.items():
        if name not in FILTERS:
            raise ValueError(f"unknown filter {name[:40]!r}; known: {', '.join(FILTERS)}")
        if len(values) > MAX_VALUES:
            raise ValueError(f"{name}: at most {MAX_VALUES} values")
        if name in ("from", "to", "key_account") and len(values) > 1:
            raise ValueError(f"{name}: one value")
        for v in values:
            if name == "key_account" and v not in ("true", "false"):
                raise ValueError("key_account: true or false")
            if name in ("from", "to") and not _is_time(v):
                raise ValueError(f"{name}: an ISO 8601 time with its offset, e.g. 2026-12-01T00:00:00+00:00")
    return value


def _is_time(raw: str) -> bool:
    try:
        return datetime.fromisoformat(raw).tzinfo is not None
    except ValueError:
        return False


def _name(raw: str) -> str:
    name = raw.strip()
    if not name:
        raise InputError("name: give some text", field="name")
    return name


def _searchable(q: str, filters: ViewFilters) -> None:
    """Refused now (422 on q), not each time the sidebar counts: a query that does not
    parse, or one with nothing to find (no word and no filter, or a -word alone)."""
    query = parse(q)
    if not query and (query.excluded or not any(filters.values())):
        raise InputError("q: give a word to find or a filter (a -word alone finds nothing)", field="q")


class ViewIn(RequestModel):
    name: Name
    q: Words = ""
    filters: ViewFilters = Field(default_factory=dict)
    team: Team = None

    _filters = field_validator("filters")(_known)


class ViewPatch(RequestModel):
    """The fields to change; those left out stay. ``team: null`` makes the view private."""

    name: Name | None = None
    q: Words | None = None
    filters: ViewFilters | None = None
    team: Team = None

    @field_validator("filters")
    @classmethod
    def _filters(cls, value: ViewFilters | None) -> ViewFilters | None:
        return None if value is None else _known(value)


def _public(view: saved_views.SavedView) -> dict[str, Any]:
    return {
        "id": view.id,
        "name": view.name,
        "q": view.q,
        "filters": view.filters,
        "team": view.team,
        "owner_id": view.owner_id,
        "created_at": iso(view.created_at),
    }


async def list_views(request: web.Request) -> web.Response:
    who = request[AGENT]
    async with request.app[STORE].read() as conn:
        views = await saved_views.visible_to(
            conn, who.agent_id, await saved_views.teams_of(conn, who.agent_id)
        )
    return json_response({"items": [_public(v) for v in views]})


async def create_view(request: web.Request) -> web.Response:
    who = request[AGENT]
    body = validated(ViewIn, await read_json_object(request, 16_384))
    name = _name(body.name)
    _searchable(body.q, body.filters)
    async with request.app[STORE].write() as conn:
        if body.team is not None and body.team not in await saved_views.teams_of(conn, who.agent_id):
            raise InputError("team: share only with a team you are in", field="team")
        if await saved_views.count_owned(conn, who.agent_id) >= saved_views.MAX_VIEWS:
            raise InputError(
                f"at most {saved_views.MAX_VIEWS} saved views each; delete one first", field="name"
            )
        view = await saved_views.create(
            conn,
            name=name,
            owner_id=who.agent_id,
            team=body.team,
            q=body.q,
            filters=body.filters,
            now=datetime.now(UTC),
        )
    return json_response(_public(view), status=201)


async def update_view(request: web.Request) -> web.Response:
    who = request[AGENT]
    view_id = request.match_info["id"]
    body = validated(ViewPatch, await read_json_object(request, 16_384))
    given = body.model_fields_set
    if not given:
        raise InputError("give name, q, filters or team to change", field="(body)")
    async with request.app[STORE].write() as conn:
        view = await saved_views.get_for(conn, view_id, who.agent_id)
        if view is None:  # someone else's private view reads as no view
            raise NotFound(f"no saved view with id {view_id}")
        if view.owner_id != who.agent_id:
            who.require(Role.SUPERVISOR)  # a view shared with the team: its owner's or a supervisor's
            if "team" in given and body.team != view.team:
                raise Forbidden("only its owner shares or unshares a view")
        name = _name(body.name) if body.name is not None else view.name
        q = body.q if body.q is not None else view.q
        filters = body.filters if body.filters is not None else {k: list(x) for k, x in view.filters.items()}
        _searchable(q, filters)
        team = body.team if "team" in given else view.team
        sharing = team != view.team and team is not None
        if sharing and team not in await saved_views.teams_of(conn, who.agent_id):
            raise InputError("team: share only with a team you are in", field="team")
        updated = await saved_views.update(conn, view, name=name, q=q, filters=filters, team=team)
    return json_response(_public(updated))


async def delete_view(request: web.Request) -> web.Response:
    who = request[AGENT]
    view_id = request.match_info["id"]
    async with request.app[STORE].write() as conn:
        view = await saved_views.get_for(conn, view_id, who.agent_id)
        if view is None:  # someone else's private view reads as no view
            raise NotFound(f"no saved view with id {view_id}")
        if view.owner_id != who.agent_id:
            who.require(Role.SUPERVISOR)  # a shared view is its owner's, or a supervisor's to remove
        await saved_views.delete(conn, view_id)
    return web.Response(status=204)


def saved_view_routes() -> list[RouteSpec]:
    base = "/api/v1/saved-views"
    common = {401: "Not signed in"}
    return [
        RouteSpec(
            "GET",
            base,
            list_views,
            "Your saved views and your teams' shared ones",
            "agent",
            tag="search",
            responses={200: "The views, by name", **common},
        ),
        RouteSpec(
            "POST",
            base,
            create_view,
            "Save a search by name, private or shared with one of your teams",
            "agent",
            tag="search",
            request_schema=ViewIn.model_json_schema(),
            responses={201: "Saved", 422: "A bad name, query, filter or team", **common},
        ),
        RouteSpec(
            "PATCH",
            f"{base}/{{id}}",
            update_view,
            "Change a saved view: rename it, save other words or filters over it, share it with"
            " one of your teams or make it private (team: null). Its owner; a view shared with"
            " your team also a supervisor or admin, who may not change whom it is shared with",
            "agent",
            tag="search",
            request_schema=ViewPatch.model_json_schema(),
            responses={
                200: "The view as it is now",
                403: "Shared by someone else (an agent), or sharing changed by someone not its owner",
                404: "No such view (or someone else's private one)",
                422: "A bad name, query, filter or team, or nothing to change",
                **common,
            },
        ),
        RouteSpec(
            "DELETE",
            f"{base}/{{id}}",
            delete_view,
            "Delete a saved view (a shared one: its owner or a supervisor)",
            "agent",
            tag="search",
            responses={204: "Deleted", 403: "Shared by someone else", 404: "No such view", **common},
        ),
    ]
