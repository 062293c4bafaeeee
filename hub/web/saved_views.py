"""Saved views: a search (words and filters) saved by name, private or shared with one
of the owner's teams; the console's inbox sidebar lists them with a live count
(``GET /api/v1/search/count``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field, field_validator

from hub.errors import InputError, NotFound
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


class ViewIn(RequestModel):
    name: str = Field(min_length=1, max_length=80)
    q: str = Field("", max_length=MAX_QUERY)
    filters: dict[str, list[Annotated[str, Field(max_length=MAX_VALUE)]]] = Field(default_factory=dict)
    team: Annotated[str | None, NULLABLE] = Field(
        None, max_length=100, description="shared with this team; none: private"
    )

    @field_validator("filters")
    @classmethod
    def _known(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, values in value.items():
            if name not in FILTERS:
                raise ValueError(f"unknown filter {name[:40]!r}; known: {', '.join(FILTERS)}")
            if len(values) > MAX_VALUES:
                raise ValueError(f"{name}: at most {MAX_VALUES} values")
        return value


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
    parse(body.q)  # refused now (422 on q), not each time the sidebar counts
    async with request.app[STORE].write() as conn:
        if body.team is not None and body.team not in await saved_views.teams_of(conn, who.agent_id):
            raise InputError("team: share only with a team you are in", field="team")
        if await saved_views.count_owned(conn, who.agent_id) >= saved_views.MAX_VIEWS:
            raise InputError(
                f"at most {saved_views.MAX_VIEWS} saved views each; delete one first", field="name"
            )
        view = await saved_views.create(
            conn,
            name=body.name.strip() or body.name,
            owner_id=who.agent_id,
            team=body.team,
            q=body.q,
            filters=body.filters,
            now=datetime.now(UTC),
        )
    return json_response(_public(view), status=201)


async def delete_view(request: web.Request) -> web.Response:
    who = request[AGENT]
    view_id = request.match_info["id"]
    async with request.app[STORE].write() as conn:
        view = await saved_views.get(conn, view_id)
        teams = await saved_views.teams_of(conn, who.agent_id)
        if view is None or (view.owner_id != who.agent_id and view.team not in teams):
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
            "DELETE",
            f"{base}/{{id}}",
            delete_view,
            "Delete a saved view (a shared one: its owner or a supervisor)",
            "agent",
            tag="search",
            responses={204: "Deleted", 403: "Shared by someone else", 404: "No such view", **common},
        ),
    ]
