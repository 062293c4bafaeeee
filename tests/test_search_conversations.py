"""A conversation's tags, department and (where no message carries it) subject are found
by words, on both backends, like messages: word forms, umlauts and their spellings.
One document per conversation (``v:<id>``), re-indexed in the transaction that changes
them (rules, agents' tags, a reopen, retention), moved by merges, gone after erasure,
rebuilt by ``contacthub reindex-search``; found only by who may open the conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from hub.customers.privacy import apply_retention
from hub.keys import QUEUE, STORE
from hub.model import ConversationStatus, ThreadHint
from hub.settings import Settings
from hub.store import search_index
from hub.store.engine import Store
from hub.store.ingest_batch import store_batch
from hub.store.tables import conversations, search_docs
from tests.conftest import HubClient
from tests.helpers import inbound
from tests.routing.test_router_service import Floor
from tests.test_search import T0, find, ingest, message
from tests.waits import eventually


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    store = Store(settings.database)
    await store.migrate()
    yield store
    await store.close()


RULES = """
queues:
  service: {reservation_timeout: 60}
  sales: {}
rules:
  - name: sales
    when: subject == "sales"
    targets: [{queue: sales, agents: '"sales" in departments'}]
  - name: everyone
    actions: {tag: Stammkunde, set_department: Buchhaltung}
    targets: [{queue: service, agents: '"service" in departments'}]
"""


async def _search(floor: Floor, who: str, q: str) -> list[dict[str, Any]]:
    resp = await floor.hub.client.get("/api/v1/search", params={"q": q}, headers=floor.headers[who])
    body = await resp.json()
    assert resp.status == 200, body
    items: list[dict[str, Any]] = body["items"]
    return items


async def _conversation_hits(floor: Floor, who: str, q: str) -> list[str]:
    return [i["conversation_id"] for i in await _search(floor, who, q) if i["kind"] == "conversation"]


async def test_tags_and_departments_find_the_conversation_for_who_may_open_it(hub: HubClient) -> None:
    floor = await Floor(hub).start(RULES)
    await floor.agent("anna", departments=["service"], teams=["blue"])
    await floor.agent("sam", available=False, departments=["sales"], teams=["red"])
    await floor.arrive("t1")
    offers = await eventually(lambda: floor.mine("anna", "offered"), what="an offer to anna")
    conv = offers[0]["id"]
    assert (await floor.act("anna", conv, "accept")).status == 200

    # the rule's department and tag, in other word forms
    [hit] = await _search(floor, "anna", "Buchhaltungen")
    assert hit["kind"] == "conversation" and hit["conversation_id"] == conv and hit["message_id"] is None
    assert hit["snippet"] == "<mark>Buchhaltung</mark>" and hit["channel"] == "api"
    assert await _conversation_hits(floor, "anna", "Stammkunden") == [conv]
    # an agent's tag, its umlaut spelt out
    resp = await hub.client.post(
        f"/api/v1/conversations/{conv}/tags", json={"tag": "Rückruf"}, headers=floor.headers["anna"]
    )
    assert resp.status == 200, await resp.text()
    [hit] = await _search(floor, "anna", "Rueckruf")
    assert hit["conversation_id"] == conv and hit["snippet"] == "Stammkunde, <mark>Rückruf</mark>"
    # who may not open it finds nothing; a supervisor finds it
    assert await _search(floor, "sam", "Buchhaltung") == []
    assert await _search(floor, "sam", "Rückruf") == []
    assert await _conversation_hits(floor, "supervisor", "Rückruf") == [conv]
    # the conversation list narrows by the same words
    resp = await hub.client.get(
        "/api/v1/conversations", params={"q": "Rückruf"}, headers=floor.headers["anna"]
    )
    assert [c["id"] for c in (await resp.json())["items"]] == [conv]

    # tags replaced, then one removed: the index follows in the same transaction
    resp = await hub.client.put(
        f"/api/v1/conversations/{conv}/tags", json={"tags": ["Eilig"]}, headers=floor.headers["anna"]
    )
    assert resp.status == 200, await resp.text()
    assert await _search(floor, "anna", "Rückruf") == []
    assert await _search(floor, "anna", "Stammkunde") == []
    assert await _conversation_hits(floor, "anna", "eilig") == [conv]
    resp = await hub.client.delete(f"/api/v1/conversations/{conv}/tags/Eilig", headers=floor.headers["anna"])
    assert resp.status == 200, await resp.text()
    assert await _search(floor, "anna", "eilig") == []
    assert await _conversation_hits(floor, "anna", "Buchhaltung") == [conv], "the department stays"

    # reindex-search builds the conversation documents too
    async with hub.app[STORE].write() as conn:
        await conn.execute(sa.delete(search_docs))
    await search_index.rebuild(hub.app[STORE])
    assert await _conversation_hits(floor, "anna", "Buchhaltung") == [conv]

    # erasure: no document of the conversation remains
    async with hub.app[STORE].read() as conn:
        customer = await conn.scalar(sa.select(conversations.c.customer_id).where(conversations.c.id == conv))
    resp = await hub.client.delete(
        f"/api/v1/customers/{customer}", params={"confirm": customer}, headers=floor.headers["admin"]
    )
    assert resp.status in (200, 204), await resp.text()
    assert await _search(floor, "supervisor", "Buchhaltung") == []
    async with hub.app[STORE].read() as conn:
        left = await conn.scalar(
            sa.select(sa.func.count()).where(
                sa.or_(search_docs.c.customer_id == customer, search_docs.c.conversation_id == conv)
            )
        )
    assert left == 0
    # an agent may still tag the erased customer's conversation: it stays out of the index
    resp = await hub.client.post(
        f"/api/v1/conversations/{conv}/tags", json={"tag": "Nachher"}, headers=floor.headers["supervisor"]
    )
    assert resp.status in (200, 404), await resp.text()
    assert await _search(floor, "supervisor", "Nachher") == []


async def _set_route(store: Store, conv: str, route: dict[str, Any]) -> None:
    async with store.write() as conn:
        await conn.execute(sa.update(conversations).where(conversations.c.id == conv).values(route=route))
        await search_index.refresh_conversations(conn, [conv])


async def test_a_subject_no_message_carries_is_found_until_retention(store: Store) -> None:
    convs = await ingest(
        store,
        message("mail", "Siehe Betreff", subject="Kündigung zum Monatsende", days=-100),
        message("sms", "Bitte zurückrufen", thread="sms", days=-100),
    )
    # the mail's subject is indexed with the mail: the conversation adds only the department
    await _set_route(store, convs["mail"], {"subject": "Kündigung zum Monatsende", "department": "Vertrieb"})
    assert [h.kind for h in await find(store, "Kündigungen")] == ["message"]
    assert [h.conversation_id for h in await find(store, "Vertrieb")] == [convs["mail"]]
    # a subject no message carries (here: routing state the SMS never had) is the conversation's
    await _set_route(store, convs["sms"], {"subject": "Rueckrufbitte Lieferung", "language": "de"})
    [hit] = await find(store, "Rückrufbitte")
    assert (hit.kind, hit.conversation_id, hit.message_id) == ("conversation", convs["sms"], None)
    assert hit.texts == ("Rueckrufbitte Lieferung",)
    # retention takes the routing state's copy of the old first message, and its words
    async with store.write() as conn:
        await apply_retention(conn, T0 + timedelta(days=1), days=30)
    assert await find(store, "Rückrufbitte") == []
    assert await find(store, "Kündigung") == []
    assert [h.conversation_id for h in await find(store, "Vertrieb")] == [convs["mail"]]
    async with store.read() as conn:
        routes = dict((await conn.execute(sa.select(conversations.c.id, conversations.c.route))).all())
    assert routes[convs["sms"]] == {"language": "de"} and routes[convs["mail"]] == {"department": "Vertrieb"}


async def test_a_reopened_conversation_keeps_its_tags_in_the_index_not_its_department(store: Store) -> None:
    convs = await ingest(store, message("first", "Hallo"))
    conv = convs["first"]
    await _set_route(store, conv, {"department": "Vertrieb", "tags": ["Stammkunde"]})
    assert [h.conversation_id for h in await find(store, "Stammkunden")] == [conv]
    answer = replace(
        message("again", "Noch eine Frage"), thread_hint=ThreadHint(key="again", conversation=conv[:8])
    )
    async with store.write() as conn:
        await conn.execute(
            sa.update(conversations)
            .where(conversations.c.id == conv)
            .values(status=ConversationStatus.CLOSED, open_key=None, closed_at=T0)
        )
        result = await store_batch(conn, [answer], T0 + timedelta(hours=1), reopen_within=timedelta(days=7))
    assert [s.conversation_id for s in result.stored] == [conv]
    assert await find(store, "Vertrieb") == []
    assert [h.conversation_id for h in await find(store, "Stammkunde")] == [conv]
    async with store.read() as conn:
        route = await conn.scalar(sa.select(conversations.c.route).where(conversations.c.id == conv))
    assert route == {"tags": ["Stammkunde"]}  # routed afresh: the rules decide the rest


async def test_an_agents_tags_outlive_the_customers_reopening(hub: HubClient) -> None:
    """The customer writes again after the close: the conversation is routed afresh (the
    rules' tag and department again) and keeps the tag the agent gave it."""
    floor = await Floor(hub).start(RULES)
    await floor.agent("anna", departments=["service"], teams=["blue"])
    await hub.app[QUEUE].append(inbound("r1", "r@example.com", thread="order-7"))
    [offer] = await eventually(lambda: floor.mine("anna", "offered"), what="an offer to anna")
    conv = offer["id"]
    assert (await floor.act("anna", conv, "accept")).status == 200
    resp = await hub.client.post(
        f"/api/v1/conversations/{conv}/tags", json={"tag": "Rückruf"}, headers=floor.headers["anna"]
    )
    assert resp.status == 200, await resp.text()
    assert (await floor.act("anna", conv, "close")).status == 200

    answer = inbound("r2", "r@example.com", thread="order-7", text="Noch was")
    await hub.app[QUEUE].append(replace(answer, thread_hint=ThreadHint(key="reply", conversation=conv[:8])))
    [again] = await eventually(lambda: floor.mine("anna", "offered"), what="the reopened one offered")
    assert again["id"] == conv and again["queue"] == "service"
    assert again["tags"] == ["Stammkunde", "Rückruf"] and again["department"] == "Buchhaltung"
    assert await _conversation_hits(floor, "anna", "Rueckruf") == [conv]
