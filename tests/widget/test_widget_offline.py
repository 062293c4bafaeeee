"""Offline mode (business hours, nobody free), the offline form as a routed conversation,
and visitors' files within the site's limits."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from hub.keys import STORE
from hub.store.tables import conversations, identities
from tests.conftest import HubClient, sign_in_all
from tests.widget.conftest import ORIGIN, Visitor, chat_agent, make_site
from tests.widget.test_widget_socket import conversation_of

NEVER_OPEN = {"timezone": "Europe/Berlin", "open": {}}


async def test_the_widget_follows_business_hours_and_who_is_free(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    closed = await make_site(hub, roles["admin"], name="Closed", settings={"hours": NEVER_OPEN})
    open_site = await make_site(hub, roles["admin"], name="Open")
    night = Visitor(hub, closed["key"])
    assert (await night.connect())["offline_reason"] == "closed"

    visitor = Visitor(hub, open_site["key"])
    welcome = await visitor.connect()
    assert (welcome["offline"], welcome["offline_reason"]) == (True, "no_agents")
    anna = await chat_agent(hub, presence="offline")
    resp = await hub.client.put("/api/v1/me/presence", json={"presence": "available"}, headers=anna)
    assert resp.status == 200
    came = await visitor.next("offline_mode")
    assert (came["offline"], came["reason"]) == (False, None)
    await hub.client.put("/api/v1/me/presence", json={"presence": "away"}, headers=anna)
    went = await visitor.next("offline_mode")
    assert (went["offline"], went["reason"]) == (True, "no_agents")
    await night.close()
    await visitor.close()


async def test_a_message_left_offline_becomes_a_routed_conversation(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    site = await make_site(
        hub,
        roles["admin"],
        settings={
            "hours": NEVER_OPEN,
            "departments": [{"id": "sales", "label": {"de": "Vertrieb", "en": "Sales"}}],
        },
    )
    visitor = Visitor(hub, site["key"])
    await visitor.connect(language="de")
    await visitor.send(type="leave_message", id="offline-0001", text="Bitte um Rückruf")
    assert (await visitor.next("error"))["code"] == "contact_required"
    await visitor.send(
        type="leave_message",
        id="offline-0002",
        text="Bitte um Rückruf",
        email="x@kunde.example",
        department="hr",
    )
    assert (await visitor.next("error"))["code"] == "bad_frame", "a department the site does not offer"
    await visitor.send(
        type="leave_message",
        id="offline-0003",
        text="Bitte um Rückruf",
        name="Kai",
        email="Kai@Kunde.example",
        department="sales",
    )
    ack = await visitor.next("ack")
    assert ack["id"] == "offline-0003"
    conv = await conversation_of(hub, visitor)
    async with asyncio.timeout(20):  # the router takes it like any other conversation
        while True:
            async with hub.app[STORE].read() as conn:
                row = (
                    await conn.execute(sa.select(conversations).where(conversations.c.id == conv.id))
                ).one()
            if row.route:
                break
            await asyncio.sleep(0.05)
    assert row.route["department"] == "sales" and row.route["language"] == "de"
    async with hub.app[STORE].read() as conn:
        email_owner = await conn.scalar(
            sa.select(identities.c.customer_id).where(identities.c.value == "kai@kunde.example")
        )
    assert email_owner is None, "the contact left is a claim for the agent, not an identity"
    detail = await (await hub.client.get(f"/api/v1/conversations/{conv.id}", headers=roles["admin"])).json()
    meta = detail["messages"][0]["meta"]
    assert (meta["offline"], meta["reply_email"]) == ("1", "Kai@Kunde.example")
    assert meta["claimed_email"] == "kai@kunde.example"
    await visitor.close()


async def test_files_keep_to_the_sites_limits_and_links_are_signed(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    site = await make_site(
        hub, roles["admin"], settings={"uploads": {"max_bytes": 2048, "types": ["image/png"]}}
    )
    visitor = Visitor(hub, site["key"])
    await visitor.connect()
    await visitor.say("first")  # now the visitor has a token

    async def upload(data: bytes, content_type: str, token: str | None = visitor.token) -> object:
        form = __import__("aiohttp").FormData()
        form.add_field("file", data, filename="zähler.png", content_type=content_type)
        headers = {"Origin": ORIGIN, **({"Authorization": f"Visitor {token}"} if token else {})}
        return await hub.client.post(f"/widget/uploads?site={site['key']}", data=form, headers=headers)

    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    assert (await upload(png, "image/png", token=None)).status == 401  # type: ignore[attr-defined]
    assert (await upload(png, "application/pdf")).status == 415  # type: ignore[attr-defined]
    assert (await upload(b"\0" * 4096, "image/png")).status == 413  # type: ignore[attr-defined]
    preflight = await hub.client.options(
        f"/widget/uploads?site={site['key']}", headers={"Origin": "https://evil.example"}
    )
    assert preflight.status == 403
    ok = await upload(png, "image/png")
    assert ok.status == 201 and ok.headers["Access-Control-Allow-Origin"] == ORIGIN  # type: ignore[attr-defined]
    stored = await ok.json()  # type: ignore[attr-defined]
    assert (stored["name"], stored["size"]) == ("zähler.png", len(png))

    other = Visitor(hub, site["key"])  # another visitor cannot send this upload
    await other.connect()
    await other.say("hi")
    await other.send(type="message", id="steal-0001", text="", attachments=[{"upload": stored["upload"]}])
    assert (await other.next("error"))["code"] == "bad_upload"

    await visitor.say("mein Zähler", attachments=[{"upload": stored["upload"]}])
    event = await visitor.next("message")
    while event["text"] != "mein Zähler":
        event = await visitor.next("message")
    [file] = event["attachments"]
    got = await hub.client.get(file["url"])
    assert got.status == 200 and await got.read() == png and got.headers["Content-Type"] == "image/png"
    forged = file["url"].rsplit("sig=", 1)[0] + "sig=" + "0" * 32
    assert (await hub.client.get(forged)).status == 404
    conv = await conversation_of(hub, visitor)
    for _ in range(100):  # the echo comes on accepting; the worker may not have stored it yet
        url = f"/api/v1/conversations/{conv.id}"
        detail = await (await hub.client.get(url, headers=roles["admin"])).json()
        if any(m["text"] == "mein Zähler" for m in detail["messages"]):
            break
        await asyncio.sleep(0.05)
    assert [a["filename"] for m in detail["messages"] for a in m["attachments"]] == ["zähler.png"]
    await visitor.close()
    await other.close()
