"""WhatsApp through Twilio on both backends: a signed webhook (``whatsapp:`` addresses,
the profile name, media) becomes a conversation of the customer the number belongs to;
the agent answers free text within the 24-hour window, and only a registered template
outside it; the real twilio library posts both to the local Twilio double, whose status
callbacks (WhatsApp's "read") mark delivery. Opt-in and STOP are recorded as consent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import BaseTestServer

from hub.keys import STORE
from hub.store.tables import consents, messages
from tests.conftest import HubClient, drop_backend, running_hub
from tests.connectors.conftest import ACCOUNT, NUMBER, FakeTwilio, signed_post, twilio_settings
from tests.routing.test_router_service import Floor
from tests.waits import eventually

CUSTOMER = "+4917612345678"
ORDER_UPDATE = {
    "name": "order_update",
    "language": "de",
    "content_sid": "HX" + "a" * 32,
    "body": "Hallo {{1}}, Ihre Bestellung {{2}} ist unterwegs.",
}
ORDER_UPDATE_EN = {
    **ORDER_UPDATE,
    "language": "en",
    "content_sid": "HX" + "b" * 32,
    "body": "Hello {{1}}, your order {{2}} is on its way.",
}
SPRING = {
    "name": "spring_offer",
    "language": "de",
    "content_sid": "HX" + "c" * 32,
    "body": "Frühlingsangebot: 20 % auf alles. Keine Angebote mehr? Antworten Sie STOP.",
    "purpose": "marketing",
}


@pytest.fixture
async def whatsapp(
    backend: str, tmp_path: Path, twilio: tuple[FakeTwilio, BaseTestServer]
) -> AsyncIterator[HubClient]:
    settings = twilio_settings(
        tmp_path,
        backend,
        twilio[1],
        **{
            "connectors.twilio.whatsapp": True,
            "connectors.twilio.whatsapp_templates": [ORDER_UPDATE, ORDER_UPDATE_EN, SPRING],
        },
    )
    async with running_hub(settings) as hub:
        yield hub
    await drop_backend(settings)


def wa_params(sid: str, body: str = "Hallo", sender: str = CUSTOMER, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "AccountSid": ACCOUNT,
        "From": f"whatsapp:{sender}",
        "To": f"whatsapp:{NUMBER}",
        "Body": body,
        "NumMedia": "0",
        "ProfileName": "Anna Becker",
        "WaId": sender.lstrip("+"),
        **extra,
    }


async def setup(hub: HubClient) -> Floor:
    floor = await Floor(hub).start(
        "queues: {service: {reservation_timeout: 60}}\nrules: [{name: all, targets: [{queue: service}]}]\n"
    )
    await floor.agent("agent_wa", capacity={"whatsapp": 5, "sms": 5})
    return floor


async def taken(floor: Floor, sid: str, body: str = "Hallo", **extra: str) -> str:
    """The customer writes on WhatsApp; the agent accepts the offer: its conversation."""
    resp = await signed_post(floor.hub, "/webhooks/twilio/whatsapp", wa_params(sid, body, **extra))
    assert resp.status == 200, await resp.text()
    offers = await eventually(lambda: floor.mine("agent_wa", "offered"), what="an offer")
    conv_id = str(offers[0]["id"])
    assert (await floor.act("agent_wa", conv_id, "accept")).status == 200
    return conv_id


async def reply(floor: Floor, conv_id: str, **body: Any) -> Any:
    return await floor.hub.client.post(
        f"/api/v1/conversations/{conv_id}/messages", headers=floor.headers["agent_wa"], json=body
    )


async def detail(floor: Floor, conv_id: str) -> dict[str, Any]:
    resp = await floor.hub.client.get(f"/api/v1/conversations/{conv_id}", headers=floor.headers["agent_wa"])
    return dict(await resp.json())


async def consent_rows(hub: HubClient) -> set[tuple[str, str, bool, str]]:
    async with hub.app[STORE].read() as conn:
        rows = await conn.execute(
            sa.select(consents.c.channel, consents.c.purpose, consents.c.granted, consents.c.source)
        )
        return {(r.channel, r.purpose, bool(r.granted), r.source) for r in rows}


async def age_messages(hub: HubClient, hours: int) -> None:
    """The customer's messages as if written ``hours`` ago (a fixed history)."""
    async with hub.app[STORE].write() as conn:
        rows = (await conn.execute(sa.select(messages.c.id, messages.c.received_at))).all()
        for row in rows:  # computed here: SQLite stores times as text
            await conn.execute(
                sa.update(messages)
                .where(messages.c.id == row.id)
                .values(received_at=row.received_at - timedelta(hours=hours))
            )


async def test_whatsapp_in_joins_the_number_reply_out_and_read(
    whatsapp: HubClient, twilio: tuple[FakeTwilio, Any]
) -> None:
    fake = twilio[0]
    floor = await setup(whatsapp)
    # the hub knows the number (from SMS, calls, the CRM): WhatsApp joins that customer
    known = await whatsapp.client.post(
        "/api/v1/customers",
        headers=floor.headers["admin"],
        json={"name": "Anna B.", "identities": [{"kind": "phone", "value": "0176 12345678"}]},
    )
    assert known.status == 201, await known.text()
    known_id = (await known.json())["id"]
    media = str(twilio[1].make_url("/media/120"))
    conv_id = await taken(
        floor, "SMwa-1", "Foto vom Schaden", NumMedia="1", MediaUrl0=media, MediaContentType0="image/png"
    )
    conv = await detail(floor, conv_id)
    assert (conv["channel"], conv["customer_id"]) == ("whatsapp", known_id)
    [incoming] = conv["messages"]
    assert incoming["text"] == "Foto vom Schaden"
    assert [a["content_type"] for a in incoming["attachments"]] == ["image/png"]
    # writing to us is the opt-in to service messages on WhatsApp
    assert ("whatsapp", "service", True, "whatsapp:first message") in await consent_rows(whatsapp)

    window = await (
        await whatsapp.client.get(f"/api/v1/customers/{known_id}/whatsapp", headers=floor.headers["agent_wa"])
    ).json()
    assert window["window"]["open"] is True
    assert [t["name"] for t in window["templates"]] == ["order_update", "order_update", "spring_offer"]

    resp = await reply(floor, conv_id, text="Danke, wir schauen es uns an.")
    assert resp.status == 202, await resp.text()
    sent = await resp.json()
    await eventually(lambda: _truthy(fake.messages), what="the request at the Twilio double")
    [out] = fake.messages
    assert (out["To"], out["From"], out["Body"]) == (
        f"whatsapp:{CUSTOMER}",
        f"whatsapp:{NUMBER}",
        "Danke, wir schauen es uns an.",
    )
    assert out["StatusCallback"].endswith(f"/webhooks/twilio/whatsapp/status?id={sent['id']}")
    report = {"MessageSid": out["Sid"], "MessageStatus": "read", "AccountSid": ACCOUNT}
    assert (
        await signed_post(whatsapp, f"/webhooks/twilio/whatsapp/status?id={sent['id']}", report)
    ).status == 204

    async def delivered() -> bool:
        msgs = (await detail(floor, conv_id))["messages"]
        return next(m for m in msgs if m["id"] == sent["id"])["delivery"]["status"] == "delivered"

    await eventually(delivered, what="the reply marked delivered (read)")
    forged = await whatsapp.client.post("/webhooks/twilio/whatsapp", data=wa_params("SMwa-forged"))
    assert forged.status == 403


async def test_outside_the_window_only_a_registered_template_goes(
    whatsapp: HubClient, twilio: tuple[FakeTwilio, Any]
) -> None:
    fake = twilio[0]
    floor = await setup(whatsapp)
    conv_id = await taken(floor, "SMwa-2", "Wo ist meine Bestellung?")
    customer_id = (await detail(floor, conv_id))["customer_id"]
    await age_messages(whatsapp, 25)

    refused = await reply(floor, conv_id, text="Sie kommt morgen.")
    assert refused.status == 409
    problem = await refused.json()
    assert problem["type"].endswith("whatsapp-window")
    assert "24-hour window closed" in problem["detail"] and "template" in problem["detail"]
    info = await (
        await whatsapp.client.get(
            f"/api/v1/customers/{customer_id}/whatsapp", headers=floor.headers["agent_wa"]
        )
    ).json()
    assert info["window"]["open"] is False and info["window"]["closes_at"] is not None
    assert info["templates"][0] == {
        "name": "order_update",
        "language": "de",
        "body": ORDER_UPDATE["body"],
        "purpose": "service",
        "variables": 2,
    }

    for bad, field in (
        ({"name": "nope"}, "template.name"),
        ({"name": "order_update", "variables": ["Anna"]}, "template.variables"),
        ({"name": "order_update", "language": "fr", "variables": ["Anna", "4711"]}, "template.language"),
        ({"name": "order_update", "variables": ["Anna", "47\n11"]}, "template.variables"),
    ):
        resp = await reply(floor, conv_id, template=bad)
        assert resp.status == 422, (bad, await resp.text())
        assert field in (await resp.json())["detail"]
    both = await reply(
        floor, conv_id, text="Hallo", template={"name": "order_update", "variables": ["A", "B"]}
    )
    assert both.status == 422

    resp = await reply(
        floor, conv_id, template={"name": "order_update", "language": "en", "variables": ["Anna", "4711"]}
    )
    assert resp.status == 202, await resp.text()
    sent = await resp.json()
    await eventually(lambda: _truthy(fake.messages), what="the template at the Twilio double")
    [out] = fake.messages
    assert out["ContentSid"] == ORDER_UPDATE_EN["content_sid"]
    assert json.loads(out["ContentVariables"]) == {"1": "Anna", "2": "4711"}
    assert "Body" not in out and out["To"] == f"whatsapp:{CUSTOMER}"
    stored = next(m for m in (await detail(floor, conv_id))["messages"] if m["id"] == sent["id"])
    assert stored["text"] == "Hello Anna, your order 4711 is on its way."
    # a new message from the customer opens the window again
    assert (
        await signed_post(whatsapp, "/webhooks/twilio/whatsapp", wa_params("SMwa-3", "Danke!"))
    ).status == 200

    async def open_again() -> bool:
        return (await reply(floor, conv_id, text="Gern geschehen.")).status == 202

    await eventually(open_again, what="free text accepted once the customer wrote again")


async def test_stop_withdraws_whatsapp_consent_and_start_gives_it_back(
    whatsapp: HubClient, twilio: tuple[FakeTwilio, Any]
) -> None:
    floor = await setup(whatsapp)
    conv_id = await taken(floor, "SMwa-4")
    assert (
        await signed_post(whatsapp, "/webhooks/twilio/whatsapp", wa_params("SMwa-5", "STOP"))
    ).status == 200

    async def stopped() -> bool:
        rows = await consent_rows(whatsapp)
        return {
            ("whatsapp", "service", False, "whatsapp:STOP"),
            ("whatsapp", "marketing", False, "whatsapp:STOP"),
        } <= rows

    await eventually(stopped, what="the STOP recorded")
    resp = await reply(floor, conv_id, text="Noch da?")
    assert resp.status == 409 and "whatsapp:STOP" in (await resp.json())["detail"]
    # a later message is no opt-in while the STOP stands; START is
    assert (
        await signed_post(whatsapp, "/webhooks/twilio/whatsapp", wa_params("SMwa-6", "Eine Frage"))
    ).status == 200
    assert (
        await signed_post(whatsapp, "/webhooks/twilio/whatsapp", wa_params("SMwa-7", "START"))
    ).status == 200

    async def started() -> bool:
        rows = await consent_rows(whatsapp)
        return ("whatsapp", "service", True, "whatsapp:START") in rows

    await eventually(started, what="the START recorded")
    assert ("whatsapp", "service", True, "whatsapp:first message") not in await consent_rows(whatsapp)
    assert twilio[0].messages == []


async def test_a_webhook_that_is_not_whatsapp_is_refused(whatsapp: HubClient) -> None:
    for bad in ({"From": CUSTOMER}, {"From": "whatsapp:not-a-number"}, {"MessageSid": ""}):
        resp = await signed_post(whatsapp, "/webhooks/twilio/whatsapp", {**wa_params("SMwa-bad"), **bad})
        assert resp.status == 422, (bad, await resp.text())


async def _truthy(value: Any) -> Any:
    return value or None
