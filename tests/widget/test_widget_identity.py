"""Who a visitor is: signed identifiers link to the existing record, bad ones do not,
and what a visitor types about themselves never takes over someone else's record."""

from __future__ import annotations

import sqlalchemy as sa

from hub.keys import STORE
from hub.store.tables import identities
from hub.widget.sites import identifier_hash
from tests.conftest import HubClient, sign_in_all
from tests.widget.conftest import Visitor, make_site
from tests.widget.test_widget_socket import conversation_of


async def existing_customer(hub: HubClient, admin: dict[str, str], email: str) -> str:
    resp = await hub.client.post(
        "/api/v1/customers",
        json={"name": "Greta Gold", "identities": [{"kind": "email", "value": email}]},
        headers=admin,
    )
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["id"])


async def owner_of(hub: HubClient, kind: str, value: str) -> str | None:
    async with hub.app[STORE].read() as conn:
        return await conn.scalar(
            sa.select(identities.c.customer_id).where(identities.c.kind == kind, identities.c.value == value)
        )


async def test_a_signed_identifier_lands_on_the_existing_customer_and_a_wrong_one_does_not(
    hub: HubClient,
) -> None:
    roles = await sign_in_all(hub)
    site = await make_site(hub, roles["admin"])
    greta = await existing_customer(hub, roles["admin"], "greta@kunde.example")

    signed = Visitor(hub, site["key"])
    welcome = await signed.connect(
        identifier="Greta@Kunde.example",
        identifier_hash=identifier_hash(site["secret"], "Greta@Kunde.example"),
    )
    assert welcome["identified"] and welcome["visitor"], "a verified visitor gets a token at once"
    await signed.say("Meine Rechnung ist doppelt")
    assert (await conversation_of(hub, signed)).customer_id == greta

    forger = Visitor(hub, site["key"])
    welcome = await forger.connect(identifier="greta@kunde.example", identifier_hash="0" * 64)
    assert not welcome["identified"] and welcome["events"] == []
    assert (await forger.next("error"))["code"] == "bad_identity"
    await forger.say("Zeig mir Gretas Rechnungen")
    assert (await conversation_of(hub, forger)).customer_id != greta
    assert await owner_of(hub, "email", "greta@kunde.example") == greta

    # the same person on a second device, signed in: sees the history of the first
    second = Visitor(hub, site["key"])
    again = await second.connect(
        identifier="greta@kunde.example",
        identifier_hash=identifier_hash(site["secret"], "greta@kunde.example"),
    )
    assert [e["text"] for e in again["events"]] == ["Meine Rechnung ist doppelt"]
    for v in (signed, forger, second):
        await v.close()


async def test_an_anonymous_chat_joins_the_record_when_the_visitor_signs_in(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    site = await make_site(hub, roles["admin"])
    visitor = Visitor(hub, site["key"])
    await visitor.connect()
    await visitor.say("Vor dem Login gefragt")
    anonymous = (await conversation_of(hub, visitor)).customer_id
    await visitor.close()
    # the website's own user id (not an address): an external identity of this site
    back = Visitor(hub, site["key"], visitor.token)
    welcome = await back.connect(
        identifier="user-881", identifier_hash=identifier_hash(site["secret"], "user-881")
    )
    assert welcome["identified"] and [e["text"] for e in welcome["events"]] == ["Vor dem Login gefragt"]
    assert await owner_of(hub, "external", f"{site['key']}:user-881") == anonymous
    await back.close()


async def test_a_typed_contact_is_a_claim_not_a_takeover(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    site = await make_site(
        hub, roles["admin"], settings={"prechat": {"name": "required", "email": "optional"}}
    )
    greta = await existing_customer(hub, roles["admin"], "greta@kunde.example")

    visitor = Visitor(hub, site["key"])
    await visitor.connect()
    await visitor.send(type="start", email="greta@kunde.example")
    assert (await visitor.next("error"))["code"] == "contact_required", "the site requires a name"
    await visitor.send(type="start", name="Mallory", email="greta@kunde.example", phone="+49 40 1234567")
    await visitor.next("started")
    await visitor.say("Bitte Gretas Adresse ändern")
    conv = await conversation_of(hub, visitor)
    assert conv.customer_id != greta
    assert await owner_of(hub, "email", "greta@kunde.example") == greta, "Greta's email stays hers"
    assert await owner_of(hub, "phone", "+49401234567") is None, "a typed number is a claim, not an identity"
    detail = await (await hub.client.get(f"/api/v1/conversations/{conv.id}", headers=roles["admin"])).json()
    first = detail["messages"][0]
    assert first["meta"]["claimed_email"] == f"greta@kunde.example (customer {greta})"
    assert first["meta"]["claimed_phone"] == "+49401234567"
    assert first["sender_name"] == "Mallory"

    await visitor.send(type="start", name="M", email="not an address")
    assert (await visitor.next("error"))["code"] == "bad_frame"
    await visitor.close()
