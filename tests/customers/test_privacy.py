"""Erasure leaves no trace; retention blanks old bodies; the route inventory holds."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web

from hub.customers.privacy import apply_retention
from hub.keys import BLOBS, QUEUE, STORE
from hub.store.tables import attachments, conversations, messages, metadata
from tests.conftest import HubClient, sign_in_all
from tests.waits import eventually

ERASE_EMAIL = "erase.me@example.com"
ERASE_PHONE = "+491709876543"
ERASE_TEXT = "Meine Kontonummer ist geheim-8841"


@pytest.fixture
async def roles(hub: HubClient) -> dict[str, dict[str, str]]:
    return await sign_in_all(hub)


async def dump(hub: HubClient) -> str:
    """Every row of every table, as text: what a database dump would show."""
    parts = []
    async with hub.app[STORE].read() as conn:
        for table in metadata.sorted_tables:
            for row in await conn.execute(sa.select(table)):
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


async def test_erasure_leaves_no_trace(hub: HubClient, roles) -> None:
    for ext, kind, value in [("e1", "email", ERASE_EMAIL), ("e2", "phone", "0170 9876543")]:
        resp = await hub.post_message(
            {
                "external_id": ext,
                "from": {"kind": kind, "value": value, "name": "Erika Geheim"},
                "text": ERASE_TEXT,
            }
        )
        assert resp.status == 202
    await hub.wait_stored(2)

    async def routed() -> bool:  # the router copied the text the rules read into the route
        async with hub.app[STORE].read() as conn:
            routes = (await conn.execute(sa.select(conversations.c.route))).scalars().all()
        return len(routes) == 2 and all(r and r.get("text") == ERASE_TEXT for r in routes)

    await eventually(routed, what="both conversations routed")
    found = await (
        await hub.client.get("/api/v1/customers", params={"q": ERASE_EMAIL}, headers=roles["supervisor"])
    ).json()
    cid = found["items"][0]["id"]
    other = (
        await (
            await hub.client.get("/api/v1/customers", params={"q": ERASE_PHONE}, headers=roles["supervisor"])
        ).json()
    )["items"][0]["id"]
    merge = await hub.client.post(
        f"/api/v1/customers/{cid}/merge", headers=roles["supervisor"], json={"other_id": other}
    )
    assert merge.status == 200
    sha = await hub.app[BLOBS].put(b"%PDF attachment of the erased customer")
    async with hub.app[STORE].write() as conn:
        mid = await conn.scalar(sa.select(messages.c.id).where(messages.c.customer_id == cid).limit(1))
        await conn.execute(
            sa.insert(attachments).values(
                message_id=mid, sha256=sha, filename="vertrag.pdf", content_type="application/pdf", size=10
            )
        )
    await hub.client.get(f"/api/v1/customers/{cid}/export", headers=roles["supervisor"])
    # a payload the worker could not read, now in the dead-letter store, holds the email too
    queue = hub.app[QUEUE]
    await queue._append_batch([b'{"unreadable": "' + ERASE_EMAIL.encode() + b'"'])  # raw bytes
    await eventually(queue.dead_count, what="the payload dead-lettered")
    assert await queue.dead_count() == 1
    before = await dump(hub)
    assert ERASE_EMAIL in before and ERASE_PHONE in before and ERASE_TEXT in before
    for q in ("Kontonummer", "Geheim", ERASE_EMAIL, ERASE_PHONE):
        assert await _search(hub, roles, q), q

    unconfirmed = await hub.client.delete(f"/api/v1/customers/{cid}", headers=roles["admin"])
    assert unconfirmed.status == 422 and "confirm" in (await unconfirmed.json())["detail"]
    resp = await hub.client.delete(
        f"/api/v1/customers/{cid}", params={"confirm": cid}, headers=roles["admin"]
    )
    assert resp.status == 204

    after = await dump(hub)
    for value in (ERASE_EMAIL, ERASE_PHONE, ERASE_TEXT, "Erika Geheim", "vertrag.pdf"):
        assert value not in after, value
    for q in ("Kontonummer", "Geheim", ERASE_EMAIL, ERASE_PHONE):
        assert await _search(hub, roles, q) == [], q
    index_terms = set(await _index_terms(hub))
    for term in INDEXED:
        assert not _alone(term).search(after.lower()), f"{term} still in the store"
        assert term not in index_terms, f"{term} still in the search index"
    settings_url = str(hub.app[STORE].engine.url)
    if settings_url.startswith("sqlite"):
        raw = Path(hub.app[STORE].engine.url.database).read_bytes()
        for value in (ERASE_EMAIL, ERASE_PHONE, ERASE_TEXT):
            assert value.encode() not in raw, f"{value} still in the SQLite file"
        for term in INDEXED:
            assert not _alone(term, raw=True).search(raw), f"{term} still in the SQLite file"
    assert not await hub.app[BLOBS].exists(sha)
    assert await queue.dead_count() == 0
    # anonymised counts stay for reports
    async with hub.app[STORE].read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(messages)) == 2
    assert (await hub.client.get(f"/api/v1/customers/{cid}", headers=roles["agent"])).status == 404
    log = (
        await (
            await hub.client.get(
                "/api/v1/audit", headers=roles["supervisor"], params={"action": "customer.erased"}
            )
        ).json()
    )["items"]
    assert log[0]["actor"].startswith("agent:") and log[0]["customer_id"] == cid
    # a provider retry of an erased message is still recognised and stored no more
    await hub.post_message(
        {"external_id": "e1", "from": {"kind": "email", "value": ERASE_EMAIL}, "text": "x"}
    )
    assert await hub.wait_stored(3, timeout=1) == 2


# the customer's words as the search index holds them (hub/text/index_terms.py): folded,
# and German and English stems
INDEXED = ("kontonummer", "kontonumm", "491709876543", "geheim", "8841")


def _alone(term: str, raw: bool = False) -> re.Pattern[Any]:
    """The term standing alone: "8841" is the customer's number, not the tail of a
    timestamp's microseconds ("…35.318841") that another row happens to hold."""
    pattern = rf"(?<![0-9a-z]){re.escape(term)}(?![0-9a-z])"
    return re.compile(pattern.encode()) if raw else re.compile(pattern)


async def _search(hub: HubClient, roles: dict[str, dict[str, str]], q: str) -> list[dict[str, object]]:
    resp = await hub.client.get("/api/v1/search", params={"q": q}, headers=roles["supervisor"])
    assert resp.status == 200, await resp.text()
    items: list[dict[str, object]] = (await resp.json())["items"]
    return items


async def _index_terms(hub: HubClient) -> list[str]:
    """PostgreSQL's tsvector column (not in the shared tables, so not in ``dump``)."""
    if hub.app[STORE].dialect != "postgresql":
        return []
    async with hub.app[STORE].read() as conn:
        vectors = (await conn.exec_driver_sql("SELECT terms::text FROM search_docs")).scalars().all()
    return [term.split("'")[1] for vector in vectors for term in vector.split() if "'" in term]


async def test_retention_blanks_old_bodies_only(hub: HubClient) -> None:
    for ext in ("old", "new"):
        await hub.post_message(
            {
                "external_id": ext,
                "from": {"kind": "email", "value": "r@example.com"},
                "text": f"body {ext}",
                "subject": "s",
            }
        )
    await hub.wait_stored(2)
    async with hub.app[STORE].write() as conn:
        await conn.execute(
            sa.update(messages)
            .where(messages.c.external_id == "old")
            .values(received_at=datetime.now(UTC) - timedelta(days=40))
        )
        removed, _ = await apply_retention(conn, datetime.now(UTC), days=30)
    assert removed == 1
    async with hub.app[STORE].read() as conn:
        rows = dict((await conn.execute(sa.select(messages.c.external_id, messages.c.text))).all())
    assert rows == {"old": "", "new": "body new"}
    async with hub.app[STORE].write() as conn:
        assert (await apply_retention(conn, datetime.now(UTC), days=30))[0] == 0  # nothing twice


# Routes anyone may call, each with the reason. Adding a public route means adding it here.
PUBLIC = {
    ("GET", "/healthz"): "liveness probe",
    ("GET", "/readyz"): "readiness probe; reports only ok/unreachable",
    ("GET", "/metrics"): "counts and latencies, no personal data",
    ("GET", "/api/v1/openapi.json"): "the API description",
    ("POST", "/api/v1/auth/login"): "signing in",
    ("GET", "/console"): "redirects to the console page",
    ("GET", "/console/"): "the console page: static, no data until signed in",
    ("GET", "/console/{path}"): "the console's scripts and styles: static",
    ("GET", "/widget/chat.js"): "the chat widget script: static",
    (
        "GET",
        "/csat/{token}",
    ): "a satisfaction survey's page: the one-use token (only its hash is stored) decides",
    ("POST", "/csat/{token}"): "a satisfaction survey's answer: the same token; one score, one comment",
    ("GET", "/u/{token}"): "a campaign email's unsubscribe page: shows a button, changes nothing",
    ("POST", "/u/{token}"): "unsubscribing: the one-use token (only its hash is stored) names whom",
    ("GET", "/ws/widget"): "visitors' chat: the site's Origin list and the visitor token decide",
    ("OPTIONS", "/widget/uploads"): "CORS preflight: answers the site's origins only",
    ("POST", "/widget/uploads"): "visitors' files: needs a visitor token",
    ("GET", "/widget/files/{site}/{sha256}/{name}"): "a chat file by its link signed with the site secret",
    ("GET", "/demo/"): "the sample company page: static",
    ("GET", "/demo/{path}"): "the sample page's styles: static",
    ("GET", "/admin"): "redirects to the admin pages",
    ("GET", "/admin/"): "the admin pages: static, no data until an admin signs in",
    ("GET", "/admin/{path}"): "the admin pages' scripts and styles: static",
    ("GET", "/invite/"): "the page an invited agent sets a password on: static",
    ("GET", "/invite/{path}"): "its script: static",
    ("POST", "/api/v1/auth/invitation"): "setting a password with an invitation token (256 bits, one use)",
}


def _example(path: str) -> str:
    return (
        path.replace("{id}", "00000000-0000-0000-0000-000000000000")
        .replace("{identity_id}", "1")
        .replace("{message_id}", "00000000-0000-0000-0000-000000000000")
        .replace("{key}", "some-site")
        .replace("{name}", "twilio")
        .replace("{version}", "1")
        .replace("{measure}", "conversations_opened")
        .replace("{external_id}", "ERP-1")
        .replace("{approval}", "00000000-0000-0000-0000-000000000000")
    )


async def test_route_inventory_nothing_unprotected(hub: HubClient) -> None:
    from hub.web.middleware import SPEC

    specs = hub.app[SPEC]
    served = {
        (r.method, r.resource.canonical): specs.get(r)
        for r in hub.app.router.routes()
        if r.method not in ("HEAD",)
    }
    undeclared = sorted(k for k, spec in served.items() if spec is None)
    assert undeclared == [], f"routes without a declared access: {undeclared}"
    public = {k for k, spec in served.items() if spec.access == "public"}
    assert public == set(PUBLIC), f"unexpected public routes: {sorted(public - set(PUBLIC))}"
    for (method, path), spec in sorted(served.items()):
        if spec.access in ("public", "signed"):
            continue
        resp = await hub.client.request(method, _example(path), json={})
        assert resp.status == 401, f"{method} {path} answered {resp.status} without credentials"
        resp = await hub.client.request(
            method,
            _example(path),
            json={},
            headers={"Cookie": "contacthub_session=forged", "Authorization": "Bearer forged"},
        )
        assert resp.status == 401, f"{method} {path} answered {resp.status} to forged credentials"


async def test_route_inventory_admin_routes_refuse_agents_and_supervisors(hub: HubClient, roles) -> None:
    """Every route declared for admins answers 403 to an agent's and a supervisor's session,
    before its handler reads the request."""
    from hub.web.middleware import SPEC

    admin_routes = sorted(
        (r.method, r.resource.canonical) for r, spec in hub.app[SPEC].items() if spec.access == "admin"
    )
    assert ("PUT", "/api/v1/routing/rules") in admin_routes
    assert ("PUT", "/api/v1/channels/{name}/settings") in admin_routes
    assert len(admin_routes) >= 20, admin_routes
    for method, path in admin_routes:
        for role in ("agent", "supervisor"):
            resp = await hub.client.request(method, _example(path), json={}, headers=roles[role])
            assert resp.status == 403, f"{method} {path} answered {resp.status} to a {role}"
        resp = await hub.client.request(method, _example(path), json={}, headers=roles["admin"])
        assert resp.status != 403, f"{method} {path} refused an admin"


async def test_the_inventory_catches_an_unprotected_route(settings) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from hub.app import create_app
    from hub.routespec import RouteSpec
    from hub.web.middleware import SPEC
    from hub.wiring.web import register

    async def leak(request: web.Request) -> web.Response:
        return web.json_response({})

    app = create_app(settings, migrate=True)
    register(app, RouteSpec("GET", "/api/v1/leak", leak, "a mistake", "public"))
    async with TestClient(TestServer(app)):
        public = {(r.method, r.resource.canonical) for r, s in app[SPEC].items() if s.access == "public"}
    assert public - set(PUBLIC) == {("GET", "/api/v1/leak")}


async def test_login_logout_and_disabled_agents(hub: HubClient, roles) -> None:
    wrong = await hub.client.post("/api/v1/auth/login", json={"email": "agent@test.example", "password": "x"})
    nobody = await hub.client.post(
        "/api/v1/auth/login", json={"email": "nobody@test.example", "password": "x"}
    )
    assert wrong.status == nobody.status == 401
    assert (await wrong.json())["detail"] == (await nobody.json())["detail"] == "wrong email or password"
    me = await hub.client.get("/api/v1/me", headers=roles["agent"])
    assert (await me.json())["role"] == "agent"
    assert (await hub.client.post("/api/v1/auth/logout", headers=roles["agent"])).status == 204
    assert (await hub.client.get("/api/v1/me", headers=roles["agent"])).status == 401
    from hub.store.tables import agents

    async with hub.app[STORE].write() as conn:
        await conn.execute(sa.update(agents).where(agents.c.role == "supervisor").values(active=False))
    assert (await hub.client.get("/api/v1/me", headers=roles["supervisor"])).status == 401
    resp = await hub.client.post(
        "/api/v1/auth/login", json={"email": "supervisor@test.example", "password": "pw-supervisor"}
    )
    assert resp.status == 403 and "disabled" in (await resp.json())["detail"]
