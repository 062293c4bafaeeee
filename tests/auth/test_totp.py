"""Two-factor authentication (TOTP): enrol, sign in with a code, required, admin reset."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import sqlalchemy as sa

from hub.keys import STORE
from hub.store.tables import events
from tests.conftest import HubClient, drop_backend, make_settings, running_hub, sign_in, sign_in_all


@pytest.fixture
async def roles(hub: HubClient) -> dict[str, dict[str, str]]:
    return await sign_in_all(hub)


async def login(hub: HubClient, email: str, password: str, **extra: str):
    resp = await hub.client.post("/api/v1/auth/login", json={"email": email, "password": password, **extra})
    hub.client.session.cookie_jar.clear()
    return resp


async def enrol(hub: HubClient, headers: dict[str, str]) -> str:
    resp = await hub.client.post("/api/v1/me/totp", headers=headers)
    assert resp.status == 200, await resp.text()
    secret = (await resp.json())["secret"]
    resp = await hub.client.post(
        "/api/v1/me/totp/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=headers
    )
    assert resp.status == 200, await resp.text()
    return secret


async def me(hub: HubClient, headers: dict[str, str]) -> dict:
    resp = await hub.client.get("/api/v1/me", headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_enrol_then_sign_in_with_a_code(hub: HubClient, roles) -> None:
    agent = roles["agent"]
    assert (await me(hub, agent))["totp_enabled"] is False
    resp = await hub.client.post("/api/v1/me/totp", headers=agent)
    assert resp.status == 200
    started = await resp.json()
    uri = urlsplit(started["uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert uri.path == "/ContactHub:agent%40test.example"
    assert parse_qs(uri.query) == {"secret": [started["secret"]], "issuer": ["ContactHub"]}
    assert (await me(hub, agent))["totp_enabled"] is False  # not until a code is confirmed

    wrong = await hub.client.post("/api/v1/me/totp/confirm", json={"code": "000000"}, headers=agent)
    assert wrong.status == 422 and (await wrong.json())["field"] == "code"
    code = pyotp.TOTP(started["secret"]).now()
    resp = await hub.client.post("/api/v1/me/totp/confirm", json={"code": code}, headers=agent)
    assert resp.status == 200
    assert (await me(hub, agent))["totp_enabled"] is True
    again = await hub.client.post("/api/v1/me/totp", headers=agent)
    assert again.status == 409  # a second enrolment would replace the live secret

    resp = await login(hub, "agent@test.example", "pw-agent")
    assert resp.status == 401
    problem = await resp.json()
    assert problem["type"].endswith("/totp-required") and "two-factor" in problem["detail"]
    resp = await login(hub, "agent@test.example", "pw-agent", totp="123456")
    assert resp.status == 401 and (await resp.json())["type"].endswith("/totp-invalid")
    resp = await login(hub, "agent@test.example", "wrong", totp=code)
    assert resp.status == 401 and (await resp.json())["type"].endswith("/unauthenticated")
    resp = await login(hub, "agent@test.example", "pw-agent", totp=pyotp.TOTP(started["secret"]).now())
    assert resp.status == 200
    assert (await resp.json())["totp_setup_required"] is False

    listed = await hub.client.get("/api/v1/agents", headers=roles["admin"])
    text = await listed.text()
    assert started["secret"] not in text and "totp_secret" not in text
    mine = next(a for a in (await listed.json())["items"] if a["email"] == "agent@test.example")
    assert (mine["totp_enabled"], mine["totp_required"]) == (True, False)


async def test_wrong_codes_count_as_failed_sign_ins(hub: HubClient, roles) -> None:
    secret = await enrol(hub, roles["agent"])
    for _ in range(5):
        assert (await login(hub, "agent@test.example", "pw-agent", totp="000000")).status == 401
    resp = await login(hub, "agent@test.example", "pw-agent", totp=pyotp.TOTP(secret).now())
    assert resp.status == 429


async def test_turning_it_off_needs_a_code(hub: HubClient, roles) -> None:
    agent = roles["agent"]
    secret = await enrol(hub, agent)
    resp = await hub.client.delete("/api/v1/me/totp", json={"code": "000000"}, headers=agent)
    assert resp.status == 422
    resp = await hub.client.delete("/api/v1/me/totp", json={"code": pyotp.TOTP(secret).now()}, headers=agent)
    assert resp.status == 204
    assert (await me(hub, agent))["totp_enabled"] is False
    assert (await login(hub, "agent@test.example", "pw-agent")).status == 200
    resp = await hub.client.delete("/api/v1/me/totp", json={"code": "000000"}, headers=agent)
    assert resp.status == 409


async def test_required_but_not_enrolled_may_only_enrol(hub: HubClient, roles) -> None:
    admin = roles["admin"]
    agent_id = (await me(hub, roles["agent"]))["id"]
    resp = await hub.client.patch(f"/api/v1/agents/{agent_id}", json={"totp_required": True}, headers=admin)
    assert resp.status == 200 and (await resp.json())["totp_required"] is True

    resp = await login(hub, "agent@test.example", "pw-agent")
    assert resp.status == 200
    assert (await resp.json())["totp_setup_required"] is True
    setup = await sign_in(hub, "agent@test.example", "pw-agent")
    state = await me(hub, setup)
    assert state["totp_required"] and state["totp_setup_required"] and not state["totp_enabled"]
    for method, path, body in (
        ("GET", "/api/v1/agents", None),
        ("PUT", "/api/v1/me/presence", {"presence": "available"}),
        ("GET", "/api/v1/customers?q=x", None),
    ):
        resp = await hub.client.request(method, path, json=body, headers=setup)
        assert resp.status == 403, (method, path)
        problem = await resp.json()
        assert problem["type"].endswith("/totp-setup-required")
        assert problem["detail"].startswith("set up two-factor authentication first")
    # the session that existed before the requirement keeps its access
    assert (await hub.client.get("/api/v1/agents", headers=roles["agent"])).status == 200

    secret = await enrol(hub, setup)  # POST /me/totp and /me/totp/confirm are allowed
    assert (await hub.client.get("/api/v1/agents", headers=setup)).status == 200  # upgraded
    assert (await me(hub, setup))["totp_setup_required"] is False
    resp = await hub.client.delete("/api/v1/me/totp", json={"code": pyotp.TOTP(secret).now()}, headers=setup)
    assert resp.status == 409 and "required" in (await resp.json())["detail"]


async def test_a_setup_session_may_sign_out(hub: HubClient, roles) -> None:
    agent_id = (await me(hub, roles["agent"]))["id"]
    await hub.client.patch(f"/api/v1/agents/{agent_id}", json={"totp_required": True}, headers=roles["admin"])
    setup = await sign_in(hub, "agent@test.example", "pw-agent")
    assert (await hub.client.post("/api/v1/auth/logout", headers=setup)).status == 204
    assert (await hub.client.get("/api/v1/me", headers=setup)).status == 401


async def test_the_global_setting_requires_it_for_everyone(backend: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, backend, **{"security.totp_required": True})
    try:
        async with running_hub(settings) as hub:
            roles = await sign_in_all(hub)
            state = await me(hub, roles["supervisor"])
            assert (state["totp_required"], state["totp_setup_required"]) == (True, True)
            resp = await hub.client.get("/api/v1/agents", headers=roles["supervisor"])
            assert resp.status == 403
            await enrol(hub, roles["supervisor"])
            assert (await hub.client.get("/api/v1/agents", headers=roles["supervisor"])).status == 200
    finally:
        await drop_backend(settings)


async def test_an_admin_resets_an_agents_two_factor(hub: HubClient, roles) -> None:
    agent = roles["agent"]
    agent_id = (await me(hub, agent))["id"]
    await enrol(hub, agent)
    path = f"/api/v1/agents/{agent_id}/totp"
    assert (await hub.client.delete(path, headers=roles["supervisor"])).status == 403
    missing = await hub.client.delete(
        "/api/v1/agents/00000000-0000-0000-0000-000000000000/totp", headers=roles["admin"]
    )
    assert missing.status == 404
    resp = await hub.client.delete(path, headers=roles["admin"])
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["totp_enabled"] is False
    assert (await hub.client.get("/api/v1/me", headers=agent)).status == 401  # their sessions ended
    assert (await login(hub, "agent@test.example", "pw-agent")).status == 200  # no code needed now
    async with hub.app[STORE].read() as conn:
        row = (await conn.execute(sa.select(events).where(events.c.action == "agent.totp_reset"))).one()
    assert row.subject_id == agent_id and row.actor.startswith("agent:")
