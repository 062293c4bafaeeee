"""Product feedback on both backends: agents mark an SMS and an email as feedback, a rule
marks a message that arrives, the R&D view lists and counts them for supervisors and the
R&D department only, and only what a customer wrote can be feedback."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hub.keys import STORE
from hub.store.tables import events, messages
from tests.connectors.conftest import TOKEN, signed_post, sms_params
from tests.outreach.conftest import World, add_agent, phone
from tests.waits import eventually


async def stored(world: World, **where: Any) -> Any:
    async def found() -> Any:
        async with world.hub.app[STORE].read() as conn:
            clauses = [getattr(messages.c, k) == v for k, v in where.items()]
            return (await conn.execute(sa.select(messages).where(*clauses))).first()

    return await eventually(found, what=f"a message with {where}")


async def test_marked_messages_reach_the_rnd_view(world: World) -> None:
    sms = await signed_post(
        world.hub,
        "/webhooks/twilio/sms",
        sms_params("SM-fb-1", "Die Wärmepumpe brummt nachts sehr laut.", sender=phone(1)),
        token=TOKEN,
        signed_url="https://hub.example.com/webhooks/twilio/sms",
    )
    assert sms.status == 200
    resp = await world.hub.post_message(
        {
            "external_id": "fb-mail-1",
            "from": {"kind": "email", "value": "kunde@example.com"},
            "text": "Die App stürzt ab.",
        }
    )
    assert resp.status == 202
    by_sms = await stored(world, channel="sms", direction="in")
    by_api = await stored(world, external_id="fb-mail-1")
    for found in (by_sms, by_api):  # waiting on the service queue: the agent serves it

        async def routed(conv_id: str = found.conversation_id) -> bool:
            return (await world.row(conv_id)).queue == "service"

        await eventually(routed, what="the conversation on the service queue")

    async def mark(message_id: str, role: str = "agent", **body: Any) -> tuple[int, Any]:
        return await world.post(f"/api/v1/messages/{message_id}/feedback", body, role)

    status, marked = await mark(by_sms.id, product="Wärmepumpe", theme="Geräusch")
    assert status == 200, marked
    status, _ = await mark(by_api.id, product="App", theme="Absturz")
    assert status == 200
    status, again = await mark(by_api.id, product="App", theme="Login")  # changed, not doubled
    assert status == 200 and again["theme"] == "Login"

    _, rnd = await add_agent(world, "rita", ["rnd"])
    world.roles["rnd"] = rnd
    for role, reads in (("agent", False), ("rnd", True), ("supervisor", True)):
        resp = await world.hub.client.get("/api/v1/feedback/access", headers=world.roles[role])
        assert (await resp.json())["reads"] is reads, role
    refused = await world.hub.client.get("/api/v1/feedback", headers=world.roles["agent"])
    assert refused.status == 403 and "rnd" in (await refused.json())["detail"]
    view = await (await world.hub.client.get("/api/v1/feedback", headers=world.roles["rnd"])).json()
    assert [(i["channel"], i["product"], i["theme"]) for i in view["items"]] == [
        ("api", "App", "Login"),
        ("sms", "Wärmepumpe", "Geräusch"),
    ]
    assert view["items"][1]["text"] == "Die Wärmepumpe brummt nachts sehr laut."
    assert view["items"][1]["conversation_id"] == by_sms.conversation_id
    assert {r["value"]: r["count"] for r in view["counts"]["channel"]} == {"api": 1, "sms": 1}
    assert sum(w["count"] for w in view["weeks"]) == 2
    only = await (
        await world.hub.client.get("/api/v1/feedback?product=App", headers=world.roles["rnd"])
    ).json()
    assert [i["message_id"] for i in only["items"]] == [by_api.id]
    paged = await (await world.hub.client.get("/api/v1/feedback?limit=1", headers=world.roles["rnd"])).json()
    assert len(paged["items"]) == 1 and paged["next"]
    rest = await world.hub.client.get(
        "/api/v1/feedback", params={"limit": "1", "cursor": paged["next"]}, headers=world.roles["rnd"]
    )
    assert [i["message_id"] for i in (await rest.json())["items"]] == [by_sms.id]
    # the R&D agent reads the feedback, not the conversation behind it
    opened = await world.hub.client.get(
        f"/api/v1/conversations/{by_sms.conversation_id}", headers=world.roles["rnd"]
    )
    assert opened.status == 404
    async with world.hub.app[STORE].read() as conn:
        audited = await conn.scalar(
            sa.select(sa.func.count()).where(
                events.c.action == "audit.read", events.c.subject_type == "feedback"
            )
        )
        timeline = (
            await conn.execute(
                sa.select(events).where(events.c.action == "message.feedback").order_by(events.c.id)
            )
        ).all()
    assert audited >= 4 and timeline[0].data["product"] == "Wärmepumpe"

    # only what a customer wrote; someone who may not see it cannot mark it; unmarking
    status, body = await mark(by_sms.id, role="rnd", product="X")
    assert status == 404
    status, body = await mark(by_sms.id, product="  ")
    assert status == 422 and body["field"] == "product"
    resp = await world.hub.client.delete(
        f"/api/v1/messages/{by_api.id}/feedback", headers=world.roles["agent"]
    )
    assert resp.status == 200
    resp = await world.hub.client.delete(
        f"/api/v1/messages/{by_api.id}/feedback", headers=world.roles["agent"]
    )
    assert resp.status == 404


async def test_a_rule_marks_feedback_as_it_arrives(world: World) -> None:
    refused = await world.hub.client.put(
        "/api/v1/automations",
        data="automations:\n- {name: x, trigger: closed, actions: [{feedback: {product: App}}]}\n",
        headers={**world.roles["admin"], "Content-Type": "application/yaml"},
    )
    assert refused.status == 422
    assert (await refused.json())["errors"][0]["field"] == "automations[0].actions[0].feedback"
    saved = await world.hub.client.put(
        "/api/v1/automations",
        data=(
            "automations:\n- name: app feedback\n  trigger: message_received\n"
            "  when: 'message.text =~~ \"(?i)\\\\bapp\\\\b\"'\n"
            "  actions: [{feedback: {product: App, theme: aus dem Eingang}}]\n"
        ),
        headers={**world.roles["admin"], "Content-Type": "application/yaml"},
    )
    assert saved.status == 200, await saved.text()
    resp = await world.hub.post_message(
        {
            "external_id": "fb-rule-1",
            "from": {"kind": "email", "value": "k2@example.com"},
            "text": "Ihre App ist toll",
        }
    )
    assert resp.status == 202
    message = await stored(world, external_id="fb-rule-1")

    async def marked() -> Any:
        view = await (
            await world.hub.client.get("/api/v1/feedback", headers=world.roles["supervisor"])
        ).json()
        return view["items"] or None

    (item,) = await eventually(marked, what="the rule's mark in the R&D view")
    assert (item["message_id"], item["product"], item["theme"]) == (message.id, "App", "aus dem Eingang")
    assert item["marked_by"].startswith("automation:app feedback@")
