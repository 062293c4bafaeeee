"""WhatsApp outward on both backends: an agent starts a conversation only with a
registered template and only with the customer's opt-in on record; a campaign sends its
approved template (which must say how to opt out), skips those who did not opt in, and a
STOP answer counts as opted out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from hub.keys import CAMPAIGNS, STORE
from hub.store.tables import consents
from tests.connectors.conftest import NUMBER, TOKEN, signed_post
from tests.outreach.conftest import World, phone
from tests.outreach.test_campaigns import campaign, population, run
from tests.waits import eventually

OFFER = {"name": "callback_offer", "variables": ["Frau Kundin"]}


async def test_a_whatsapp_conversation_starts_with_a_template_after_an_opt_in(world: World) -> None:
    await world.policy("rules: []\n")
    customer = await world.customer()
    status, refused = await world.start(customer, channel="whatsapp", text="", template=OFFER)
    assert status == 409 and "not consented to service on whatsapp" in refused["detail"]
    await world.consent(customer, "whatsapp", "service", True)  # the opt-in, e.g. on the website
    status, refused = await world.start(customer, channel="whatsapp", text="Hallo, kurze Frage")
    assert status == 409 and refused["type"].endswith("whatsapp-window")
    assert "has not written to us there" in refused["detail"]
    status, refused = await world.start(
        customer, channel="whatsapp", text="", template={"name": "green_tariff"}
    )
    assert status == 422 and "marketing template" in refused["detail"]

    status, started = await world.start(customer, channel="whatsapp", text="", template=OFFER)
    assert status == 201, started
    assert started["to"] == phone(1)

    async def at_twilio() -> bool:
        return bool(world.sms.messages)

    await eventually(at_twilio, what="the template at the Twilio double")
    [out] = world.sms.messages
    assert (out["To"], out["From"], out["ContentSid"]) == (
        f"whatsapp:{phone(1)}",
        f"whatsapp:{NUMBER}",
        "HX" + "d" * 32,
    )
    assert json.loads(out["ContentVariables"]) == {"1": "Frau Kundin"}
    row = await world.row(started["id"])
    assert row.channel == "whatsapp" and row.route["outbound"]["purpose"] == "service"


async def test_a_whatsapp_campaign_sends_its_template_to_those_who_opted_in(world: World) -> None:
    await world.policy("rules: []\n")
    await population(world, {"ok": 6, "silent": 3, "withdrawn": 2})
    async with world.hub.app[STORE].write() as conn:  # their consents are WhatsApp's here
        await conn.execute(sa.update(consents).values(channel="whatsapp"))

    for texts, words in (
        ({"de": {"text": "Neu!"}}, "sends a registered template"),
        ({"de": {"template": {"name": "green_tariff_plain"}}}, "does not tell how to opt out"),
        ({"de": {"template": {"name": "nope"}}}, "no WhatsApp template 'nope'"),
    ):
        status, segment = await world.post(
            "/api/v1/segments", {"name": f"alle {words}", "filters": {"language": "de,en"}}, "supervisor"
        )
        body = {"name": "x", "segment_id": segment["id"], "channel": "whatsapp", "texts": texts}
        status, refused = await world.post("/api/v1/campaigns", body, "supervisor")
        assert status == 422 and words in refused["detail"], refused

    campaign_id = await campaign(
        world, "whatsapp", {"de": {"template": {"name": "green_tariff"}}}, rate_per_minute=60_000
    )
    shown = await run(world, campaign_id)
    assert shown["status"] == "done"
    results = shown["results"]
    assert (results["sent"], results["skipped"]) == (6, 5)
    assert results["skipped_by_reason"] == {"consent withdrawn": 2, "no consent": 3}

    async def all_sent() -> bool:
        return len(world.sms.messages) >= 6

    await eventually(all_sent, what="six templates at the Twilio double")
    assert {m["ContentSid"] for m in world.sms.messages} == {"HX" + "e" * 32}
    assert all(m["To"].startswith("whatsapp:+49") for m in world.sms.messages)

    first = phone(1)  # the population's first customer: "ok"
    stop = {
        "MessageSid": "SMwa-stop",
        "AccountSid": "AC" + "1" * 32,
        "From": f"whatsapp:{first}",
        "To": f"whatsapp:{NUMBER}",
        "Body": "STOP",
    }
    resp = await signed_post(
        world.hub,
        "/webhooks/twilio/whatsapp",
        stop,
        token=TOKEN,
        signed_url="https://hub.example.com/webhooks/twilio/whatsapp",
    )
    assert resp.status == 200, await resp.text()

    async def opted_out() -> bool:
        return (await world.hub.app[CAMPAIGNS].show(campaign_id))["results"]["opted_out"] == 1

    await eventually(opted_out, what="the STOP counted as opted out")

    # the results in the reports, per campaign and per segment
    today = datetime.now(UTC).date()
    span = f"from={today - timedelta(days=1)}&to={today + timedelta(days=2)}"
    resp = await world.hub.client.get(f"/api/v1/reports/campaigns?{span}", headers=world.roles["supervisor"])
    assert resp.status == 200, await resp.text()
    report = await resp.json()
    [shown] = report["campaigns"]
    assert shown["id"] == campaign_id and shown["channel"] == "whatsapp"
    assert (shown["results"]["sent"], shown["results"]["opted_out"]) == (6, 1)
    [segment] = report["segments"]
    assert segment["segment_id"] == shown["segment_id"] and segment["segment"] == shown["segment"]
    assert {k: segment[k] for k in ("campaigns", "recipients", "sent", "skipped", "opted_out")} == {
        "campaigns": 1,
        "recipients": 11,
        "sent": 6,
        "skipped": 5,
        "opted_out": 1,
    }
    agent = await world.hub.client.get(f"/api/v1/reports/campaigns?{span}", headers=world.roles["agent"])
    assert agent.status == 403
    later = f"from={today + timedelta(days=2)}&to={today + timedelta(days=3)}"
    resp = await world.hub.client.get(f"/api/v1/reports/campaigns?{later}", headers=world.roles["supervisor"])
    assert (await resp.json()) == {"campaigns": [], "segments": []}
