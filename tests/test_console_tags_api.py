"""What the console shows of routing and key accounts, on both backends: a conversation's
tags (set by rules, added and removed by agents within what they may see, audited,
filterable, offered for autocomplete), and a key account manager's own accounts."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hub.keys import RECORDS, STORE
from hub.store.tables import events
from tests.conftest import HubClient
from tests.routing.test_router_service import Floor
from tests.waits import eventually

RULES = """
queues:
  service: {reservation_timeout: 60}
  sales: {}
rules:
  - name: sales
    when: subject == "sales"
    targets: [{queue: sales, agents: '"sales" in departments'}]
  - name: everyone
    actions: {tag: neukunde, set_department: service}
    targets: [{queue: service, agents: '"service" in departments'}]
"""


async def _one(floor: Floor, name: str) -> dict[str, Any]:
    offers = await eventually(lambda: floor.mine(name, "offered"), what=f"an offer to {name}")
    return offers[0]


async def _tags(floor: Floor, who: str, method: str, conv_id: str, path: str = "", **body: Any) -> Any:
    url = f"/api/v1/conversations/{conv_id}/tags{path}"
    call = getattr(floor.hub.client, method)
    kwargs = {"json": body} if method in ("post", "put") else {}
    return await call(url, headers=floor.headers[who], **kwargs)


async def test_rule_tags_show_and_agents_add_and_remove_tags_within_their_view(hub: HubClient) -> None:
    floor = await Floor(hub).start(RULES)
    await floor.agent("anna", departments=["service"], teams=["blue"])
    await floor.agent("sam", available=False, departments=["sales"], teams=["red"])
    await floor.arrive("t1")
    conv = await _one(floor, "anna")
    assert conv["tags"] == ["neukunde"] and conv["department"] == "service", "the rule's tag and department"

    resp = await _tags(floor, "anna", "post", conv["id"], tag="  Rückruf ")
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["tags"] == ["neukunde", "Rückruf"]
    again = await _tags(floor, "anna", "post", conv["id"], tag="Rückruf")
    assert (await again.json())["tags"] == ["neukunde", "Rückruf"], "a tag is there once"

    # sam serves another queue and team: he may not see it, so he may not tag it either
    for method, path, body in (
        ("post", "", {"tag": "x"}),
        ("delete", "/neukunde", {}),
        ("put", "", {"tags": []}),
    ):
        denied = await _tags(floor, "sam", method, conv["id"], path, **body)
        assert denied.status == 404, f"{method}: {await denied.text()}"
    listed = await hub.client.get(f"/api/v1/conversations/{conv['id']}", headers=floor.headers["anna"])
    assert (await listed.json())["tags"] == ["neukunde", "Rückruf"], "sam changed nothing"

    # bad text: 422 with the field named (a NUL, which no database stores, is a 400 anywhere)
    for bad, status in (("", 422), ("   ", 422), ("x" * 41, 422), ("zeile\nzwei", 422), ("nul\x00", 400)):
        resp = await _tags(floor, "anna", "post", conv["id"], tag=bad)
        assert resp.status == status, repr(bad)
        assert (await resp.json())["field"] == "tag"
    resp = await _tags(floor, "anna", "post", conv["id"], tag="rtl\u202e")
    assert resp.status == 422 and (await resp.json())["field"] == "tag"
    too_many = await _tags(floor, "anna", "put", conv["id"], tags=[f"t{n}" for n in range(21)])
    assert too_many.status == 422

    # the filter and the autocomplete list
    resp = await hub.client.get("/api/v1/conversations?tag=R%C3%BCckruf", headers=floor.headers["anna"])
    assert [c["id"] for c in (await resp.json())["items"]] == [conv["id"]]
    resp = await hub.client.get("/api/v1/conversations?tag=anderes", headers=floor.headers["anna"])
    assert (await resp.json())["items"] == []
    resp = await hub.client.get("/api/v1/conversations?tag=%0A", headers=floor.headers["anna"])
    assert resp.status == 422
    resp = await hub.client.get("/api/v1/tags", headers=floor.headers["anna"])
    assert (await resp.json())["items"] == ["neukunde", "Rückruf"]
    resp = await hub.client.get("/api/v1/tags", headers=floor.headers["sam"])
    assert (await resp.json())["items"] == ["neukunde"], "only the rules' tags: sam sees no conversation"

    resp = await _tags(floor, "anna", "delete", conv["id"], "/neukunde")
    assert resp.status == 200 and (await resp.json())["tags"] == ["Rückruf"]
    resp = await _tags(floor, "supervisor", "put", conv["id"], tags=["a/b", "vip"])
    assert resp.status == 200 and (await resp.json())["tags"] == ["a/b", "vip"]
    resp = await _tags(floor, "supervisor", "delete", conv["id"], "/a%2Fb")
    assert (await resp.json())["tags"] == ["vip"]
    missing = await _tags(floor, "supervisor", "post", "no-such-conversation", tag="x")
    assert missing.status == 404

    async with hub.app[STORE].read() as conn:
        logged = (
            await conn.execute(
                sa.select(events.c.actor, events.c.data, events.c.customer_id)
                .where(events.c.action == "conversation.tagged", events.c.subject_id == conv["id"])
                .order_by(events.c.id)
            )
        ).all()
    assert [e.data["added"] for e in logged] == [["Rückruf"], [], ["a/b", "vip"], []]
    assert [e.data["removed"] for e in logged] == [[], ["neukunde"], ["Rückruf"], ["a/b"]]
    assert logged[0].actor == f"agent:{floor.ids['anna']}" and logged[0].customer_id == conv["customer_id"]


async def test_a_key_account_manager_lists_their_own_accounts(hub: HubClient) -> None:
    floor = await Floor(hub).start(RULES)
    kam = await floor.agent("kim", departments=["service"], teams=["blue"])
    other = await floor.agent("ole", available=False, departments=["service"], teams=["red"])
    await floor.presence("kim", "away")
    async with hub.app[STORE].write() as conn:
        account = await hub.app[RECORDS].create(
            conn,
            {
                "name": "Erika",
                "organisation": "Muster AG",
                "key_account": True,
                "key_account_manager_id": kam,
                "revenue": {"revenue_12m": {"amount": 250000, "currency": "EUR"}},
            },
            [("email", "t2@example.com")],
            "test",
        )
    await floor.arrive("t2")  # from the account: waits in service, which kim serves

    async def open_one() -> Any:
        resp = await hub.client.get(f"/api/v1/agents/{kam}/key-accounts", headers=floor.headers["kim"])
        assert resp.status == 200, await resp.text()
        items = (await resp.json())["items"]
        waiting = items and items[0]["open_conversations"]
        return items if waiting and waiting[0].get("queue") == "service" else None  # routed: hers to see

    items = await eventually(open_one, what="the account's open conversation")
    assert [i["id"] for i in items] == [account]
    first = items[0]
    assert first["organisation"] == "Muster AG" and first["revenue"]["revenue_12m"]["amount"] == 250000
    assert first["last_contact_at"] is not None
    assert first["open_conversations"][0]["visible"] is True

    # another agent may not list kim's accounts; supervisors and admins may
    denied = await hub.client.get(f"/api/v1/agents/{kam}/key-accounts", headers=floor.headers["ole"])
    assert denied.status == 403
    for role in ("supervisor", "admin"):
        resp = await hub.client.get(f"/api/v1/agents/{kam}/key-accounts", headers=floor.headers[role])
        assert resp.status == 200 and [i["id"] for i in (await resp.json())["items"]] == [account]
    resp = await hub.client.get(f"/api/v1/agents/{other}/key-accounts", headers=floor.headers["ole"])
    assert resp.status == 200 and (await resp.json())["items"] == []
    resp = await hub.client.get("/api/v1/agents/nobody/key-accounts", headers=floor.headers["admin"])
    assert resp.status == 404
