"""The app surface: health, readiness, metrics, OpenAPI, request ids, error mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hub.app import create_app
from hub.settings import Settings
from tests.conftest import HubClient, make_settings
from tests.waits import eventually


async def test_health_and_readiness(hub: HubClient) -> None:
    assert (await (await hub.client.get("/healthz")).json()) == {"status": "ok"}
    ready = await hub.client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"store": "ok", "queue": "ok"}


async def test_readiness_fails_clearly_when_the_queue_is_unreachable(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, "embedded", **{"queue.backend": "redis", "queue.url": "redis://127.0.0.1:1/0"}
    )
    async with TestClient(TestServer(create_app(settings, migrate=True))) as client:
        resp = await client.get("/readyz")
        assert resp.status == 503
        doc = await resp.json()
        assert doc["checks"]["store"] == "ok"
        assert doc["checks"]["queue"].startswith("unreachable")
        assert "queue" in doc["detail"]
        assert (await client.get("/healthz")).status == 200


async def test_metrics_report_ingest_and_queue(hub: HubClient) -> None:
    body = {"external_id": "m1", "from": {"kind": "email", "value": "a@example.com"}, "text": "x"}
    assert (await hub.post_message(body)).status == 202
    stored = 'contacthub_ingest_stored_total{channel="api"} 1.0'

    async def counted() -> str | None:
        # the worker counts a message once its transaction has committed: the row can be
        # seen a moment before the counter moves
        text = await (await hub.client.get("/metrics")).text()
        return text if stored in text else None

    text = await eventually(counted, what="the stored message counted")
    assert 'contacthub_ingest_accepted_total{channel="api"} 1.0' in text
    assert 'contacthub_ingest_stored_total{channel="api"} 1.0' in text
    assert 'contacthub_queue_depth{queue="ingest"}' in text
    assert 'contacthub_stage_seconds_count{stage="accepted_to_stored"} 1.0' in text
    assert 'contacthub_stage_seconds_count{stage="append"} 1.0' in text
    # the client library's standard ones: CPU, memory, and collections by generation
    assert "process_cpu_seconds_total " in text
    assert 'python_gc_collections_total{generation="2"}' in text
    assert "python_info{" in text


def _served_routes(app: web.Application) -> set[tuple[str, str]]:
    routes = set()
    for route in app.router.routes():
        if route.method in ("HEAD", "*"):
            continue
        resource = route.resource
        assert resource is not None
        routes.add((route.method.lower(), resource.canonical))
    return routes


async def test_openapi_lists_every_route(hub: HubClient) -> None:
    resp = await hub.client.get("/api/v1/openapi.json")
    doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    served = _served_routes(hub.app)
    assert served - documented == set(), "routes missing from the OpenAPI document"
    assert documented - served == set(), "documented routes that are not served"
    post = doc["paths"]["/api/v1/messages"]["post"]
    assert post["security"] == [{"bearerToken": []}]
    assert "external_id" in post["requestBody"]["content"]["application/json"]["schema"]["required"]


async def test_the_openapi_check_catches_an_undocumented_route(settings: Settings) -> None:
    async def undocumented(request: web.Request) -> web.Response:
        return web.json_response({})

    app = create_app(settings, migrate=True)
    app.router.add_get("/api/v1/secret", undocumented)
    async with TestClient(TestServer(app)) as client:
        doc = await (await client.get("/api/v1/openapi.json")).json()
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert ("get", "/api/v1/secret") in _served_routes(app) - documented


async def test_request_id_is_echoed_or_made(hub: HubClient) -> None:
    resp = await hub.client.get("/healthz", headers={"X-Request-ID": "abc-123-def"})
    assert resp.headers["X-Request-ID"] == "abc-123-def"
    resp = await hub.client.get("/healthz", headers={"X-Request-ID": "bad id\twith tabs"})
    assert resp.headers["X-Request-ID"] != "bad id\twith tabs"
    assert len(resp.headers["X-Request-ID"]) == 32


async def test_unknown_path_and_method_are_problems(hub: HubClient) -> None:
    resp = await hub.client.get("/nowhere")
    assert resp.status == 404 and resp.content_type == "application/problem+json"
    resp = await hub.client.get("/api/v1/messages")
    assert resp.status == 405 and resp.content_type == "application/problem+json"
    assert "POST" in resp.headers["Allow"]


@pytest.mark.hub_errors_expected("internal error")
async def test_our_bug_is_a_500_with_the_request_id_and_no_body(settings: Settings, caplog) -> None:
    async def broken(request: web.Request) -> web.Response:
        await request.read()
        raise RuntimeError("boom")

    app = create_app(settings, migrate=True)
    app.router.add_post("/broken", broken)
    async with TestClient(TestServer(app)) as client:
        resp = await client.post(
            "/broken", data=b"secret customer text", headers={"X-Request-ID": "req-500-check"}
        )
        doc = await resp.json()
    assert resp.status == 500
    assert doc["request_id"] == "req-500-check" and "req-500-check" in doc["detail"]
    assert "boom" not in doc["detail"]
    logged = [r for r in caplog.records if r.getMessage() == "internal error"]
    assert logged and logged[0].request_id == "req-500-check"
    assert "secret customer text" not in caplog.text


@pytest.mark.unmigrated
async def test_an_unmigrated_database_is_named_at_start(settings: Settings) -> None:
    import pytest

    from hub.errors import ConfigError

    if settings.database.url.startswith("sqlite"):
        pytest.skip("SQLite migrates on start")
    server = TestServer(create_app(settings))
    try:
        with pytest.raises(ConfigError, match="contacthub migrate"):
            await server.start_server()
    finally:
        await server.close()
