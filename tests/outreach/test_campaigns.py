"""Campaigns on both backends: a segment's members, each checked for consent, an address
and the contact policy, the skipped counted by reason exactly, quiet hours waited out;
the SMS leave through the real twilio library with STOP in them, a reply reopens the
campaign's conversation on the campaign's queue, a STOP counts as opted out; an email
campaign carries a one-click unsubscribe link that withdraws the consent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from hub.keys import CAMPAIGNS, STORE
from hub.store.tables import campaign_recipients, consents, conversations, customers, identities, outbox
from hub.store.times import utc
from tests.connectors.conftest import TOKEN, signed_post, sms_params
from tests.outreach.conftest import PUBLIC_URL, World, phone
from tests.waits import eventually

SERVICE_ONLY_POLICY = "rules:\n  - name: service first\n    purposes: [marketing]\n    while_open: {}\n"
TEXTS = {"de": {"text": "Neu: Ökostrom-Tarif."}, "en": {"text": "New: our green tariff."}}


async def population(world: World, groups: dict[str, int]) -> dict[str, list[str]]:
    """Customers in bulk, by group: ``ok`` (a phone, marketing consent on SMS), ``withdrawn``,
    ``silent`` (no consent either way), ``no_phone``, ``busy`` (an open conversation)."""
    now = datetime.now(UTC)
    made: dict[str, list[str]] = {}
    rows: dict[str, list[dict[str, Any]]] = {
        "customers": [],
        "identities": [],
        "consents": [],
        "conversations": [],
    }
    for group, count in groups.items():
        for _ in range(count):
            world.n += 1  # numbered on from the customers the test made before
            n = world.n
            cid = str(uuid.uuid4())
            made.setdefault(group, []).append(cid)
            language = "en" if n % 5 == 0 else "de"
            rows["customers"].append(
                {
                    "id": cid,
                    "name": f"K{n}",
                    "tier": "standard",
                    "attributes": {},
                    "language": language,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if group != "no_phone":
                rows["identities"].append(
                    {"customer_id": cid, "kind": "phone", "value": phone(n), "created_at": now}
                )
            if group != "silent":
                granted = group != "withdrawn"
                rows["consents"].append(
                    {
                        "customer_id": cid,
                        "channel": "sms",
                        "purpose": "marketing",
                        "granted": granted,
                        "source": "form",
                        "updated_at": now - timedelta(days=1),
                    }
                )
            if group == "busy":
                rows["conversations"].append(
                    {
                        "id": str(uuid.uuid4()),
                        "customer_id": cid,
                        "channel": "api",
                        "thread_key": "default",
                        "status": "open",
                        "open_key": f"{cid}|api|default",
                        "needs_routing": False,
                        "message_count": 0,
                        "opened_at": now,
                        "last_message_at": now,
                    }
                )
    tables = {
        "customers": customers,
        "identities": identities,
        "consents": consents,
        "conversations": conversations,
    }
    async with world.hub.app[STORE].write() as conn:
        for name, table in tables.items():
            if rows[name]:
                await conn.execute(sa.insert(table), rows[name])
    return made


async def campaign(world: World, channel: str = "sms", texts: dict[str, Any] = TEXTS, **extra: Any) -> str:
    status, segment = await world.post(
        "/api/v1/segments", {"name": f"Alle {uuid.uuid4()}", "filters": {"language": "de,en"}}, "supervisor"
    )
    assert status == 201, segment
    body = {"name": "Ökostrom", "segment_id": segment["id"], "channel": channel, "texts": texts, **extra}
    status, made = await world.post("/api/v1/campaigns", body, "supervisor")
    assert status == 201, made
    status, started = await world.post(f"/api/v1/campaigns/{made['id']}/start", {}, "supervisor")
    assert status == 200 and started["status"] == "running", started
    return str(made["id"])


async def run(world: World, campaign_id: str) -> dict[str, Any]:
    """Steps until nothing more is taken; the campaign as it then stands."""
    while await world.hub.app[CAMPAIGNS].step(60):
        pass
    await world.hub.app[CAMPAIGNS].step(60)  # the round that finds none left
    return await world.hub.app[CAMPAIGNS].show(campaign_id)


async def test_a_sms_campaign_counts_every_recipient_and_reaches_the_consenting(world: World) -> None:
    await world.policy(SERVICE_ONLY_POLICY)
    people = await population(world, {"ok": 30, "withdrawn": 7, "silent": 5, "no_phone": 4, "busy": 6})
    campaign_id = await campaign(world, queue="marketing", rate_per_minute=60_000)
    shown = await run(world, campaign_id)
    assert shown["status"] == "done" and shown["recipients"] == 52
    results = shown["results"]
    assert (results["sent"], results["skipped"], results["pending"]) == (30, 22, 0)
    assert results["skipped_by_reason"] == {
        "consent withdrawn": 7,
        "no address": 4,
        "no consent": 5,
        "policy: service first": 6,
    }

    async def all_sent() -> bool:
        return len(world.sms.messages) >= 30

    await eventually(all_sent, timeout=60, what="30 SMS at the Twilio double")
    assert len(world.sms.messages) == 30
    to = {m["To"]: m["Body"] for m in world.sms.messages}
    assert to[phone(1)] == "Neu: Ökostrom-Tarif.\n\nKeine Nachrichten mehr? Antworten Sie STOP."
    assert to[phone(5)] == "New: our green tariff.\n\nNo more messages? Reply STOP."

    # an answer reopens the campaign's conversation on its queue; a STOP opts out
    def posted(n: int, body: str) -> Any:
        return signed_post(
            world.hub,
            "/webhooks/twilio/sms",
            sms_params(f"SM-c-{n}", body, sender=phone(n)),
            token=TOKEN,
            signed_url="https://hub.example.com/webhooks/twilio/sms",
        )

    assert (await posted(2, "Klingt gut, rufen Sie mich an")).status == 200
    assert (await posted(3, "STOP")).status == 200
    async with world.hub.app[STORE].read() as conn:
        conv_id = await conn.scalar(
            sa.select(campaign_recipients.c.conversation_id).where(
                campaign_recipients.c.customer_id == people["ok"][1]
            )
        )

    async def on_the_queue() -> bool:
        row = await world.row(conv_id)
        return row.status == "open" and row.queue == "marketing"

    await eventually(on_the_queue, what="the answer waiting on the marketing queue")
    assert (await world.row(conv_id)).route["campaign"]["id"] == campaign_id

    async def counted() -> dict[str, Any]:
        found: dict[str, Any] = (await world.hub.app[CAMPAIGNS].show(campaign_id))["results"]
        return found if found["replied"] >= 1 and found["opted_out"] == 1 else {}

    results = await eventually(counted, what="the reply and the opt-out in the results")
    assert results["replied"] == 1 and results["opted_out"] == 1


async def test_quiet_hours_are_waited_out_and_a_cancel_stops_the_rest(world: World) -> None:
    now = datetime.now(ZoneInfo("Europe/Berlin"))
    start, end = (now - timedelta(hours=1)).strftime("%H:%M"), (now + timedelta(hours=1)).strftime("%H:%M")
    await world.policy(f'rules:\n  - name: nights\n    quiet_hours: {{from: "{start}", to: "{end}"}}\n')
    await population(world, {"ok": 4})
    campaign_id = await campaign(world, rate_per_minute=60_000)
    shown = await run(world, campaign_id)
    assert shown["status"] == "running" and shown["results"]["pending"] == 4 and shown["results"]["sent"] == 0
    async with world.hub.app[STORE].read() as conn:
        waits = set(await conn.scalars(sa.select(campaign_recipients.c.not_before)))
    (until,) = waits
    assert until is not None and utc(until).astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M") == end
    # the hours pass (here: the wait is moved to now), and they go
    async with world.hub.app[STORE].write() as conn:
        await conn.execute(
            sa.update(campaign_recipients).values(not_before=datetime.now(UTC) - timedelta(seconds=1))
        )
    await world.policy("rules: []\n")
    shown = await run(world, campaign_id)
    assert shown["status"] == "done" and shown["results"]["sent"] == 4

    await population(world, {"ok": 3})
    second = await campaign(world, rate_per_minute=1)
    status, cancelled = await world.post(f"/api/v1/campaigns/{second}/cancel", {}, "supervisor")
    assert status == 200 and cancelled["status"] == "cancelled"
    assert await world.hub.app[CAMPAIGNS].step(3600) == 0
    shown = await world.hub.app[CAMPAIGNS].show(second)
    assert shown["results"]["sent"] == 0 and shown["results"]["pending"] == 7
    status, body = await world.post(f"/api/v1/campaigns/{second}/start", {}, "supervisor")
    assert status == 409 and "cancelled" in body["detail"]


async def test_an_email_campaign_can_be_unsubscribed_in_one_click(world: World) -> None:
    await world.policy("rules: []\n")
    customer = await world.customer(role="supervisor", language="de")
    await world.consent(customer, "email", "marketing", True)
    texts = {"de": {"subject": "Unser Angebot", "text": "Hallo!"}}
    status, refused = await world.post(
        "/api/v1/campaigns",
        {"name": "x", "segment_id": "nope", "channel": "email", "texts": {"de": {"text": "ohne Betreff"}}},
        "supervisor",
    )
    assert status == 422 and refused["field"] == "texts.de"
    status, refused = await world.post(
        "/api/v1/campaigns",
        {"name": "x", "segment_id": "nope", "channel": "sms", "texts": {"de": {"text": "   "}}},
        "supervisor",
    )
    assert status == 422 and "write the message" in refused["detail"], (
        "a blank text would send the opt-out alone"
    )
    campaign_id = await campaign(world, channel="email", texts=texts, queue="marketing")
    shown = await run(world, campaign_id)
    assert shown["results"]["sent"] == 1, shown

    async def mailed() -> Any:
        return world.mail.received[0] if world.mail.received else None

    mail = await eventually(mailed, what="the campaign mail at the SMTP peer")
    link = mail["List-Unsubscribe"].strip("<>")
    assert (
        link.startswith(f"{PUBLIC_URL}/u/") and mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    )
    assert mail["Subject"].startswith("Unser Angebot [#")
    path = link.removeprefix(PUBLIC_URL)
    page = await world.hub.client.get(path, headers={"Accept-Language": "de-DE"})
    assert page.status == 200 and "Abmelden" in await page.text()
    async with world.hub.app[STORE].read() as conn:
        still = await conn.scalar(sa.select(consents.c.granted).where(consents.c.customer_id == customer))
    assert still is True, "opening the link changed nothing"
    done = await world.hub.client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status == 200 and "unsubscribed" in await done.text()
    async with world.hub.app[STORE].read() as conn:
        row = (await conn.execute(sa.select(consents).where(consents.c.customer_id == customer))).one()
    assert row.granted is False and row.source.startswith("email:unsubscribe")
    assert (await world.hub.app[CAMPAIGNS].show(campaign_id))["results"]["opted_out"] == 1
    unknown = await world.hub.client.post("/u/not-a-token", data={})
    assert unknown.status == 404

    # the customer's answer reopens the campaign's conversation on the marketing queue
    await world.answer_mail(mail, "Was kostet das?")
    async with world.hub.app[STORE].read() as conn:
        conv_id = await conn.scalar(sa.select(campaign_recipients.c.conversation_id))

    async def reopened() -> bool:
        row = await world.row(conv_id)
        return row.status == "open" and row.queue == "marketing"

    await eventually(reopened, what="the answer on the marketing queue")
    async with world.hub.app[STORE].read() as conn:
        sent = await conn.scalar(sa.select(sa.func.count()).select_from(outbox))
    assert sent == 1
