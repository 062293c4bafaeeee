"""Outgoing webhooks on both backends, against a local receiver: deliveries are signed,
put off while the receiver refuses (longer each time) and then delivered with nothing
lost; a paused webhook resumes where it stopped; the attempts are in the admin API; only
admins register them. The test runs the delivery rounds itself, at chosen times."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from hub.keys import HTTP, STORE
from hub.settings import Settings
from hub.signing import sign
from hub.webhooks.delivery import SETTLE, deliver_due
from tests.conftest import HubClient, drop_backend, make_settings, running_hub, sign_in_all


@pytest.fixture
async def settings(backend: str, tmp_path: Path) -> AsyncIterator[Settings]:
    s = make_settings(tmp_path, backend, **{"webhooks.interval_seconds": 0})  # rounds run by the test
    yield s
    await drop_backend(s)


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[HubClient]:
    async with running_hub(settings) as client:
        yield client


class Receiver:
    """A local HTTP server that answers 503 to the first ``refusals`` deliveries."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.got: list[tuple[int, dict[str, Any], dict[str, str]]] = []
        self.raw: list[bytes] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        status = 503 if len(self.got) < self.refusals else 200
        self.got.append((status, orjson.loads(body), dict(request.headers)))
        self.raw.append(body)
        return web.Response(status=status, text="busy" if status == 503 else "ok")

    def taken(self) -> list[dict[str, Any]]:
        return [item for status, body, _ in self.got if status == 200 for item in body["items"]]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    got = Receiver(refusals=2)
    app = web.Application()
    app.router.add_post("/hook", got.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield got, f"http://127.0.0.1:{port}/hook"
    await runner.cleanup()


async def test_a_receiver_that_refuses_then_accepts_loses_nothing(
    hub: HubClient, receiver: tuple[Receiver, str]
) -> None:
    got, url = receiver
    roles = await sign_in_all(hub)
    admin, sup = roles["admin"], roles["supervisor"]
    wanted = ["conversation.opened", "message.received", "contract.added"]
    resp = await hub.client.post(
        "/api/v1/webhooks", json={"name": "crm", "url": url, "events": wanted}, headers=admin
    )
    assert resp.status == 201, await resp.text()
    made = await resp.json()
    secret = made["secret"]
    assert (
        await hub.client.post("/api/v1/webhooks", json={**made, "events": wanted}, headers=sup)
    ).status == 403

    resp = await hub.post_message(
        {"external_id": "wh-1", "from": {"kind": "email", "value": "k@wh.example"}, "text": "Hallo"}
    )
    assert resp.status == 202
    assert await hub.wait_stored(1) == 1
    customer_id = (
        await (await hub.client.get("/api/v1/customers", params={"q": "k@wh.example"}, headers=sup)).json()
    )["items"][0]["id"]
    resp = await hub.client.post(
        f"/api/v1/customers/{customer_id}/contracts", json={"name": "Strom"}, headers=sup
    )
    assert resp.status == 201

    store, http = hub.app[STORE], hub.app[HTTP]
    now = datetime.now(UTC)
    assert await deliver_due(store, http, now) == 0 and got.got == []  # not settled yet: nothing sent
    now += SETTLE + timedelta(seconds=1)
    assert await deliver_due(store, http, now) == 0  # refused
    assert (
        await deliver_due(store, http, now + timedelta(seconds=4)) == 0 and len(got.got) == 1
    )  # put off 5 s
    assert await deliver_due(store, http, now + timedelta(seconds=5)) == 0  # refused again
    assert (
        await deliver_due(store, http, now + timedelta(seconds=14)) == 0 and len(got.got) == 2
    )  # put off 10 s
    assert await deliver_due(store, http, now + timedelta(seconds=15)) == 3
    assert await deliver_due(store, http, now + timedelta(seconds=16)) == 0 and len(got.got) == 3  # all taken

    assert [status for status, _, _ in got.got] == [503, 503, 200]
    assert [body["attempt"] for _, body, _ in got.got] == [1, 2, 3]
    assert got.got[0][1]["items"] == got.got[2][1]["items"]  # the same page again: nothing skipped
    items = got.taken()
    assert [i["type"] for i in items] == ["conversation.opened", "contract.added", "message.received"]
    assert {i["customer_id"] for i in items} == {customer_id}
    assert items[1]["data"]["name"] == "Strom" and "text" not in items[2]["data"]
    for raw, (_, _, headers) in zip(got.raw, got.got, strict=True):
        timestamp = headers["X-ContactHub-Timestamp"]
        assert headers["X-ContactHub-Signature"] == sign(secret, timestamp, raw)

    attempts = await (await hub.client.get(f"/api/v1/webhooks/{made['id']}/attempts", headers=admin)).json()
    assert [(a["status"], a["items"]) for a in attempts["items"]] == [(200, 3), (503, 3), (503, 3)]
    assert "503" in attempts["items"][1]["error"]
    listed = await (await hub.client.get("/api/v1/webhooks", headers=admin)).json()
    assert listed["items"][0]["failures"] == 0 and listed["items"][0]["last_attempt"]["status"] == 200
    assert "secret" not in listed["items"][0]

    # paused: nothing goes; resumed: it goes on from where it stopped
    resp = await hub.client.patch(f"/api/v1/webhooks/{made['id']}", json={"active": False}, headers=admin)
    assert resp.status == 200
    resp = await hub.post_message(
        {"external_id": "wh-2", "from": {"kind": "email", "value": "k@wh.example"}, "text": "Noch was"}
    )
    assert await hub.wait_stored(2) == 2
    later = now + timedelta(seconds=30)  # after the rounds above, and the new message settled
    assert await deliver_due(store, http, later) == 0 and len(got.got) == 3
    await hub.client.patch(f"/api/v1/webhooks/{made['id']}", json={"active": True}, headers=admin)
    rotated = (await (await hub.client.post(f"/api/v1/webhooks/{made['id']}/secret", headers=admin)).json())[
        "secret"
    ]
    assert await deliver_due(store, http, later) == 1
    assert [i["type"] for i in got.got[-1][1]["items"]] == ["message.received"]
    assert got.got[-1][2]["X-ContactHub-Signature"] == sign(
        rotated, got.got[-1][2]["X-ContactHub-Timestamp"], got.raw[-1]
    )


async def test_a_webhook_is_checked_when_registered(hub: HubClient) -> None:
    admin = (await sign_in_all(hub))["admin"]
    bad: list[tuple[dict[str, Any], str]] = [
        ({"name": "x", "url": "ftp://example.com/x", "events": ["conversation.opened"]}, "url"),
        ({"name": "x", "url": "not a url", "events": ["conversation.opened"]}, "url"),
        ({"name": "x", "url": "https://example.com/x", "events": ["conversation.exploded"]}, "events.0"),
        ({"name": "x", "url": "https://example.com/x", "events": []}, "events"),
        ({"name": "", "url": "https://example.com/x", "events": ["conversation.opened"]}, "name"),
        (
            {
                "name": "x",
                "url": "https://example.com/x",
                "events": ["conversation.opened"],
                "secret": "mine",
            },
            "secret",
        ),
    ]
    for body, field in bad:
        resp = await hub.client.post("/api/v1/webhooks", json=body, headers=admin)
        assert resp.status == 422, (body, await resp.text())
        assert (await resp.json())["field"] == field, body
    for method, path in (("PATCH", "/api/v1/webhooks/nope"), ("DELETE", "/api/v1/webhooks/nope")):
        resp = await hub.client.request(method, path, json={"active": False}, headers=admin)
        assert resp.status == 404, (method, path)
    made = await (
        await hub.client.post(
            "/api/v1/webhooks",
            json={"name": "x", "url": "https://example.com/x", "events": ["tier.changed"]},
            headers=admin,
        )
    ).json()
    assert (await hub.client.delete(f"/api/v1/webhooks/{made['id']}", headers=admin)).status == 204
    assert (await (await hub.client.get("/api/v1/webhooks", headers=admin)).json())["items"] == []
