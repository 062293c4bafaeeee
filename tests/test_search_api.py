"""``GET /api/v1/search`` and ``GET /api/v1/conversations?q=`` on both backends, on the
visibility floor of tests/test_visibility.py: an agent never finds what they may not
open; a search is audited as a read; bad input is a 4xx, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from hub.keys import STORE
from hub.store.tables import events
from tests.conftest import HubClient, sign_in_all
from tests.test_visibility import World, world


async def search(w: World, who: str, expect: int = 200, **params: Any) -> dict[str, Any]:
    resp = await w.floor.hub.client.get("/api/v1/search", params=params, headers=w.headers(who))
    body: dict[str, Any] = await resp.json()
    assert resp.status == expect, body
    return body


def convs(body: dict[str, Any]) -> set[str | None]:
    return {item["conversation_id"] for item in body["items"]}


async def test_search_follows_the_visibility_rule_and_is_audited(hub: HubClient) -> None:
    w = await world(hub)
    # anna holds A's conversation: its message and her note are hers to find
    found = await search(w, "anna", q="Vertrag")
    assert convs(found) == {w.conv}
    [item] = found["items"]
    assert "<mark>Vertrag</mark>" in item["snippet"] and item["message_id"] and item["channel"] == "api"
    assert item["customer"]["id"] == w.customer and item["rank"] > 0
    assert found["facets"]["channel"] == {"api": 1} and found["next"] is None
    assert convs(await search(w, "anna", q="Anwalt")) == {w.conv}  # an internal note
    assert (await search(w, "anna", q="Anwalt"))["items"][0]["kind"] == "note"
    # ... and her teammate ben's; sam's is only A's sales conversation waiting on his queue
    assert convs(await search(w, "ben", q="Vertrag Anwalt -nichts")) == set()  # no single doc has both
    assert convs(await search(w, "ben", q="Vertrag")) == {w.conv}
    assert convs(await search(w, "sam", q="Vertrag")) == set()
    assert convs(await search(w, "sam", q="Anwalt")) == set()
    assert convs(await search(w, "sam", q="Angebot")) == {w.sales}
    assert convs(await search(w, "anna", q="Angebot")) == set()
    for role in ("supervisor", "admin"):
        assert convs(await search(w, role, q="Vertrag OR Angebot")) == set()  # OR is a word, not an operator
        assert convs(await search(w, role, q="Angebot")) == {w.sales}
    # the same search narrows the conversation list
    resp = await hub.client.get("/api/v1/conversations", params={"q": "Vertrag"}, headers=w.headers("anna"))
    assert [c["id"] for c in (await resp.json())["items"]] == [w.conv]
    resp = await hub.client.get("/api/v1/conversations", params={"q": "Vertrag"}, headers=w.headers("sam"))
    assert (await resp.json())["items"] == []
    # every search that showed a customer is a read of that customer, query and all
    async with hub.app[STORE].read() as conn:
        reads = (
            await conn.execute(
                sa.select(events.c.actor, events.c.customer_id, events.c.data).where(
                    events.c.action == "audit.search"
                )
            )
        ).all()
    anna = {r.data["q"] for r in reads if r.customer_id == w.customer and r.actor != "x"}
    assert {"Vertrag", "Anwalt", "Angebot"} <= anna
    count = await hub.client.get("/api/v1/search/count", params={"q": "Vertrag"}, headers=w.headers("anna"))
    assert (await count.json()) == {"count": 1, "capped": False}


async def test_pages_follow_the_cursor(hub: HubClient) -> None:
    w = await world(hub)
    first = await search(w, "supervisor", q="example", limit=1)  # in each customer's identity
    seen = [first["items"][0]]
    cursor = first["next"]
    while cursor:
        page = await search(w, "supervisor", q="example", limit=1, cursor=cursor)
        seen += page["items"]
        cursor = page["next"]
    assert len(seen) >= 2 and len({(i["kind"], i["message_id"], i["customer"]["id"]) for i in seen}) == len(
        seen
    )


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"q": "-nur"}, 422, "q"),
        ({}, 422, "q"),
        ({"q": "x" * 501}, 422, "q"),
        ({"q": " ".join(f"w{i}" for i in range(9))}, 422, "q"),
        ({"q": "x", "cursor": "!!"}, 422, "cursor"),
        ({"q": "x", "cursor": "bzk5OTk5OTk5"}, 422, "cursor"),
        ({"q": "x", "from": "yesterday"}, 422, "from"),
        ({"q": "x", "to": "2026-12-01T00:00:00"}, 422, "to"),
        ({"q": "x", "key_account": "ja"}, 422, "key_account"),
        ({"q": "x", "limit": "0"}, 400, "limit"),
    ],
)
async def test_bad_input_is_named(hub: HubClient, params: dict[str, str], status: int, field: str) -> None:
    headers = (await sign_in_all(hub))["agent"]
    resp = await hub.client.get("/api/v1/search", params=params, headers=headers)
    body = await resp.json()
    assert resp.status == status and body.get("field", field) == field, body
