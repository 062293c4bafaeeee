"""Customer health routes: a customer's score with its explanation, the early-warning list
(key account managers see their accounts, supervisors and admins everyone), and the
health rules (admins save them; versioned like the tier rules)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hub.auth.visibility import scope_of
from hub.customers import audit, health_run
from hub.customers.segment_access import report_customers
from hub.errors import InputError, NotFound
from hub.keys import HEALTH, RECORDS, ROUTING, STORE
from hub.request_body import int_query, json_response
from hub.routespec import TEXT, RouteSpec, limit
from hub.store.repos import health as repo
from hub.web.customers import visible_scope
from hub.web.middleware import AGENT
from hub.web.versions import config_routes

LEVELS = ("at_risk", "watch", "good")


def _health(stored: repo.Stored) -> dict[str, Any]:
    return {
        "score": stored.score,
        "level": stored.level,
        "fall": max(stored.base_score - stored.score, 0),
        "since": stored.base_at.isoformat(),
        "computed_at": stored.computed_at.isoformat(),
        "lines": stored.lines,
    }


async def customer_health(request: web.Request) -> web.Response:
    """As last computed; computed now when it never was (a customer since the last run)."""
    customer_id = request.match_info["id"]
    async with request.app[STORE].write() as conn:
        await visible_scope(conn, request, customer_id)
        found = (await repo.stored(conn, [customer_id])).get(customer_id)
        if found is None:
            await health_run.recompute(conn, request.app[HEALTH].rules, [customer_id], datetime.now(UTC))
            found = (await repo.stored(conn, [customer_id])).get(customer_id)
        if found is None:  # the rule let the caller look, but there is no such customer
            raise NotFound(f"no customer with id {customer_id}")
    return json_response(_health(found))


async def watchlist(request: web.Request) -> web.Response:
    """Customers at risk or on watch, the most revenue at stake first (then the fastest
    falling): each with its top reasons and the days since the last contact."""
    levels = [v for v in request.query.get("level", "at_risk,watch").split(",") if v]
    if not levels or any(v not in LEVELS for v in levels):
        raise InputError(f"level: one or more of {', '.join(LEVELS)}", field="level")
    tiers = [v for v in request.query.get("tier", "").split(",") if v]
    count = int_query(request, "limit", 100, top=500)
    who = request[AGENT]
    records = request.app[RECORDS]
    now = datetime.now(UTC)
    async with request.app[STORE].write() as conn:
        scope = await scope_of(conn, who, request.app[ROUTING].rules)
        only = await report_customers(conn, records, who, scope, request.query.get("segment"))
        found = await repo.watchlist(conn, levels, customer_ids=only, tiers=tiers, limit=2000)
        await audit.record(
            conn,
            actor=who.actor,
            action="audit.read",
            subject_type="health",
            subject_id="watchlist",
            customer_id=None,
        )

    def at_stake(w: repo.Watched) -> float:
        figure = (w.revenue or {}).get("revenue_12m")
        try:
            return records.tiers.in_base("revenue_12m", figure) if figure else 0.0
        except InputError:  # a currency the tier rules cannot convert: not compared
            return 0.0

    found.sort(key=lambda w: (-at_stake(w), -w.fall, w.score, w.customer_id))
    items = [
        {
            "customer": {
                "id": w.customer_id,
                "name": w.name,
                "organisation": w.organisation,
                "tier": w.tier,
                "key_account_manager_id": w.key_account_manager_id,
            },
            "score": w.score,
            "level": w.level,
            "fall": w.fall,
            "reasons": w.lines[:3],
            "revenue_at_stake": {"amount": round(at_stake(w), 2), "currency": records.tiers.currency},
            "days_since_contact": (now - w.last_contact_at).days if w.last_contact_at else None,
        }
        for w in found[:count]
    ]
    return json_response({"items": items})


def health_routes() -> list[RouteSpec]:
    common = {401: "Not signed in", 403: "Role too low"}
    return [
        RouteSpec(
            "GET",
            "/api/v1/customers/{id}/health",
            customer_health,
            "A customer's health: score, level, the points lost since a week ago, and its explanation",
            "agent",
            tag="customers",
            responses={200: "The health", 404: "No such customer", **common},
        ),
        RouteSpec(
            "GET",
            "/api/v1/health/watchlist",
            watchlist,
            "The early-warning list: customers at risk or on watch, the most revenue at stake first"
            " (key account managers: their accounts)",
            "agent",
            tag="customers",
            query={"level": TEXT, "tier": TEXT, "segment": TEXT, "limit": limit(500)},
            responses={
                200: "Customers",
                400: "Bad limit",
                404: "No such segment",
                422: "Bad level",
                **common,
            },
        ),
        *config_routes(
            "/api/v1/health/rules",
            HEALTH,
            "health rules",
            "admin",
            "health.rules_saved",
            "health_rules",
            "; scores follow at the next full run or `contacthub health recompute`",
        ),
    ]
