"""The API the console stands on, on both backends: who sees which conversations,
reopen and snooze, notes with @mentions, canned responses, a failed reply sent again,
the supervisor's figures, attachments, and the socket's viewing, typing and sign-out."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
import sqlalchemy as sa

from hub.keys import BLOBS, BUS, QUEUE, STORE
from hub.store.tables import outbox
from tests.conftest import HubClient
from tests.helpers import inbound
from tests.routing.test_router_service import Floor
from tests.waits import eventually

RULES = """
queues:
  service: {reservation_timeout: 30}
  sales: {}
rules:
  - name: sales
    when: subject == "sales"
    targets: [{queue: sales, agents: '"sales" in departments'}]
  - name: everyone
    targets: [{queue: service, agents: '"service" in departments'}]
"""


async def assigned(floor: Floor, name: str, ext: str) -> str:
    """Let one conversation arrive, be offered to ``name``, and accepted; its id."""
    await floor.arrive(ext)
    offer = await eventually(lambda: floor.mine(name, "offered"), what="an offer")
    resp = await floor.act(name, offer[0]["id"], "accept")
    assert resp.status == 200, await resp.text()
    return str(offer[0]["id"])


async def listing(floor: Floor, name: str, query: str = "") -> list[str]:
    resp = await floor.hub.client.get(f"/api/v1/conversations?{query}", headers=floor.headers[name])
    assert resp.status == 200, await resp.text()
    return [c["id"] for c in (await resp.json())["items"]]


async def test_agents_see_their_own_their_queues_and_their_teammates(hub: HubClient) -> None:
    floor = await Floor(hub).start(RULES)
    await floor.agent("anna", departments=["service"], teams=["blue"])
    await floor.agent("ben", available=False, departments=["service"], teams=["blue"])
    await floor.agent("sam", available=False, departments=["sales"], teams=["red"])
    mine = await assigned(floor, "anna", "a1")
    await floor.presence("anna", "away")  # so the next one waits in the queue
    await floor.arrive("s1")
    waiting_service = await eventually(
        lambda: _waiting(floor, "service", exclude={mine}), what="a waiting service conversation"
    )
    assert set(await listing(floor, "ben")) >= {mine, waiting_service}, "teammate's and queue's"
    assert await listing(floor, "ben", "view=mine") == []
    assert mine not in await listing(floor, "sam"), "another team, another queue"
    assert waiting_service not in await listing(floor, "sam")
    resp = await hub.client.get(f"/api/v1/conversations/{mine}", headers=floor.headers["sam"])
    assert resp.status == 404
    resp = await hub.client.get(f"/api/v1/conversations/{mine}", headers=floor.headers["ben"])
    assert resp.status == 200
    body = await resp.json()
    assert body["customer"]["tier"] == "standard" and body["messages"][0]["text"] == "Hallo"
    assert body["customer"]["contact"] == "a1@example.com", "the first identity, for customers without a name"
    resp = await hub.client.get("/api/v1/conversations?view=everything", headers=floor.headers["ben"])
    assert resp.status == 422 and (await resp.json())["field"] == "view"


async def _waiting(floor: Floor, queue: str, exclude: set[str]) -> str | None:
    resp = await floor.hub.client.get(
        f"/api/v1/conversations?status=open&queue={queue}", headers=floor.headers["supervisor"]
    )
    items = [c for c in (await resp.json())["items"] if c["id"] not in exclude and c["state"] == "waiting"]
    return items[0]["id"] if items else None


async def test_close_reopen_snooze_and_a_note_that_mentions_a_colleague(hub: HubClient) -> None:
    floor = await Floor(hub).start(RULES)
    anna = await floor.agent("anna", departments=["service"], teams=["blue"])
    ben = await floor.agent("ben", available=False, departments=["service"], teams=["blue"])
    conv = await assigned(floor, "anna", "c1")
    sub = hub.app[BUS].subscribe("conversation.*")

    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    resp = await floor.act("anna", conv, "snooze", until=until)
    assert resp.status == 200, await resp.text()
    row = next(
        c
        for c in (
            await (await hub.client.get("/api/v1/conversations", headers=floor.headers["anna"])).json()
        )["items"]
        if c["id"] == conv
    )
    assert row["snoozed"] is True
    resp = await floor.act("anna", conv, "snooze", until="2020-01-01T00:00:00+00:00")
    assert resp.status == 422
    resp = await floor.act("anna", conv, "snooze", until="2030-01-01T00:00:00")
    assert resp.status == 422, "a time without its offset is refused"

    resp = await floor.act("ben", conv, "notes", text="@Anna bitte prüfen", mentions=[anna])
    assert resp.status == 201, await resp.text()
    resp = await floor.act("ben", conv, "notes", text="x", mentions=["nobody"])
    assert resp.status == 422 and (await resp.json())["field"] == "mentions"
    topics: list[tuple[str, Any]] = []

    def heard() -> bool:  # through Redis on the scaleout backend: a moment after the 201
        while not sub.queue.empty():
            event = sub.queue.get_nowait()
            topics.append((event.topic, event.data.get("agent_id")))
        return {("conversation.mention", anna), ("conversation.note", None)} <= set(topics)

    await eventually(heard, what=lambda: f"the mention and the note among {topics}")

    assert (await floor.act("anna", conv, "close")).status == 200
    resp = await floor.act("ben", conv, "reopen")
    assert resp.status == 200, await resp.text()
    detail = await (
        await hub.client.get(f"/api/v1/conversations/{conv}", headers=floor.headers["ben"])
    ).json()
    assert detail["status"] == "open" and detail["assignee_id"] == ben and detail["snoozed"] is False
    assert (await floor.act("ben", conv, "reopen")).status == 409

    # a newer conversation on the same thread blocks a reopen of the old one
    assert (await floor.act("ben", conv, "close")).status == 200
    await hub.app[QUEUE].append(replace(inbound("c1-again", "c1@example.com"), received_at=datetime.now(UTC)))
    await eventually(lambda: _open_count(floor), what="the new conversation on the same thread")
    resp = await floor.act("ben", conv, "reopen")
    assert resp.status == 409 and "newer conversation" in (await resp.json())["detail"]


async def _open_count(floor: Floor) -> int:
    resp = await floor.hub.client.get(
        "/api/v1/conversations?status=open", headers=floor.headers["supervisor"]
    )
    return len((await resp.json())["items"])


async def test_canned_responses_shared_and_per_team(hub: HubClient) -> None:
    floor = await Floor(hub).start(RULES)
    await floor.agent("anna", available=False, departments=["service"], teams=["blue"])
    sup = floor.headers["supervisor"]
    base = "/api/v1/canned-responses"
    for body in (
        {"title": "Greeting", "shortcut": "hi", "body": "Hallo {{customer.name}}"},
        {"title": "Blue only", "shortcut": "blue", "body": "x", "team": "blue"},
        {"title": "Red only", "shortcut": "red", "body": "x", "team": "red"},
    ):
        resp = await hub.client.post(base, headers=sup, json=body)
        assert resp.status == 201, await resp.text()
    resp = await hub.client.post(base, headers=sup, json={"title": "Again", "shortcut": "hi", "body": "y"})
    assert resp.status == 409 and "/hi" in (await resp.json())["detail"]
    resp = await hub.client.post(
        base, headers=floor.headers["anna"], json={"title": "a", "shortcut": "a", "body": "b"}
    )
    assert resp.status == 403
    seen = await (await hub.client.get(base, headers=floor.headers["anna"])).json()
    assert sorted(c["shortcut"] for c in seen["items"]) == ["blue", "hi"]
    first = seen["items"][1]
    resp = await hub.client.patch(
        f"{base}/{first['id']}", headers=sup, json={"body": "Guten Tag {{customer.name}}"}
    )
    assert resp.status == 200 and (await resp.json())["body"].startswith("Guten Tag")
    assert (await hub.client.delete(f"{base}/{first['id']}", headers=sup)).status == 204
    assert (await hub.client.delete(f"{base}/{first['id']}", headers=sup)).status == 404


async def test_a_failed_reply_can_be_sent_again(hub: HubClient) -> None:
    floor = await Floor(hub).start(RULES)
    await floor.agent("anna", departments=["service"])
    conv = await assigned(floor, "anna", "r1")
    reply_id = "00000000-0000-0000-0000-00000000abcd"
    now = datetime.now(UTC)
    async with hub.app[STORE].write() as conn:
        customer = (
            await conn.execute(sa.text("select customer_id from conversations where id = :i"), {"i": conv})
        ).scalar()
        await conn.execute(
            sa.insert(outbox).values(
                id=reply_id,
                conversation_id=conv,
                customer_id=customer,
                channel="email",
                recipient="r1@example.com",
                text="t",
                status="failed",
                attempts=8,
                next_attempt_at=now,
                provider_ids=[],
                error="550 no such user",
                error_code="550",
                details={},
                created_at=now,
                updated_at=now,
            )
        )
    url = f"/api/v1/conversations/{conv}/messages/{reply_id}/retry"
    resp = await hub.client.post(url, headers=floor.headers["anna"], json={})
    assert resp.status == 202, await resp.text()
    assert (await resp.json())["status"] == "queued"
    assert [e.data["message_id"] for e in await floor.log("message.retried")] == [reply_id]

    async def tried_again() -> bool:  # no connector sends email in this hub: it fails again
        async with hub.app[STORE].read() as conn:
            row = (
                await conn.execute(
                    sa.select(outbox.c.status, outbox.c.attempts).where(outbox.c.id == reply_id)
                )
            ).one()
        return row.status == "failed" and row.attempts >= 1

    await eventually(tried_again, what="the outbox to try it again")
    async with hub.app[STORE].write() as conn:
        await conn.execute(sa.update(outbox).where(outbox.c.id == reply_id).values(status="delivered"))
    resp = await hub.client.post(url, headers=floor.headers["anna"], json={})
    assert resp.status == 409 and "delivered" in (await resp.json())["detail"]
    resp = await hub.client.post(
        f"/api/v1/conversations/{conv}/messages/nope/retry", headers=floor.headers["anna"], json={}
    )
    assert resp.status == 404


async def test_supervisor_figures_and_attachments(hub: HubClient) -> None:
    floor = await Floor(hub).start(RULES)
    await floor.agent("anna", departments=["service"], capacity={"api": 4})
    conv = await assigned(floor, "anna", "f1")
    load = await (
        await hub.client.get("/api/v1/supervisor/agents", headers=floor.headers["supervisor"])
    ).json()
    anna = next(a for a in load["items"] if a["name"] == "anna")
    assert anna["load"] == {"api": 1} and anna["capacity"]["api"] == 4 and anna["presence"] == "available"
    assert (await hub.client.get("/api/v1/supervisor/agents", headers=floor.headers["anna"])).status == 403
    await floor.act("anna", conv, "notes", text="called", callback=True)
    hours = await (
        await hub.client.get("/api/v1/stats/hourly?hours=3", headers=floor.headers["supervisor"])
    ).json()
    assert len(hours["hours"]) == 3
    assert hours["hours"][-1]["volume"] == {"api": 1}
    assert "standard" in hours["hours"][-1]["first_response_s"]
    assert (
        await hub.client.get("/api/v1/stats/hourly?hours=0", headers=floor.headers["supervisor"])
    ).status == 400
    assert (
        await hub.client.get("/api/v1/stats/hourly?hours=99", headers=floor.headers["supervisor"])
    ).status == 400

    from hub.model import Attachment

    sha = await hub.app[BLOBS].put(b"<script>alert(1)</script>")
    m = inbound("att", "f1@example.com")
    await hub.app[QUEUE].append(
        replace(
            m,
            received_at=datetime.now(UTC),
            attachments=(Attachment(sha256=sha, filename='x".html', content_type="text/html", size=25),),
        )
    )
    detail = await eventually(lambda: _with_files(floor, conv), what="the attachment")
    file_id = detail["messages"][-1]["attachments"][0]["id"]
    resp = await hub.client.get(f"/api/v1/attachments/{file_id}", headers=floor.headers["anna"])
    assert resp.status == 200 and await resp.read() == b"<script>alert(1)</script>"
    assert resp.headers["Content-Type"] == "application/octet-stream", "never rendered by the browser"
    assert resp.headers["Content-Disposition"].startswith("attachment; filename*=UTF-8''x%22.html")
    await floor.agent("sam", available=False, departments=["sales"])
    assert (
        await hub.client.get(f"/api/v1/attachments/{file_id}", headers=floor.headers["sam"])
    ).status == 404


async def _with_files(floor: Floor, conv: str) -> dict[str, Any] | None:
    resp = await floor.hub.client.get(f"/api/v1/conversations/{conv}", headers=floor.headers["anna"])
    body = await resp.json()
    return body if body["messages"][-1]["attachments"] else None


async def test_viewing_and_typing_reach_colleagues_and_sign_out_closes_the_socket(hub: HubClient) -> None:
    floor = await Floor(hub).start(RULES)
    await floor.agent("anna", departments=["service"], teams=["blue"])
    await floor.agent("ben", available=False, departments=["service"], teams=["blue"])
    await floor.agent("sam", available=False, departments=["sales"])
    conv = await assigned(floor, "anna", "v1")
    anna = await hub.client.ws_connect("/ws/agent", headers=floor.headers["anna"])
    ben = await hub.client.ws_connect("/ws/agent", headers=floor.headers["ben"])
    # no wait: each socket is subscribed once its handshake is done (hub/web/agent_socket.py)
    sam = await hub.client.ws_connect("/ws/agent", headers=floor.headers["sam"])
    await ben.send_str(orjson.dumps({"type": "viewing", "conversation_id": conv, "on": True}).decode())
    await ben.send_str(orjson.dumps({"type": "typing", "conversation_id": conv}).decode())
    await sam.send_str(orjson.dumps({"type": "viewing", "conversation_id": conv, "on": True}).decode())
    await sam.send_str("not json")
    got = [await _next(anna, "conversation.viewing"), await _next(anna, "conversation.typing")]
    assert [(e["data"]["name"], e["data"]["conversation_id"]) for e in got] == [("ben", conv), ("ben", conv)]
    # sam may not see it: nothing of sam's arrives
    try:
        extra = await _next(anna, "conversation.viewing", timeout=0.5)
    except TimeoutError:
        extra = None
    assert extra is None, extra

    # ben, viewing, follows the conversation: a note reaches him
    assert (await floor.act("anna", conv, "notes", text="für Ben")).status == 201
    assert (await _next(ben, "conversation.note"))["data"]["text"] == "für Ben"

    resp = await hub.client.post("/api/v1/auth/logout", headers=floor.headers["ben"])
    assert resp.status == 204
    closed = await ben.receive(timeout=5)
    assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 4401
    assert not anna.closed
    for ws in (anna, sam):
        await ws.close()


async def _next(ws: Any, topic: str, timeout: float = 5) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            event = orjson.loads(msg.data)
            if event["topic"] == topic:
                return event


# due 6 s after arrival: the router's checks every 2 s see it coming before it is due
SLA_RULES = """
queues:
  service: {}
sla:
  standard: {default: 6}
rules:
  - name: everyone
    targets: [{queue: service}]
"""


async def test_an_sla_warning_comes_once_before_the_breach(hub: HubClient) -> None:
    floor = await Floor(hub).start(SLA_RULES)
    await floor.agent("away_agent", available=False)  # meanwhile the router takes the new rules
    sub = hub.app[BUS].subscribe("sla.*")
    await floor.arrive("w1")
    seen: list[tuple[str, str]] = []

    async def breached() -> bool:
        while not sub.queue.empty():
            event = sub.queue.get_nowait()
            seen.append((event.topic, event.data["conversation_id"]))
        return any(topic == "sla.breached" for topic, _ in seen)

    await eventually(breached, what=f"the breach (seen: {seen})")
    await asyncio.sleep(2.5)  # more router passes: no second warning
    await breached()
    assert [topic for topic, _ in seen] == ["sla.warning", "sla.breached"], seen
    assert len({conv for _, conv in seen}) == 1


async def test_a_reply_carries_uploaded_files_where_the_channel_can(backend: str, tmp_path) -> None:
    import base64

    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from tests.conftest import drop_backend, make_settings, running_hub

    got: list[dict[str, Any]] = []

    async def receive(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.json_response({})

    sink = web.Application()
    sink.router.add_post("/replies", receive)
    server = TestServer(sink)
    await server.start_server()
    settings = make_settings(
        tmp_path,
        backend,
        **{"connectors.api.reply_url": str(server.make_url("/replies")), "server.upload_max_bytes": 2048},
    )
    try:
        async with running_hub(settings) as hub:
            floor = await Floor(hub).start(RULES)
            await floor.agent("anna", departments=["service"])
            conv = await assigned(floor, "anna", "u1")
            headers = {**floor.headers["anna"], "Content-Type": "application/pdf"}
            resp = await hub.client.post(
                "/api/v1/uploads?filename=../../Angebot.pdf", data=b"%PDF-1.4 x", headers=headers
            )
            assert resp.status == 201, await resp.text()
            ref = await resp.json()
            assert (
                ref["filename"] == "Angebot.pdf"
                and ref["size"] == 10
                and ref["content_type"] == "application/pdf"
            )
            resp = await hub.client.post(
                "/api/v1/uploads?filename=big.bin", data=b"x" * 3000, headers=headers
            )
            assert resp.status == 413
            resp = await hub.client.post("/api/v1/uploads", data=b"x", headers=headers)
            assert resp.status == 422 and (await resp.json())["field"] == "filename"

            files = [{k: ref[k] for k in ("sha256", "filename", "content_type")}]
            resp = await floor.act("anna", conv, "messages", text="Anbei das Angebot", attachments=files)
            assert resp.status == 202, await resp.text()
            resp = await floor.act(
                "anna", conv, "messages", text="x", attachments=[{**files[0], "sha256": "0" * 64}]
            )
            assert resp.status == 422 and (await resp.json())["field"] == "attachments"
            resp = await floor.act("anna", conv, "messages", text="x", channel="email", attachments=files)
            assert resp.status == 422, "no connector carries files on email here"
            await eventually(lambda: _got(got), what="the reply at the integration")
            sent = got[0]
            assert sent["text"] == "Anbei das Angebot"
            assert sent["attachments"][0]["filename"] == "Angebot.pdf"
            assert base64.b64decode(sent["attachments"][0]["content_base64"]) == b"%PDF-1.4 x"
            detail = await (
                await hub.client.get(f"/api/v1/conversations/{conv}", headers=floor.headers["anna"])
            ).json()
            out = [m for m in detail["messages"] if m["direction"] == "out"]
            assert [a["filename"] for a in out[0]["attachments"]] == ["Angebot.pdf"]
    finally:
        await server.close()
        await drop_backend(settings)


async def _got(got: list[dict[str, Any]]) -> bool:
    return bool(got)
