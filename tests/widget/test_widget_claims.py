"""What a visitor types about themselves is a claim: the agent sees it, but it never
becomes an identity, so it never decides where a verified sign-in or an incoming message
lands, and the typist never reads what the real owner of the address writes. An agent who
confirms a claim adds the identity (audited), and only then does it link."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import sqlalchemy as sa

from hub.keys import STORE
from hub.store.tables import events, messages
from hub.widget.sites import identifier_hash
from tests.conftest import HubClient, sign_in_all
from tests.widget.conftest import Visitor, make_site
from tests.widget.test_widget_identity import owner_of
from tests.widget.test_widget_socket import conversation_of

NEVER_OPEN = {"timezone": "Europe/Berlin", "open": {}}


async def customer_of_mail(hub: HubClient, kind: str, value: str, timeout: float = 20) -> str:
    """Inject a message from ``value`` through the API channel; the customer it landed on."""
    external_id = f"claims-{uuid.uuid4().hex}"
    body = {"external_id": external_id, "from": {"kind": kind, "value": value}, "text": "Hallo"}
    resp = await hub.post_message(body)
    assert resp.status == 202, await resp.text()
    async with asyncio.timeout(timeout):
        while True:
            async with hub.app[STORE].read() as conn:
                found = await conn.scalar(
                    sa.select(messages.c.customer_id).where(
                        messages.c.channel == "api", messages.c.external_id == external_id
                    )
                )
            if found is not None:
                return str(found)
            await asyncio.sleep(0.05)


async def signed_in(
    hub: HubClient, site: dict[str, Any], identifier: str, token: str | None = None
) -> Visitor:
    visitor = Visitor(hub, site["key"], token)
    welcome = await visitor.connect(
        identifier=identifier, identifier_hash=identifier_hash(site["secret"], identifier)
    )
    assert welcome["identified"]
    return visitor


async def first_meta(hub: HubClient, headers: dict[str, str], conv_id: str) -> dict[str, str]:
    detail = await (await hub.client.get(f"/api/v1/conversations/{conv_id}", headers=headers)).json()
    return dict(detail["messages"][0]["meta"])


async def test_a_typed_email_never_lets_the_typist_read_the_real_persons_chat(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    site = await make_site(hub, roles["admin"])

    mallory = Visitor(hub, site["key"])
    await mallory.connect()
    await mallory.send(type="start", name="Mallory", email="Greta@Kunde.example")
    await mallory.next("started")
    await mallory.say("Hallo, hier ist Greta")
    planted = (await conversation_of(hub, mallory)).customer_id
    await mallory.close()

    # mail from that address is not the typist's
    assert await customer_of_mail(hub, "email", "greta@kunde.example") != planted

    # the real Greta signs in on the website: a record of her own, not the typist's
    greta = await signed_in(hub, site, "greta@kunde.example")
    assert greta.welcome["events"] == [], "she does not see the typist's chat"
    await greta.say("Meine IBAN ist DE02 1203 0000 0000 2020 51")
    hers = (await conversation_of(hub, greta)).customer_id
    assert hers != planted
    assert await owner_of(hub, "email", "greta@kunde.example") == hers
    await greta.close()

    # the typist's token reads their own chat only
    back = Visitor(hub, site["key"], mallory.token)
    welcome = await back.connect()
    assert [e["text"] for e in welcome["events"]] == ["Hallo, hier ist Greta"]
    await back.close()
    meta = await first_meta(hub, roles["supervisor"], (await conversation_of(hub, mallory)).id)
    assert meta["claimed_email"] == "greta@kunde.example", "the agent sees what the visitor typed"
    # no longer an identity, the typed contact is still personal data of the record: exported
    resp = await hub.client.get(f"/api/v1/customers/{planted}/export", headers=roles["supervisor"])
    [chat] = (await resp.json())["chat_visitors"]
    assert chat["contact"] == {"name": "Mallory", "email": "Greta@Kunde.example"}


async def test_a_typed_phone_number_and_the_offline_form_are_claims_too(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    site = await make_site(hub, roles["admin"])
    closed = await make_site(hub, roles["admin"], name="Closed", settings={"hours": NEVER_OPEN})

    typist = Visitor(hub, site["key"])
    await typist.connect()
    await typist.send(type="start", name="M", phone="+49 40 1234567")
    await typist.next("started")
    await typist.say("Rückruf bitte")
    conv = await conversation_of(hub, typist)
    await typist.close()
    assert await customer_of_mail(hub, "phone", "+49401234567") != conv.customer_id
    assert await owner_of(hub, "phone", "+49401234567") != conv.customer_id
    assert (await first_meta(hub, roles["supervisor"], conv.id))["claimed_phone"] == "+49401234567"

    night = Visitor(hub, closed["key"])
    await night.connect()
    await night.send(
        type="leave_message",
        id="offline-claim-1",
        text="Bitte melden",
        email="kai@kunde.example",
        phone="+49 30 7654321",
    )
    assert (await night.next("ack"))["id"] == "offline-claim-1"
    left = await conversation_of(hub, night)
    await night.close()
    assert await customer_of_mail(hub, "email", "kai@kunde.example") != left.customer_id

    # the real owner of the number signs in on the closed site: not the form's record
    owner = await signed_in(hub, closed, "+49 30 7654321")
    assert owner.welcome["events"] == []
    await owner.send(type="leave_message", id="offline-claim-2", text="Ich bin es", phone="+49 30 7654321")
    await owner.next("ack")
    assert (await conversation_of(hub, owner)).customer_id != left.customer_id
    await owner.close()
    assert await owner_of(hub, "email", "kai@kunde.example") != left.customer_id
    assert await owner_of(hub, "phone", "+49307654321") != left.customer_id
    meta = await first_meta(hub, roles["supervisor"], left.id)
    assert (meta["claimed_email"], meta["claimed_phone"]) == ("kai@kunde.example", "+49307654321")
    assert meta["reply_email"] == "kai@kunde.example"


async def test_an_agent_confirms_a_claim_and_only_then_it_links(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    site = await make_site(hub, roles["admin"])
    visitor = Visitor(hub, site["key"])
    await visitor.connect()
    await visitor.send(type="start", name="Ida", email="ida@kunde.example")
    await visitor.next("started")
    await visitor.say("Hallo")
    conv = await conversation_of(hub, visitor)

    resp = await hub.client.post(
        f"/api/v1/customers/{conv.customer_id}/identities",
        json={"kind": "email", "value": "ida@kunde.example"},
        headers=roles["admin"],
    )
    assert resp.status == 201, await resp.text()
    assert await owner_of(hub, "email", "ida@kunde.example") == conv.customer_id
    async with hub.app[STORE].read() as conn:
        who = await conn.scalar(
            sa.select(events.c.actor).where(
                events.c.action == "identity.added", events.c.customer_id == conv.customer_id
            )
        )
    assert who is not None and who.startswith("agent:"), "the confirmation is audited as the agent's"
    assert await customer_of_mail(hub, "email", "ida@kunde.example") == conv.customer_id
    # a confirmed address is the record's own: no longer shown as a claim
    await visitor.say("Danke")
    async with asyncio.timeout(20):
        while True:
            detail = await (
                await hub.client.get(f"/api/v1/conversations/{conv.id}", headers=roles["admin"])
            ).json()
            thanks = [m for m in detail["messages"] if m["text"] == "Danke"]
            if thanks:
                break
            await asyncio.sleep(0.05)
    assert "claimed_email" not in thanks[0]["meta"]
    await visitor.close()


async def test_a_browser_verified_as_one_person_does_not_carry_their_chat_to_the_next(
    hub: HubClient,
) -> None:
    roles = await sign_in_all(hub)
    site = await make_site(hub, roles["admin"])
    greta = await signed_in(hub, site, "greta@kunde.example")
    await greta.say("Nur für Greta")
    hers = (await conversation_of(hub, greta)).customer_id
    await greta.close()

    # a shared computer: the widget kept Greta's token, and Hans signs in on the website
    hans = await signed_in(hub, site, "hans@kunde.example", token=greta.token)
    assert hans.token != greta.token, "Hans gets a visitor of his own"
    assert hans.welcome["events"] == []
    await hans.say("Hans hier")
    assert (await conversation_of(hub, hans)).customer_id != hers
    assert await owner_of(hub, "email", "greta@kunde.example") == hers
    assert await owner_of(hub, "email", "hans@kunde.example") != hers
    await hans.close()
