"""The one visibility rule (hub/auth/visibility.py), on both backends, on every
surface that shows a conversation or a customer: every conversation route, what a
visible conversation an agent does not hold allows them, the customer's search, record,
timeline, changes and export, and the agent socket.

The floor: anna and ben serve ``service`` and are teammates (blue); sam serves
``sales`` (red). anna holds one conversation of customer A and one of customer B; A
also has one waiting on ``sales``, which sam may see.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
import sqlalchemy as sa

from hub.keys import BLOBS, BUS, QUEUE, STORE
from hub.model import Attachment
from hub.store.tables import conversations, events, outbox
from tests.conftest import HubClient
from tests.helpers import inbound
from tests.routing.test_router_service import Floor
from tests.test_console_api import RULES, _next, assigned
from tests.waits import eventually

GET_404 = "no conversation with id {} for you"  # what GET /api/v1/conversations/{id} says
FUTURE = (datetime.now(UTC) + timedelta(days=30)).isoformat()
# Every route that names a conversation (or a file of one), with a request that would
# do something if the rule let it: a new route must be added here, and then it must
# answer 404 to an agent who may not see the conversation.
CALLS: dict[tuple[str, str], dict[str, Any] | None] = {
    ("GET", "/api/v1/conversations/{id}"): None,
    ("POST", "/api/v1/conversations/{id}/messages"): {"text": "Ich übernehme"},
    ("POST", "/api/v1/conversations/{id}/notes"): {"text": "gesehen", "mentions": []},
    ("POST", "/api/v1/conversations/{id}/accept"): {},
    ("POST", "/api/v1/conversations/{id}/reject"): {"reason": "nein"},
    ("POST", "/api/v1/conversations/{id}/close"): {},
    ("POST", "/api/v1/conversations/{id}/transfer"): {"queue": "sales", "note": "für mich"},
    ("POST", "/api/v1/conversations/{id}/reopen"): {},
    ("POST", "/api/v1/conversations/{id}/snooze"): {"until": FUTURE},
    ("POST", "/api/v1/conversations/{id}/messages/{message_id}/retry"): {},
    ("PUT", "/api/v1/conversations/{id}/tags"): {"tags": ["geheim"]},
    ("POST", "/api/v1/conversations/{id}/tags"): {"tag": "geheim"},
    ("DELETE", "/api/v1/conversations/{id}/tags/{tag}"): None,
    ("GET", "/api/v1/attachments/{id}"): None,
}
# Every route that names a customer, with what it answers to an agent who may not see
# the customer: 404 from the rule, or 403 where the route is above an agent's role.
CUSTOMER_CALLS: dict[tuple[str, str], tuple[dict[str, Any] | None, int]] = {
    ("GET", "/api/v1/customers/{id}"): (None, 404),
    ("PATCH", "/api/v1/customers/{id}"): ({"name": "Gekapert"}, 404),
    ("DELETE", "/api/v1/customers/{id}"): (None, 403),
    ("POST", "/api/v1/customers/{id}/identities"): ({"kind": "email", "value": "s@x.de"}, 404),
    ("DELETE", "/api/v1/customers/{id}/identities/{identity_id}"): (None, 403),
    ("GET", "/api/v1/customers/{id}/timeline"): (None, 404),
    ("POST", "/api/v1/customers/{id}/merge"): ({"other_id": "x"}, 403),
    ("POST", "/api/v1/customers/{id}/unmerge"): ({"merge_event_id": 1}, 403),
    ("PUT", "/api/v1/customers/{id}/tier"): ({"tier": "gold"}, 403),
    ("PUT", "/api/v1/customers/{id}/consent"): (
        {"channel": "sms", "purpose": "service", "granted": False},
        404,
    ),
    ("GET", "/api/v1/customers/{id}/export"): (None, 403),
    ("GET", "/api/v1/customers/{id}/contracts"): (None, 404),
    ("POST", "/api/v1/customers/{id}/contracts"): ({"name": "Strom"}, 403),
    ("GET", "/api/v1/customers/{id}/revenue"): (None, 404),
    ("GET", "/api/v1/customers/{id}/health"): (None, 404),
    ("GET", "/api/v1/customers/{id}/whatsapp"): (None, 404),
    ("GET", "/api/v1/customers/{id}/contact-approvals"): (None, 404),
    ("POST", "/api/v1/customers/{id}/contact-approvals"): ({"days": 7}, 404),
    ("DELETE", "/api/v1/customers/{id}/contact-approvals/{approval}"): (None, 404),
}


@dataclass
class World:
    floor: Floor
    conv: str  # anna's, of customer A
    reply: str  # a failed reply in it
    file: int  # an attachment in it
    other: str  # anna's, of customer B
    sales: str  # customer A's, waiting on sales
    customer: str  # A
    customer_b: str  # B

    def headers(self, name: str) -> dict[str, str]:
        return self.floor.headers[name]


async def world(hub: HubClient) -> World:
    floor = await Floor(hub).start(RULES)
    await floor.agent("anna", departments=["service"], teams=["blue"], capacity={"api": 5})
    await floor.agent("ben", available=False, departments=["service"], teams=["blue"])
    await floor.agent("sam", available=False, departments=["sales"], teams=["red"])
    conv = await assigned(floor, "anna", "a1")
    other = await assigned(floor, "anna", "b1")
    sha = await hub.app[BLOBS].put(b"%PDF-1.4 Vertrag")
    m = replace(
        inbound("a1-file", "a1@example.com", text="Der Vertrag, geheim"),
        received_at=datetime.now(UTC),
        attachments=(Attachment(sha256=sha, filename="v.pdf", content_type="application/pdf", size=16),),
    )
    await hub.app[QUEUE].append(m)
    detail = await eventually(lambda: _with_file(floor, conv), what="the attachment")
    file_id = detail["messages"][-1]["attachments"][0]["id"]
    resp = await floor.act("anna", conv, "notes", text="Kunde droht mit Anwalt")
    assert resp.status == 201, await resp.text()
    # customer A writes to sales on another thread: it waits there for sam, who is away
    await hub.app[QUEUE].append(
        replace(
            inbound("a1-sales", "a1@example.com", thread="sales-1", text="Angebot bitte"), subject="sales"
        )
    )
    sales = await eventually(lambda: _waiting_on(hub, "sales"), what="A's sales conversation on its queue")
    reply = await _failed_reply(hub, conv)
    async with hub.app[STORE].read() as conn:
        rows = await conn.execute(sa.select(conversations.c.id, conversations.c.customer_id))
        owners = {r.id: r.customer_id for r in rows}
    assert owners[sales] == owners[conv] != owners[other]
    return World(floor, conv, reply, file_id, other, sales, owners[conv], owners[other])


async def _with_file(floor: Floor, conv: str) -> dict[str, Any] | None:
    resp = await floor.hub.client.get(f"/api/v1/conversations/{conv}", headers=floor.headers["anna"])
    body = await resp.json()
    return body if body["messages"][-1]["attachments"] else None


async def _waiting_on(hub: HubClient, queue: str) -> str | None:
    async with hub.app[STORE].read() as conn:
        return await conn.scalar(
            sa.select(conversations.c.id).where(
                conversations.c.queue == queue, conversations.c.assignee_id.is_(None)
            )
        )


async def _failed_reply(hub: HubClient, conv: str) -> str:
    reply_id = "00000000-0000-0000-0000-0000000000aa"
    now = datetime.now(UTC)
    async with hub.app[STORE].write() as conn:
        customer = await conn.scalar(sa.select(conversations.c.customer_id).where(conversations.c.id == conv))
        await conn.execute(
            sa.insert(outbox).values(
                id=reply_id,
                conversation_id=conv,
                customer_id=customer,
                channel="email",
                recipient="a1@example.com",
                text="t",
                status="failed",
                attempts=8,
                next_attempt_at=now,
                provider_ids=[],
                error="550 no such user",
                details={},
                created_at=now,
                updated_at=now,
            )
        )
    return reply_id


def _url(w: World, path: str, conv: str) -> str:
    if path == "/api/v1/attachments/{id}":
        return f"/api/v1/attachments/{w.file}"
    return path.replace("{id}", conv).replace("{message_id}", w.reply).replace("{tag}", "vip")


async def _call(w: World, name: str, method: str, path: str, conv: str) -> aiohttp.ClientResponse:
    body = CALLS[(method, path)]
    return await w.floor.hub.client.request(
        method, _url(w, path, conv), headers=w.headers(name), **({"json": body} if body is not None else {})
    )


async def test_every_conversation_route_is_404_for_an_agent_who_may_not_see_it(hub: HubClient) -> None:
    w = await world(hub)
    routes = {
        (r.method, r.resource.canonical)
        for r in hub.app.router.routes()
        if r.resource is not None
        and (
            r.resource.canonical.startswith("/api/v1/conversations/{id}")
            or r.resource.canonical.startswith("/api/v1/attachments/")
        )
    }
    assert routes == set(CALLS), "a route that names a conversation: add it to CALLS"
    wrong = []  # every route that let sam in, or told him more than GET would
    for state in ("open", "closed"):
        for method, path in CALLS:
            resp = await _call(w, "sam", method, path, w.conv)
            detail = (await resp.json())["detail"] if resp.status >= 400 else await resp.text()
            words = f"no attachment {w.file} for you" if "attachments" in path else GET_404.format(w.conv)
            if (resp.status, detail) != (404, words):
                wrong.append((state, method, path, resp.status, detail[:80]))
        if state == "open":
            assert (await w.floor.act("anna", w.conv, "close")).status == 200
    assert wrong == []
    # an unknown id reads the same as a hidden one
    resp = await hub.client.post("/api/v1/conversations/nope/reopen", headers=w.headers("sam"), json={})
    assert resp.status == 404 and (await resp.json())["detail"] == "no conversation with id nope for you"
    # nothing changed hands, nothing was written in sam's name but reads
    async with hub.app[STORE].read() as conn:
        row = (await conn.execute(sa.select(conversations).where(conversations.c.id == w.conv))).one()
        done = (
            await conn.scalars(
                sa.select(events.c.action).where(
                    events.c.actor == f"agent:{w.floor.ids['sam']}", ~events.c.action.startswith("audit.")
                )
            )
        ).all()
    assert (row.status, row.assignee_id) == ("closed", w.floor.ids["anna"])
    assert done == []


async def test_a_visible_conversation_an_agent_does_not_hold(hub: HubClient) -> None:
    """ben sees anna's conversation (a teammate's): he may read it and note on it, and
    reopen it once closed (it becomes his, audited); he may not reply, close, transfer,
    snooze, retry, accept or reject while it is hers."""
    w = await world(hub)
    expected = {
        "/api/v1/conversations/{id}": 200,
        "/api/v1/conversations/{id}/notes": 201,
        "/api/v1/attachments/{id}": 200,
        "/api/v1/conversations/{id}/messages": 403,
        "/api/v1/conversations/{id}/close": 403,
        "/api/v1/conversations/{id}/transfer": 403,
        "/api/v1/conversations/{id}/snooze": 403,
        "/api/v1/conversations/{id}/messages/{message_id}/retry": 403,
        "/api/v1/conversations/{id}/accept": 409,  # not offered to him
        "/api/v1/conversations/{id}/reject": 409,
        "/api/v1/conversations/{id}/reopen": 409,  # open
        "/api/v1/conversations/{id}/tags": 200,  # whoever sees it may tag it
        "/api/v1/conversations/{id}/tags/{tag}": 200,
    }
    for method, path in CALLS:
        resp = await _call(w, "ben", method, path, w.conv)
        assert resp.status == expected[path], (path, resp.status, await resp.text())
    assert (await w.floor.act("anna", w.conv, "close")).status == 200
    resp = await w.floor.act("ben", w.conv, "reopen")
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["assignee_id"] == w.floor.ids["ben"]
    [reopened] = await w.floor.log("conversation.reopened")
    assert reopened.data == {"agent_id": w.floor.ids["ben"], "from_agent": w.floor.ids["anna"]}
    # now ben's and not of anna's team's holder: anna still sees it (ben is her teammate)
    assert (await hub.client.get(f"/api/v1/conversations/{w.conv}", headers=w.headers("anna"))).status == 200


async def _timeline(w: World, name: str, customer: str) -> list[dict[str, Any]]:
    resp = await w.floor.hub.client.get(
        f"/api/v1/customers/{customer}/timeline?limit=500", headers=w.headers(name)
    )
    assert resp.status == 200, await resp.text()
    return list((await resp.json())["items"])


def _conversations_in(items: list[dict[str, Any]]) -> set[str]:
    found = {i["conversation_id"] for i in items if i["type"] == "message"}
    return found | {
        i["subject_id"] for i in items if i["type"] == "event" and i["subject_type"] == "conversation"
    }


async def test_an_agent_sees_of_a_customer_only_what_the_rule_lets_them(hub: HubClient) -> None:
    w = await world(hub)
    client = hub.client
    # the timeline: sam sees A's sales conversation, and A's customer-level events
    sams = await _timeline(w, "sam", w.customer)
    assert _conversations_in(sams) == {w.sales}
    texts = [i.get("text") for i in sams] + [str(i.get("data")) for i in sams]
    assert not any("geheim" in t or "Anwalt" in t for t in texts if t), sams
    assert "customer.created" in {i.get("action") for i in sams}
    assert _conversations_in(await _timeline(w, "supervisor", w.customer)) == {w.conv, w.sales}
    assert _conversations_in(await _timeline(w, "ben", w.customer)) == {w.conv}, "a teammate's, not sales'"

    # the record: sam may read A's, with only the conversation he may see
    record = await (await client.get(f"/api/v1/customers/{w.customer}", headers=w.headers("sam"))).json()
    assert [c["id"] for c in record["recent_conversations"]] == [w.sales]
    full = await (await client.get(f"/api/v1/customers/{w.customer}", headers=w.headers("ben"))).json()
    assert [c["id"] for c in full["recent_conversations"]] == [w.conv]

    # B is nothing to sam: not found, not readable, not changeable
    async def found(name: str, q: str) -> list[str]:
        resp = await client.get("/api/v1/customers", params={"q": q}, headers=w.headers(name))
        assert resp.status == 200, await resp.text()
        return [c["id"] for c in (await resp.json())["items"]]

    assert await found("sam", "b1@example.com") == []
    assert await found("sam", "a1@example.com") == [w.customer]
    assert await found("ben", "b1@example.com") == [w.customer_b]
    b = f"/api/v1/customers/{w.customer_b}"
    routes = {
        (r.method, r.resource.canonical)
        for r in hub.app.router.routes()
        if r.resource is not None and r.resource.canonical.startswith("/api/v1/customers/{id}")
    }
    assert routes == set(CUSTOMER_CALLS), "a route that names a customer: add it to CUSTOMER_CALLS"
    for (method, path), (body, status) in CUSTOMER_CALLS.items():
        url = path.replace("{id}", w.customer_b).replace("{identity_id}", "1").replace("{approval}", "a1")
        extra = {"json": body} if body is not None else {}
        resp = await client.request(
            method, url, headers=w.headers("sam"), params={"confirm": w.customer_b}, **extra
        )
        assert resp.status == status, (method, path, resp.status, await resp.text())
        if status == 404:
            assert (await resp.json())["detail"] == f"no customer with id {w.customer_b}"
    # export and erasure are a supervisor's and an admin's
    assert (
        await client.get(f"/api/v1/customers/{w.customer}/export", headers=w.headers("sam"))
    ).status == 403
    resp = await client.delete(
        f"/api/v1/customers/{w.customer}", params={"confirm": w.customer}, headers=w.headers("sam")
    )
    assert resp.status == 403
    exported = await (await client.get(f"{b}/export", headers=w.headers("supervisor"))).json()
    assert {m["conversation_id"] for m in exported["messages"]} == {w.other}

    # a key account manager sees the customer's record, not their conversations
    resp = await client.patch(
        b, headers=w.headers("supervisor"), json={"key_account_manager_id": w.floor.ids["sam"]}
    )
    assert resp.status == 200, await resp.text()
    assert await found("sam", "b1@example.com") == [w.customer_b]
    record = await (await client.get(b, headers=w.headers("sam"))).json()
    assert record["recent_conversations"] == []
    assert _conversations_in(await _timeline(w, "sam", w.customer_b)) == set()

    # an agent who records a new customer works with that record; nobody else of the agents
    resp = await client.post(
        "/api/v1/customers", headers=w.headers("sam"), json={"name": "Neu", "identities": []}
    )
    assert resp.status == 201, await resp.text()
    made = (await resp.json())["id"]
    assert (await client.get(f"/api/v1/customers/{made}", headers=w.headers("sam"))).status == 200
    assert (await client.get(f"/api/v1/customers/{made}", headers=w.headers("ben"))).status == 404


async def _until(ws: Any, sentinel: str) -> list[dict[str, Any]]:
    """What the socket sends up to the presence event of ``sentinel`` (published last)."""
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            event = orjson.loads(msg.data)
            if event["topic"] == "agent.presence" and event["data"]["agent_id"] == sentinel:
                return got
            got.append(event)


async def test_the_socket_tells_an_agent_only_of_conversations_they_may_see(hub: HubClient) -> None:
    w = await world(hub)
    bus = hub.app[BUS]
    sockets = {
        name: await hub.client.ws_connect("/ws/agent", headers=w.headers(name))
        for name in ("anna", "ben", "sam")
    }
    # each socket subscribed before its handshake was answered (hub/web/agent_socket.py)
    # sam tries to view and type in anna's conversation; a visitor types in it
    await sockets["sam"].send_str(orjson.dumps({"type": "viewing", "conversation_id": w.conv}).decode())
    bus.publish("conversation.typing", {"conversation_id": w.conv, "visitor": True, "name": "Erika Geheim"})
    # a note in it mentions sam; the supervisor notes on it
    resp = await w.floor.act("anna", w.conv, "notes", text="@sam Anwalt", mentions=[w.floor.ids["sam"]])
    assert resp.status == 201
    bus.publish("conversation.opened", {"conversation_id": w.conv, "customer_id": w.customer})
    bus.publish("agent.presence", {"agent_id": "sentinel-1", "presence": "away"})
    sams = await _until(sockets["sam"], "sentinel-1")
    assert [e for e in sams if e["data"].get("conversation_id") == w.conv] == []
    assert [e["data"] for e in sams if e["topic"] == "conversation.opened"] == [{}], "that one came, no ids"
    bens = await _until(sockets["ben"], "sentinel-1")
    assert ("conversation.typing", "Erika Geheim") in {(e["topic"], e["data"].get("name")) for e in bens}

    await _until(sockets["anna"], "sentinel-1")  # she holds it: she heard all that
    # anna hands it to sales: she may no longer see it, so she no longer hears of it
    resp = await w.floor.act("anna", w.conv, "transfer", queue="sales")
    assert resp.status == 200, await resp.text()
    resp = await hub.client.post(
        f"/api/v1/conversations/{w.conv}/notes", headers=w.headers("supervisor"), json={"text": "nur Sales"}
    )
    assert resp.status == 201
    bus.publish("message.stored", {"conversation_id": w.conv, "message_id": "m-late"})
    bus.publish("agent.presence", {"agent_id": "sentinel-2", "presence": "away"})
    annas = await _until(sockets["anna"], "sentinel-2")
    after = [e["topic"] for e in annas if e["data"].get("conversation_id") == w.conv]
    assert "conversation.note" not in after and "message.stored" not in after, annas
    # sam serves sales: now he may see it, and he hears of it when he looks
    await sockets["sam"].send_str(orjson.dumps({"type": "viewing", "conversation_id": w.conv}).decode())
    await _next(sockets["sam"], "conversation.viewing")  # his own: the hub has read it
    bus.publish("message.stored", {"conversation_id": w.conv, "message_id": "m-sales"})
    bus.publish("agent.presence", {"agent_id": "sentinel-3", "presence": "away"})
    sams = await _until(sockets["sam"], "sentinel-3")
    assert ("message.stored", w.conv) in {(e["topic"], e["data"].get("conversation_id")) for e in sams}
    for ws in sockets.values():
        await ws.close()
