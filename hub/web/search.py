"""``GET /api/v1/search``: one search over everything said (hub/search/service.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from hub.errors import InputError
from hub.keys import ROUTING, STORE
from hub.request_body import int_query, json_response
from hub.routespec import TEXT, TIME, RouteSpec, limit
from hub.search import service
from hub.store.search_index import Filters
from hub.web.middleware import AGENT

LISTS = ("channel", "tier", "queue", "department", "tag", "status", "assignee", "customer_id")
MAX_VALUES = 20
MAX_VALUE = 200

_LIST: dict[str, Any] = {"type": "array", "items": {"type": "string"}, "maxItems": MAX_VALUES}


def filters_of(request: web.Request) -> Filters:
    """The filters in the query string: each list filter may repeat (values are
    alternatives); ``assignee=me`` is the caller; ``from``/``to`` are ISO 8601 times."""
    lists: dict[str, tuple[str, ...]] = {}
    for name in LISTS:
        values = tuple(dict.fromkeys(v for v in request.query.getall(name, []) if v))
        if len(values) > MAX_VALUES or any(len(v) > MAX_VALUE for v in values):
            raise InputError(f"{name}: at most {MAX_VALUES} values of {MAX_VALUE} characters", field=name)
        lists[name] = values
    me = request[AGENT].agent_id
    key_account = request.query.get("key_account")
    if key_account not in (None, "true", "false"):
        raise InputError("key_account: true or false", field="key_account")
    return Filters(
        channel=lists["channel"],
        tier=lists["tier"],
        queue=lists["queue"],
        department=lists["department"],
        tag=lists["tag"],
        status=lists["status"],
        assignee=tuple(me if a == "me" else a for a in lists["assignee"]),
        customer=lists["customer_id"],
        key_account=None if key_account is None else key_account == "true",
        since=_time(request, "from"),
        until=_time(request, "to"),
    )


def _time(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise InputError(
            f"{name}: an ISO 8601 time with its offset, e.g. 2026-12-01T00:00:00+00:00", field=name
        )
    return value


async def search(request: web.Request) -> web.Response:
    filters = filters_of(request)
    with_facets = request.query.get("facets", "true") != "false"
    who, q = request[AGENT], request.query.get("q")
    async with request.app[STORE].read() as conn:
        found = await service.search(
            conn,
            who,
            request.app[ROUTING].rules,
            q,
            filters,
            cursor=request.query.get("cursor"),
            limit=int_query(request, "limit", 20, 100),
            with_facets=with_facets,
        )
    if found.customer_ids:
        async with request.app[STORE].write() as conn:
            await service.audit_search(conn, who, q, filters, found)
    return json_response(
        {
            "items": found.items,
            "facets": found.facets,
            "facets_capped": found.facets_capped,
            "next": found.next,
        }
    )


async def count(request: web.Request) -> web.Response:
    filters = filters_of(request)
    async with request.app[STORE].read() as conn:
        total = await service.count(
            conn, request[AGENT], request.app[ROUTING].rules, request.query.get("q"), filters
        )
    return json_response({"count": total, "capped": total >= service.COUNT_CAP})


QUERY: dict[str, Any] = {
    "q": {**TEXT, "maxLength": 500},
    **{name: _LIST for name in LISTS},
    "key_account": {"type": "string", "enum": ["true", "false"]},
    "from": TIME,
    "to": TIME,
}


def search_routes() -> list[RouteSpec]:
    common = {401: "Not signed in", 422: "A bad query, filter or cursor: the detail names it"}
    return [
        RouteSpec(
            "GET",
            "/api/v1/search",
            search,
            "Search messages, notes, conversations (by tag, department, subject) and customers"
            ' (words, "phrases", -exclude, prefix*), narrowed by filters, with facet counts; only'
            " what the caller may open; audited as a read",
            "agent",
            tag="search",
            query={
                **QUERY,
                "cursor": TEXT,
                "limit": limit(100),
                "facets": {"type": "string", "enum": ["true", "false"]},
            },
            responses={200: "A page of hits, best first, the facets and the next cursor", **common},
        ),
        RouteSpec(
            "GET",
            "/api/v1/search/count",
            count,
            "How many hits a search has (up to 1000): a saved view's live count",
            "agent",
            tag="search",
            query=QUERY,
            responses={200: "The count", **common},
        ),
    ]
