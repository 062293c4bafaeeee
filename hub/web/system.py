"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.keys import METRICS, QUEUE, ROUTES, STORE
from hub.routespec import RouteSpec
from hub.web.middleware import REQUEST_ID, problem
from hub.web.openapi import build_openapi

READY_TIMEOUT = 2.0


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    for name, ping in (("store", request.app[STORE].ping), ("queue", request.app[QUEUE].ping)):
        try:
            await asyncio.wait_for(ping(), READY_TIMEOUT)
            checks[name] = "ok"
        except Exception as exc:  # any failure means "not ready"; the reason is reported
            checks[name] = f"unreachable: {type(exc).__name__}"
    if all(v == "ok" for v in checks.values()):
        body: dict[str, object] = {"status": "ok", "checks": checks}
        warnings = await _warnings(request.app)
        if warnings:  # ready all the same: the hub works, but an operator has something to do
            body["warnings"] = warnings
        return web.json_response(body)
    failing = ", ".join(f"{k} {v}" for k, v in checks.items() if v != "ok")
    return problem(503, "unavailable", "Not ready", failing, request[REQUEST_ID], checks=checks)


async def _warnings(app: web.Application) -> list[str]:
    try:
        dead = await asyncio.wait_for(app[QUEUE].dead_count(), READY_TIMEOUT)
    except Exception:
        return []
    if not dead:
        return []
    return [f"{dead} dead letters in the ingest queue: see `contacthub dead-letters list`"]


async def metrics(request: web.Request) -> web.Response:
    m = request.app[METRICS]
    await m.refresh()
    body = generate_latest(m.registry)
    response = web.Response(body=body)
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


async def openapi(request: web.Request) -> web.Response:
    specs: list[RouteSpec] = request.app[ROUTES]
    return web.json_response(build_openapi(specs))


def system_routes() -> list[RouteSpec]:
    return [
        RouteSpec("GET", "/healthz", healthz, "Liveness: the process answers", "public"),
        RouteSpec(
            "GET",
            "/readyz",
            readyz,
            "Readiness: the store and the queue are reachable (``warnings``: dead letters waiting)",
            "public",
            responses={200: "Ready", 503: "A dependency is unreachable"},
        ),
        RouteSpec(
            "GET",
            "/metrics",
            metrics,
            "Prometheus metrics (counts and latencies; no personal data)",
            "public",
        ),
        RouteSpec("GET", "/api/v1/openapi.json", openapi, "This OpenAPI 3.1 document", "public"),
    ]
