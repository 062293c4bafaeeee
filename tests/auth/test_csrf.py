"""CSRF protection for cookie sessions: POST, PUT, PATCH and DELETE need X-CSRF-Token."""

from __future__ import annotations

import pytest

from hub.auth.csrf import csrf_token
from tests.conftest import HubClient, sign_in_all

NEW_AGENT = {"email": "neu@example.com", "name": "Neu", "password": "a-long-password"}


@pytest.fixture
async def roles(hub: HubClient) -> dict[str, dict[str, str]]:
    return await sign_in_all(hub)


def cookie_only(headers: dict[str, str]) -> dict[str, str]:
    return {"Cookie": headers["Cookie"]}


async def test_a_state_change_without_the_header_is_refused(hub: HubClient, roles) -> None:
    resp = await hub.client.post("/api/v1/agents", json=NEW_AGENT, headers=cookie_only(roles["admin"]))
    assert resp.status == 403
    assert resp.content_type == "application/problem+json"
    problem = await resp.json()
    assert problem["type"].endswith("/csrf")
    assert "X-CSRF-Token" in problem["detail"] and "GET /api/v1/me" in problem["detail"]
    listed = await (await hub.client.get("/api/v1/agents", headers=roles["admin"])).json()
    assert "neu@example.com" not in {a["email"] for a in listed["items"]}


async def test_a_wrong_header_is_refused(hub: HubClient, roles) -> None:
    admin = roles["admin"]
    for wrong in ("0" * 64, roles["agent"]["X-CSRF-Token"], "x"):  # another session's token too
        resp = await hub.client.patch(
            "/api/v1/agents/00000000-0000-0000-0000-000000000000",
            json={"name": "x"},
            headers={**admin, "X-CSRF-Token": wrong},
        )
        assert resp.status == 403, wrong
        assert "does not match" in (await resp.json())["detail"]
    resp = await hub.client.put(
        "/api/v1/me/presence", json={"presence": "away"}, headers=cookie_only(roles["agent"])
    )
    assert resp.status == 403


async def test_the_right_header_passes_and_me_returns_it(hub: HubClient, roles) -> None:
    admin = roles["admin"]
    me = await (await hub.client.get("/api/v1/me", headers=cookie_only(admin))).json()
    assert me["csrf_token"] == admin["X-CSRF-Token"]
    session = admin["Cookie"].partition("=")[2]
    assert me["csrf_token"] == csrf_token(session) != session
    resp = await hub.client.post("/api/v1/agents", json=NEW_AGENT, headers=admin)
    assert resp.status == 201, await resp.text()
    resp = await hub.client.put("/api/v1/me/presence", json={"presence": "away"}, headers=roles["agent"])
    assert resp.status == 200


async def test_reads_need_no_header(hub: HubClient, roles) -> None:
    for path in ("/api/v1/me", "/api/v1/agents", "/api/v1/customers?q=x"):
        resp = await hub.client.get(path, headers=cookie_only(roles["supervisor"]))
        assert resp.status == 200, (path, await resp.text())


async def test_logout_needs_the_header_too(hub: HubClient, roles) -> None:
    agent = roles["agent"]
    assert (await hub.client.post("/api/v1/auth/logout", headers=cookie_only(agent))).status == 403
    assert (await hub.client.get("/api/v1/me", headers=agent)).status == 200  # still signed in
    assert (await hub.client.post("/api/v1/auth/logout", headers=agent)).status == 204


async def test_bearer_and_public_routes_are_unaffected(hub: HubClient, roles) -> None:
    body = {"external_id": "csrf-1", "from": {"kind": "email", "value": "c@example.com"}, "text": "hallo"}
    resp = await hub.post_message(body)
    assert resp.status == 202, await resp.text()
    # a cookie alongside the bearer token does not turn the route into a cookie route
    resp = await hub.client.post(
        "/api/v1/messages",
        json={**body, "external_id": "csrf-2"},
        headers={**hub.auth, "Cookie": roles["admin"]["Cookie"]},
    )
    assert resp.status == 202, await resp.text()
    resp = await hub.client.post(
        "/api/v1/auth/login", json={"email": "agent@test.example", "password": "pw-agent"}
    )
    assert resp.status == 200


async def test_the_openapi_document_names_the_header(hub: HubClient) -> None:
    doc = await (await hub.client.get("/api/v1/openapi.json")).json()
    post = doc["paths"]["/api/v1/agents"]["post"]
    assert any(p["name"] == "X-CSRF-Token" and p["in"] == "header" for p in post["parameters"])
    assert "parameters" not in doc["paths"]["/api/v1/agents"]["get"]
    bearer = doc["paths"]["/api/v1/messages"]["post"]
    assert all(p["name"] != "X-CSRF-Token" for p in bearer.get("parameters", []))
