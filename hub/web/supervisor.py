"""The supervisor's live picture: queues, agents with their load, SLA breaches, and the
last hours' volume and first-response times (the console draws them)."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from hub.errors import InputError
from hub.keys import ROUTING, STORE
from hub.request_body import int_query, json_response
from hub.routespec import TEXT, RouteSpec, limit
from hub.store.repos import agents as agent_repo
from hub.store.repos import stats
from hub.store.times import iso, utc


async def queues(request: web.Request) -> web.Response:
    """Waiting and offered conversations per queue and tier, with the oldest wait."""
    now = datetime.now(UTC)
    async with request.app[STORE].read() as conn:
        found = await stats.waiting(conn)

    def empty(name: str) -> dict[str, Any]:
        return {"queue": name, "waiting": 0, "offered": 0, "breached": 0, "oldest_wait_s": None, "tiers": {}}

    result = {q: empty(q) for q in request.app[ROUTING].rules.queues}
    for r in found:
        name = r.queue or "(not routed yet)"
        entry = result.setdefault(name, empty(name))
        wait_s = round((now - r.oldest).total_seconds(), 1)
        entry["tiers"][r.tier] = {"waiting": r.waiting, "offered": r.offered, "oldest_wait_s": wait_s}
        entry["waiting"] += r.waiting
        entry["offered"] += r.offered
        entry["breached"] += r.breached
        entry["oldest_wait_s"] = max(entry["oldest_wait_s"] or 0.0, wait_s)
    return json_response({"items": list(result.values())})


async def breaches(request: web.Request) -> web.Response:
    """Recorded SLA breaches, newest first (``since``: an ISO time)."""
    limit = int_query(request, "limit", 100, 1000)
    since = None
    if raw := request.query.get("since"):
        try:
            since = datetime.fromisoformat(raw)
        except ValueError as exc:
            raise InputError("since: an ISO 8601 time", field="since") from exc
    async with request.app[STORE].read() as conn:
        found = await stats.breaches(conn, since, limit)
    return json_response(
        {
            "items": [
                {
                    "conversation_id": b.conversation_id,
                    "at": iso(b.at),
                    "customer_id": b.customer_id,
                    **b.data,
                }
                for b in found
            ]
        }
    )


async def agent_load(request: web.Request) -> web.Response:
    """Every active agent with presence, capacity and what they hold per channel."""
    async with request.app[STORE].read() as conn:
        people = await agent_repo.all_agents(conn, active_only=True)
        load = await stats.held(conn)
    default = request.app[ROUTING].rules.default_capacity
    return json_response(
        {
            "items": [
                {
                    "id": a.id,
                    "name": a.name,
                    "role": a.role,
                    "presence": a.presence,
                    "teams": a.teams,
                    "capacity": {**default, **a.capacity},
                    "load": load.get(a.id, {}),
                }
                for a in people
            ]
        }
    )


def _hour(at: datetime) -> datetime:
    return utc(at).replace(minute=0, second=0, microsecond=0)


async def hourly(request: web.Request) -> web.Response:
    """Per hour of the last ``hours`` (1–48): inbound messages by channel, and the median
    first response time in seconds by tier of the conversations opened that hour."""
    hours = int_query(request, "hours", 8, 48)
    if hours < 1:
        raise InputError("hours: from 1 to 48", field="hours")
    now = datetime.now(UTC)
    start = _hour(now) - timedelta(hours=hours - 1)
    async with request.app[STORE].read() as conn:
        inbound = await stats.inbound_since(conn, start)
        answered = await stats.first_responses_since(conn, start)
    volume: dict[datetime, dict[str, int]] = {}
    for m in inbound:
        bucket = volume.setdefault(_hour(m.received_at), {})
        channel = m.channel.value  # a plain str: orjson takes no str subclass as a key
        bucket[channel] = bucket.get(channel, 0) + 1
    waits: dict[datetime, dict[str, list[float]]] = {}
    for r in answered:
        seconds = (r.first_response_at - r.opened_at).total_seconds()
        waits.setdefault(_hour(r.opened_at), {}).setdefault(r.tier, []).append(max(seconds, 0.0))
    buckets = [start + timedelta(hours=n) for n in range(hours)]
    return json_response(
        {
            "hours": [
                {
                    "start": iso(b),
                    "volume": volume.get(b, {}),
                    "first_response_s": {
                        tier: round(statistics.median(values), 1) for tier, values in waits.get(b, {}).items()
                    },
                }
                for b in buckets
            ]
        }
    )


def supervisor_routes() -> list[RouteSpec]:
    common = {401: "Not signed in", 403: "Role too low"}
    return [
        RouteSpec(
            "GET",
            "/api/v1/queues",
            queues,
            "Waiting conversations per queue and tier, with the oldest wait",
            "agent",
            tag="routing",
            responses={200: "Queues", **common},
        ),
        RouteSpec(
            "GET",
            "/api/v1/sla/breaches",
            breaches,
            "Recorded SLA breaches, newest first",
            "supervisor",
            tag="routing",
            query={"since": TEXT, "limit": limit(1000)},
            responses={200: "Breaches", 422: "Bad filter", **common},
        ),
        RouteSpec(
            "GET",
            "/api/v1/supervisor/agents",
            agent_load,
            "Active agents with presence, capacity and load per channel",
            "supervisor",
            tag="routing",
            responses={200: "Agents", **common},
        ),
        RouteSpec(
            "GET",
            "/api/v1/stats/hourly",
            hourly,
            "The last hours: inbound volume by channel, median first response by tier",
            "supervisor",
            tag="routing",
            query={"hours": limit(48)},
            responses={200: "Hours, oldest first", 422: "Bad hours", **common},
        ),
    ]
