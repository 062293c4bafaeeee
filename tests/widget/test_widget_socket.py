"""/ws/widget on both backends: the conversation so far, idempotent messages, resume,
agents' replies live, who may read what, the Origin check and the rate limit."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from hub.keys import BUS, STORE
from hub.settings import Settings
from hub.store.tables import conversations, messages, outbox, widget_feed
from hub.widget.feed import TOPIC as FEED
from tests.conftest import HubClient, require_services, running_hub, sign_in_all
from tests.waits import eventually
from tests.widget.conftest import Visitor, chat_agent, make_site


async def conversation_of(hub: HubClient, visitor: Visitor, timeout: float = 20) -> Any:
    """The visitor's chat conversation, once ingest has stored their message."""
    async with asyncio.timeout(timeout):
        while True:
            async with hub.app[STORE].read() as conn:
                row = (
                    await conn.execute(
                        sa.select(conversations)
                        .join(messages, messages.c.conversation_id == conversations.c.id)
                        .where(messages.c.sender_value == await visitor_id(hub, visitor))
                        .limit(1)
                    )
                ).one_or_none()
            if row is not None:
                return row
            await asyncio.sleep(0.05)


async def visitor_id(hub: HubClient, visitor: Visitor) -> str:
    from hub.store.tables import widget_visitors
    from hub.widget.visitors import digest

    assert visitor.token
    async with hub.app[STORE].read() as conn:
        return str(
            await conn.scalar(
                sa.select(widget_visitors.c.id).where(widget_visitors.c.token_hash == digest(visitor.token))
            )
        )


async def reply(hub: HubClient, headers: dict[str, str], conv_id: str, text: str) -> str:
    resp = await hub.client.post(
        f"/api/v1/conversations/{conv_id}/messages", json={"text": text}, headers=headers
    )
    assert resp.status == 202, await resp.text()
    return str((await resp.json())["id"])


async def test_a_visitor_chats_resumes_and_reloads_without_loss_or_repeats(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    site = await make_site(hub, roles["admin"])
    await chat_agent(hub)
    visitor = Visitor(hub, site["key"])
    welcome = await visitor.connect()
    assert welcome["visitor"] is None and welcome["events"] == [] and not welcome["offline"]
    assert welcome["settings"]["name"] == "Shop" and "secret" not in str(welcome["settings"])

    first = await visitor.say("Hallo, mein Zähler läuft rückwärts", client_id="client-0001")
    assert visitor.token, "the first message gives the visitor a token"
    again = await visitor.say("Hallo, mein Zähler läuft rückwärts", client_id="client-0001")  # a resend
    assert again["message_id"] == first["message_id"] and again["seq"] == first["seq"]
    conv = await conversation_of(hub, visitor)
    await asyncio.sleep(0.3)  # a window, not a wait: the resend must not be stored meanwhile
    async with hub.app[STORE].read() as conn:
        stored = await conn.scalar(
            sa.select(sa.func.count()).select_from(messages).where(messages.c.conversation_id == conv.id)
        )
        feed_rows = await conn.scalar(sa.select(sa.func.count()).select_from(widget_feed))
    assert (stored, feed_rows) == (1, 1), "a resent message is stored once and shown once"

    reply_id = await reply(hub, roles["admin"], conv.id, "Wir schauen nach.")
    live = await visitor.next("message")
    while live["from"] != "agent":
        live = await visitor.next("message")
    assert (live["id"], live["text"], live["name"]) == (reply_id, "Wir schauen nach.", "Admin")
    shown = live["seq"]
    await visitor.close()

    # while the socket is gone: two more replies; the resumed socket gets just those
    later = [await reply(hub, roles["admin"], conv.id, f"Nachricht {n}") for n in range(2)]

    async def fed_since_shown() -> bool:
        async with hub.app[STORE].read() as conn:
            fed = await conn.scalar(
                sa.select(sa.func.count()).select_from(widget_feed).where(widget_feed.c.seq > shown)
            )
        return fed == len(later)

    await eventually(fed_since_shown, what="the outbox to hand both replies to the feed")
    resumed = Visitor(hub, site["key"], visitor.token)
    back = await resumed.connect(last_seq=shown)
    assert [e["id"] for e in back["events"]] == later

    reloaded = Visitor(hub, site["key"], visitor.token)  # a new page: the whole conversation
    page = await reloaded.connect(last_seq=0)
    assert [(e["from"], e["text"]) for e in page["events"]] == [
        ("visitor", "Hallo, mein Zähler läuft rückwärts"),
        ("agent", "Wir schauen nach."),
        ("agent", "Nachricht 0"),
        ("agent", "Nachricht 1"),
    ]
    assert page["prechat_done"] and page["seq"] == page["events"][-1]["seq"]

    # the visitor reads them: the replies count as delivered
    await reloaded.send(type="read", seq=page["seq"])
    async with asyncio.timeout(10):
        while True:
            async with hub.app[STORE].read() as conn:
                states = set((await conn.execute(sa.select(outbox.c.status))).scalars())
            if states == {"delivered"}:
                break
            await asyncio.sleep(0.05)
    await resumed.close()
    await reloaded.close()


async def test_a_reply_the_bus_lost_reaches_the_open_socket_at_the_resync(
    hub: HubClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: a reply published while Redis was away never reached the visitor's open
    socket (only a reload showed it). At the bus's resync the socket sends what its
    feed holds after what it showed, once."""
    roles = await sign_in_all(hub)
    site = await make_site(hub, roles["admin"])
    visitor = Visitor(hub, site["key"])
    await visitor.connect()
    await visitor.say("Hallo?")
    conv = await conversation_of(hub, visitor)
    bus = hub.app[BUS]
    publish = bus.publish
    monkeypatch.setattr(bus, "publish", lambda topic, data: None)  # Redis is away: events are lost
    lost = await reply(hub, roles["admin"], conv.id, "Verloren gegangen?")
    await eventually(lambda: _fed(hub, lost), what="the reply in the widget's feed")
    monkeypatch.setattr(bus, "publish", publish)
    bus.resync()
    got = await visitor.next("message")
    while got["from"] != "agent":
        got = await visitor.next("message")
    assert (got["id"], got["text"]) == (lost, "Verloren gegangen?")
    after = await reply(hub, roles["admin"], conv.id, "Jetzt live")
    got = await visitor.next("message")
    assert got["id"] == after, "the caught-up reply is not sent twice"
    await visitor.close()


async def test_feed_items_arriving_out_of_order_are_all_shown_once(hub: HubClient) -> None:
    """Regression: items published by two processes can arrive in the other order than
    their seq; the socket dropped the lower one as 'sent before', so a reply never showed."""
    roles = await sign_in_all(hub)
    site = await make_site(hub, roles["admin"])
    visitor = Visitor(hub, site["key"])
    await visitor.connect()
    ack = await visitor.say("Hallo?")
    customer = (await conversation_of(hub, visitor)).customer_id
    bus = hub.app[BUS]
    for seq, text in ((ack["seq"] + 2, "zweite"), (ack["seq"] + 1, "erste"), (ack["seq"] + 2, "zweite")):
        item = {"type": "message", "seq": seq, "id": f"r{seq}", "from": "agent", "text": text}
        bus.publish(FEED, {"customer_id": customer, "event": item})
    shown: list[str] = []
    while len(shown) < 2:
        got = await visitor.next("message")
        shown += [got["text"]] if got["from"] == "agent" else []
    assert shown == ["zweite", "erste"]
    bus.publish(FEED, {"customer_id": customer, "event": {**item, "seq": ack["seq"] + 3, "id": "last"}})
    assert (await visitor.next("message"))["id"] == "last", "the repeated item was not shown again"
    await visitor.close()


async def _fed(hub: HubClient, reply_id: str) -> bool:
    async with hub.app[STORE].read() as conn:
        items = (await conn.execute(sa.select(widget_feed.c.data))).scalars().all()
    return any(item.get("id") == reply_id for item in items)


async def test_a_visitor_reads_only_their_own_conversation(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    site = await make_site(hub, roles["admin"])
    other_site = await make_site(hub, roles["admin"], name="Other shop")
    alice, bob = Visitor(hub, site["key"]), Visitor(hub, site["key"])
    await alice.connect()
    await alice.say("Alice's secret order number 4711")
    alice_conv = await conversation_of(hub, alice)
    await bob.connect()
    # Bob names Alice's conversation: the hub ignores it, his message opens his own
    await bob.say("hello", conversation_id=alice_conv.id, customer_id=alice_conv.customer_id)
    bob_conv = await conversation_of(hub, bob)
    assert bob_conv.id != alice_conv.id and bob_conv.customer_id != alice_conv.customer_id
    assert all("4711" not in str(f) for f in bob.frames), "Bob never sees Alice's messages"

    forged = Visitor(hub, site["key"], "not-a-token-we-issued")
    assert (await forged.connect())["visitor"] is None
    assert forged.welcome["events"] == []
    elsewhere = Visitor(hub, other_site["key"], alice.token)  # Alice's token on another site
    await elsewhere.connect(origin="https://shop.example")
    assert elsewhere.welcome["visitor"] is None and elsewhere.welcome["events"] == []
    reread = Visitor(hub, site["key"], bob.token)
    assert all("4711" not in e["text"] for e in (await reread.connect())["events"])
    for v in (alice, bob, forged, elsewhere, reread):
        await v.close()


async def test_origins_unknown_sites_and_bad_first_frames_are_refused(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    site = await make_site(hub, roles["admin"])
    for headers in ({"Origin": "https://evil.example"}, {}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await hub.client.ws_connect(f"/ws/widget?site={site['key']}", headers=headers)
        assert refused.value.status == 403
    ws = await hub.client.ws_connect("/ws/widget?site=nope", headers={"Origin": "https://shop.example"})
    assert (await ws.receive()).type == aiohttp.WSMsgType.CLOSE and ws.close_code == 4404
    ws = await hub.client.ws_connect(
        f"/ws/widget?site={site['key']}", headers={"Origin": "https://shop.example"}
    )
    await ws.send_json({"type": "message", "id": "abcdefgh", "text": "no hello first"})
    while (await ws.receive()).type == aiohttp.WSMsgType.TEXT:
        pass  # the error frame, then the close
    assert ws.close_code == 4400

    # a disabled site is unknown; "*" lets any page in
    await hub.client.patch(
        f"/api/v1/widget/sites/{site['key']}", json={"active": False}, headers=roles["admin"]
    )
    ws = await hub.client.ws_connect(
        f"/ws/widget?site={site['key']}", headers={"Origin": "https://shop.example"}
    )
    assert (await ws.receive()).type == aiohttp.WSMsgType.CLOSE and ws.close_code == 4404
    anywhere = await make_site(hub, roles["admin"], name="Anywhere", allowed_origins=["*"])
    assert "offline" in await Visitor(hub, anywhere["key"]).connect(origin="https://any.example")


async def test_frames_are_checked_and_rate_limited(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    site = await make_site(hub, roles["admin"])
    visitor = Visitor(hub, site["key"])
    await visitor.connect()
    await visitor.ws.send_str("not json")
    assert (await visitor.next("error"))["code"] == "bad_frame"
    await visitor.send(type="message", id="x" * 10, text="a" * 5001)
    too_long = await visitor.next("error")
    assert (too_long["code"], too_long["id"]) == ("too_long", "x" * 10)
    await visitor.send(type="message", id="y" * 10, text="hi", attachments=[{"upload": "someone-elses"}])
    assert (await visitor.next("error"))["code"] == "bad_upload"
    for _ in range(40):
        await visitor.send(type="typing", on=True)
    limited = await visitor.next("error")
    assert limited["code"] == "rate_limited"
    await visitor.close()


async def test_sites_are_for_admins_and_their_fields_are_checked(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    created = await make_site(hub, roles["admin"], key="nordlicht", allowed_origins=["HTTPS://Shop.Example/"])
    assert created["allowed_origins"] == ["https://shop.example"] and len(created["secret"]) == 64
    assert created["snippet"] == '<script src="/widget/chat.js" data-site="nordlicht" async></script>'
    listed = await (await hub.client.get("/api/v1/widget/sites", headers=roles["admin"])).json()
    assert [s["key"] for s in listed["items"]] == ["nordlicht"] and "secret" not in listed["items"][0]
    for body, field in (
        ({"name": "x", "allowed_origins": ["shop.example"]}, "allowed_origins"),
        ({"name": "x", "allowed_origins": [], "key": "k-1"}, "allowed_origins"),
        (
            {
                "name": "x",
                "allowed_origins": ["https://a.example"],
                "settings": {"hours": {"open": {"mon": ["9-5"]}}},
            },
            "settings.hours",
        ),
        (
            {
                "name": "x",
                "allowed_origins": ["https://a.example"],
                "settings": {"colors": {"primary": "red"}},
            },
            "settings.colors.primary",
        ),
    ):
        resp = await hub.client.post("/api/v1/widget/sites", json=body, headers=roles["admin"])
        assert resp.status == 422, body
        assert (await resp.json())["field"].startswith(field)
    taken = await hub.client.post(
        "/api/v1/widget/sites",
        json={"name": "y", "key": "nordlicht", "allowed_origins": ["*"]},
        headers=roles["admin"],
    )
    assert taken.status == 409
    assert (await hub.client.get("/api/v1/widget/sites", headers=roles["supervisor"])).status == 403
    rotated = await (
        await hub.client.post("/api/v1/widget/sites/nordlicht/secret", headers=roles["admin"])
    ).json()
    assert rotated["secret"] != created["secret"]


async def test_erasing_the_customer_empties_their_widget(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    site = await make_site(hub, roles["admin"])
    visitor = Visitor(hub, site["key"])
    await visitor.connect()
    await visitor.send(type="start", name="Erika", email="erika@kunde.example")
    await visitor.next("started")
    await visitor.say("Bitte alles löschen")
    conv = await conversation_of(hub, visitor)
    await visitor.close()
    resp = await hub.client.delete(
        f"/api/v1/customers/{conv.customer_id}?confirm={conv.customer_id}", headers=roles["admin"]
    )
    assert resp.status in (200, 204), await resp.text()
    back = Visitor(hub, site["key"], visitor.token)
    welcome = await back.connect()
    assert welcome["events"] == [] and not welcome["prechat_done"]
    async with hub.app[STORE].read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(widget_feed)) == 0
    await back.close()


async def test_a_reply_through_one_process_reaches_a_visitor_on_another(
    settings: Settings, backend: str
) -> None:
    if backend != "scaleout":
        pytest.skip("one process only on the embedded backend")
    require_services()
    async with running_hub(settings) as first, running_hub(settings) as second:
        roles = await sign_in_all(first)
        site = await make_site(first, roles["admin"])
        visitor = Visitor(second, site["key"])
        await visitor.connect()
        await visitor.say("Hallo über Prozess zwei")
        conv = await conversation_of(second, visitor)
        reply_id = await reply(first, roles["admin"], conv.id, "Antwort über Prozess eins")
        got = await visitor.next("message")
        while got["from"] != "agent":
            got = await visitor.next("message")
        assert got["id"] == reply_id
        await visitor.close()


def test_a_survey_score_in_a_frame_is_a_number_from_1_to_5() -> None:
    """Regression: a score of true or "4" was taken as 1 or 4 (numbers are parsed strictly)."""
    from hub.widget.frames import CsatAnswer, FrameRejected, parse_frame

    assert parse_frame('{"type": "csat", "survey": "s", "score": 4}') == CsatAnswer(
        type="csat", survey="s", score=4
    )
    for score in ("true", '"4"', "4.0", "0", "6"):
        try:
            parse_frame(f'{{"type": "csat", "survey": "s", "score": {score}}}')
        except FrameRejected as refused:
            assert refused.code == "bad_frame" and "score" in refused.detail
        else:
            raise AssertionError(f"score {score} taken")


async def test_a_reply_sent_again_under_its_client_id_is_sent_once(hub: HubClient) -> None:
    """A console whose answer was lost (a dropped connection) sends the reply again under
    the same client_id: the first reply is the answer, the visitor gets it once."""
    roles = await sign_in_all(hub)
    site = await make_site(hub, roles["admin"])
    visitor = Visitor(hub, site["key"])
    await visitor.connect()
    await visitor.say("Hallo?")
    conv = (await conversation_of(hub, visitor)).id
    url, admin = f"/api/v1/conversations/{conv}/messages", roles["admin"]

    first = await hub.client.post(url, json={"text": "Einmal", "client_id": "draft-0001"}, headers=admin)
    assert first.status == 202, await first.text()
    sent = await first.json()
    again = await hub.client.post(url, json={"text": "Einmal", "client_id": "draft-0001"}, headers=admin)
    assert again.status == 200, await again.text()
    repeat = await again.json()
    assert repeat["repeat"] is True and (repeat["id"], repeat["channel"]) == (sent["id"], "chat")
    other = await hub.client.post(url, json={"text": "Anders", "client_id": "draft-0001"}, headers=admin)
    assert other.status == 409 and "client_id" in (await other.json())["detail"]
    # two requests at the same moment: one stores it, the other answers with it
    both = await asyncio.gather(
        *(
            hub.client.post(url, json={"text": "Zugleich", "client_id": "draft-0002"}, headers=admin)
            for _ in range(2)
        )
    )
    assert sorted(r.status for r in both) == [200, 202]
    assert len({(await r.json())["id"] for r in both}) == 1
    for bad in ("short", "has space!", 5):
        refused = await hub.client.post(url, json={"text": "x", "client_id": bad}, headers=admin)
        assert refused.status == 422, bad

    shown: list[str] = []
    while len(shown) < 2:
        got = await visitor.next("message")
        shown += [got["text"]] if got["from"] == "agent" else []
    assert shown == ["Einmal", "Zugleich"]
    async with hub.app[STORE].read() as conn:
        stored = (
            (
                await conn.execute(
                    sa.select(messages.c.text).where(
                        messages.c.conversation_id == conv, messages.c.direction == "out"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert sorted(stored) == ["Einmal", "Zugleich"]
    await visitor.close()
