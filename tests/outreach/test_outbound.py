"""Agents start conversations, on both backends: an email through aiosmtpd whose answer
joins the conversation, an SMS through the real twilio library against the local Twilio
double, a callback task on a queue; consent per channel and purpose; every rule of the
contact policy with its explanation, in the customer's time zone; a supervisor's override,
audited; the policy's versions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from hub.keys import CONTACT_POLICY, STORE
from hub.store.tables import agents, conversations, outbound_contacts
from hub.store.threads import conversation_ref
from tests.connectors.conftest import NUMBER
from tests.connectors.email.smtp_peer import body_text
from tests.outreach.conftest import DOMAIN, World, add_agent, phone
from tests.waits import eventually

# --- outbound on each channel -------------------------------------------------------------


async def test_an_email_goes_out_and_the_answer_joins_the_conversation(world: World) -> None:
    customer = await world.customer()
    status, started = await world.start(customer)
    assert status == 201, started
    conv_id = started["id"]
    assert started["to"] == "kundin1@example.com" and started["department"] == "service"

    async def sent() -> Any:
        return world.mail.received[0] if world.mail.received else None

    mail = await eventually(sent, what="the email at the SMTP peer")
    ref = conversation_ref(conv_id)
    assert mail["Subject"] == f"Ihr Zählerwechsel [#{ref}]"
    assert mail["To"] == "kundin1@example.com" and f"service@{DOMAIN}" in mail["From"]
    assert body_text(mail, "plain").startswith("Guten Tag, wir melden uns.")
    row = await world.row(conv_id)
    assert row.status == "open" and row.channel == "email" and row.needs_routing is False
    assert row.route["department"] == "service" and row.first_response_at is not None
    (event,) = await world.events(conv_id, "conversation.started")
    assert event.data["department"] == "service" and event.data["purpose"] == "service"

    await world.answer_mail(mail, "Danke, passt.")

    async def joined() -> bool:
        return (await world.row(conv_id)).message_count == 2

    await eventually(joined, what="the answer in the started conversation")
    async with world.hub.app[STORE].read() as conn:
        agent = await conn.scalar(sa.select(agents.c.id).where(agents.c.email == "agent@test.example"))
    assert (await world.row(conv_id)).assignee_id == agent

    # what an email needs, said clearly
    status, body = await world.start(customer, subject="  ")
    assert status == 422 and body["field"] == "subject"
    status, body = await world.start(customer, mailbox="vertrieb")
    assert status == 422 and "no mailbox 'vertrieb'" in body["detail"]
    status, body = await world.start(customer, to="fremd@example.com")
    assert status == 422 and body["field"] == "to"


async def test_an_sms_goes_out_through_twilio_and_a_callback_waits_on_a_queue(world: World) -> None:
    customer = await world.customer()
    status, started = await world.start(customer, channel="sms", text="Ihr Termin ist morgen um 9 Uhr.")
    assert status == 201, started

    async def sent() -> Any:
        return world.sms.messages[0] if world.sms.messages else None

    sms = await eventually(sent, what="the SMS at the Twilio double")
    assert (sms["To"], sms["From"], sms["Body"]) == (phone(1), NUMBER, "Ihr Termin ist morgen um 9 Uhr.")
    # one open SMS conversation per customer: a second start is told where to write
    status, body = await world.start(customer, channel="sms", text="Noch etwas")
    assert status == 409 and f"#{conversation_ref(started['id'])}" in body["detail"]

    status, task = await world.start(
        customer, channel="voice", text="Rückruf wegen Zählerstand", queue="service"
    )
    assert status == 201, task
    assert task["to"] == phone(1) and task["message_id"] is None
    row = await world.row(task["id"])
    assert row.queue == "service" and row.assignee_id is None and row.message_count == 0
    (event,) = await world.events(task["id"], "conversation.callback_task")
    assert event.data["to"] == phone(1) and event.data["text"] == "Rückruf wegen Zählerstand"
    status, body = await world.start(customer, channel="sms", text="x", queue="service")
    assert status == 422 and body["field"] == "queue"


async def test_consent_is_checked_per_channel_and_purpose(world: World) -> None:
    await world.policy("rules: []\n")
    customer = await world.customer()
    status, body = await world.start(customer, purpose="marketing")
    assert status == 409 and "has not consented to marketing on email" in body["detail"]
    await world.consent(customer, "email", "marketing", True)
    status, body = await world.start(customer, purpose="marketing", subject="Unser Angebot")
    assert status == 201, body
    await world.consent(customer, "sms", "service", False)
    status, body = await world.start(customer, channel="sms", text="Hallo")
    assert status == 409 and "withdrew consent for service on sms" in body["detail"]
    async with world.hub.app[STORE].read() as conn:
        counted = (await conn.execute(sa.select(outbound_contacts))).all()
    assert [(c.channel, c.purpose, c.department) for c in counted] == [("email", "marketing", "service")]


# --- the contact policy ---------------------------------------------------------------------


async def marketing_ready(world: World, role: str = "agent", **fields: Any) -> str:
    customer = await world.customer(role, **fields)
    await world.consent(customer, "email", "marketing", True)
    await world.consent(customer, "sms", "marketing", True)
    return customer


async def test_an_open_service_conversation_or_a_recent_complaint_blocks_marketing(world: World) -> None:
    _, sales = await add_agent(world, "sven", ["sales"])
    world.roles["sales"] = sales
    customer = await marketing_ready(world, role="sales")  # sven created the record: he sees it
    complaint = await world.inbound(1, "Meine Rechnung ist falsch!")
    status, body = await world.start(customer, role="sales", purpose="marketing", subject="Neues Angebot")
    assert status == 409 and body["type"].endswith("/contact-policy")
    (block,) = body["errors"]
    assert block["rule"] == "no marketing while service is talking" and block["conversation_id"] == complaint
    assert f"service conversation #{conversation_ref(complaint)} is open since" in block["message"]
    # the same answer before writing
    status, checked = await world.post(
        "/api/v1/contact-policy/check",
        {"customer_id": customer, "channel": "email", "purpose": "marketing"},
        "sales",
    )
    assert status == 200 and checked["allowed"] is False and checked["blocks"] == body["errors"]
    # service itself may still write: the rule is about marketing
    status, checked = await world.post(
        "/api/v1/contact-policy/check", {"customer_id": customer, "channel": "email"}, "sales"
    )
    assert checked == {"allowed": True, "blocks": []}
    # a sales agent speaks for sales, not for service
    status, body = await world.start(customer, role="sales", department="service")
    assert status == 422 and body["field"] == "department"

    tagged = await world.hub.client.put(
        f"/api/v1/conversations/{complaint}/tags",
        json={"tags": ["complaint"]},
        headers=world.roles["supervisor"],
    )
    assert tagged.status == 200, await tagged.text()
    closed = await world.hub.client.post(
        f"/api/v1/conversations/{complaint}/close", headers=world.roles["supervisor"]
    )
    assert closed.status == 200, await closed.text()
    status, body = await world.start(customer, role="sales", purpose="marketing", subject="Neues Angebot")
    assert status == 409
    (block,) = body["errors"]
    assert block["rule"] == "no marketing soon after a complaint" and block["conversation_id"] == complaint
    assert f"complaint conversation #{conversation_ref(complaint)} closed on" in block["message"]
    closed_at = (await world.row(complaint)).closed_at
    until = datetime.fromisoformat(block["until"])
    assert until - closed_at.replace(tzinfo=UTC) == timedelta(days=14)


async def test_a_frequency_cap_counts_every_department(world: World) -> None:
    await world.policy(
        "rules:\n  - name: one offer a week\n    purposes: [marketing]\n    at_most: {contacts: 1, days: 7}\n"
    )
    _, sales = await add_agent(world, "sina", ["sales"])
    world.roles["sales"] = sales
    customer = await marketing_ready(world, role="sales")
    status, first = await world.start(customer, role="sales", purpose="marketing", subject="Angebot")
    assert status == 201, first
    status, body = await world.start(
        customer, role="supervisor", purpose="marketing", channel="sms", text="Noch ein Angebot"
    )
    assert status == 409
    (block,) = body["errors"]
    assert block["rule"] == "one offer a week" and block["contacts"] == 1
    assert "1 marketing contacts in the last 7 days (at most 1)" in block["message"]
    # merged into another record, the contacts count for the survivor
    survivor = await marketing_ready(world, role="sales")
    merged = await world.hub.client.post(
        f"/api/v1/customers/{survivor}/merge", json={"other_id": customer}, headers=world.roles["supervisor"]
    )
    assert merged.status == 200, await merged.text()
    status, body = await world.start(survivor, role="supervisor", purpose="marketing", subject="Angebot")
    assert status == 409 and body["errors"][0]["rule"] == "one offer a week"
    customer = survivor
    # service contact is not capped by a marketing rule
    status, body = await world.start(
        customer, role="supervisor", channel="sms", text="Ihr Zähler wird getauscht."
    )
    assert status == 201, body


async def test_quiet_hours_are_the_customers(world: World) -> None:
    now_ny = datetime.now(ZoneInfo("America/New_York"))
    start, end = (
        (now_ny - timedelta(hours=1)).strftime("%H:%M"),
        (now_ny + timedelta(hours=1)).strftime("%H:%M"),
    )
    await world.policy(
        "rules:\n  - name: quiet nights\n    channels: [sms]\n"
        f'    quiet_hours: {{from: "{start}", to: "{end}"}}\n'
    )
    in_new_york = await world.customer(time_zone="America/New_York")
    status, body = await world.start(in_new_york, channel="sms", text="Hallo")
    assert status == 409
    (block,) = body["errors"]
    assert f"for the customer (America/New_York); sms is quiet from {start} to {end}" in block["message"]
    assert datetime.fromisoformat(block["until"]) > datetime.now(UTC)
    # a New York number without a named zone is in New York's time too
    by_number = await world.customer(phone="+12125550147")
    status, body = await world.start(by_number, channel="sms", text="Hallo")
    assert status == 409 and "(America/New_York)" in body["detail"]
    # in Tokyo it is the middle of another day: the same policy lets it go; email is not quiet
    in_tokyo = await world.customer(time_zone="Asia/Tokyo")
    status, body = await world.start(in_tokyo, channel="sms", text="Hallo")
    assert status == 201, body
    status, body = await world.start(in_new_york)
    assert status == 201, body


async def test_key_accounts_and_a_supervisors_override(world: World) -> None:
    async with world.hub.app[STORE].read() as conn:
        manager = await conn.scalar(sa.select(agents.c.id).where(agents.c.email == "supervisor@test.example"))
    customer = await marketing_ready(world)
    made = await world.hub.client.patch(
        f"/api/v1/customers/{customer}",
        json={"key_account": True, "key_account_manager_id": manager},
        headers=world.roles["supervisor"],
    )
    assert made.status == 200, await made.text()
    status, body = await world.start(customer, purpose="marketing", subject="Angebot")
    assert status == 409
    (block,) = body["errors"]
    assert block["rule"] == "key accounts through their manager" and block["manager_id"] == manager
    assert "only their manager Supervisor contacts them" in block["message"]
    # an agent cannot override; a supervisor can, with a reason that is audited
    status, body = await world.start(
        customer, purpose="marketing", subject="Angebot", override="Kunde bat darum"
    )
    assert status == 403
    async with world.hub.app[STORE].read() as conn:
        other = await conn.scalar(sa.select(agents.c.id).where(agents.c.email == "admin@test.example"))
    resp = await world.hub.client.patch(
        f"/api/v1/customers/{customer}",
        json={"key_account_manager_id": other},
        headers=world.roles["supervisor"],
    )
    assert resp.status == 200
    status, body = await world.start(customer, role="supervisor", purpose="marketing", subject="Angebot")
    assert status == 409 and "only their manager Admin" in body["detail"]
    status, started = await world.start(
        customer,
        role="supervisor",
        purpose="marketing",
        subject="Angebot",
        override="Kunde bat am Telefon darum",
    )
    assert status == 201, started
    assert [b["rule"] for b in started["overridden"]] == ["key accounts through their manager"]
    (audit,) = await world.events(started["id"], "contact_policy.overridden")
    assert audit.reason == "Kunde bat am Telefon darum" and audit.actor.startswith("agent:")
    assert audit.data["rules"] == ["key accounts through their manager"]
    async with world.hub.app[STORE].read() as conn:
        contact = (
            await conn.execute(
                sa.select(outbound_contacts).where(outbound_contacts.c.conversation_id == started["id"])
            )
        ).one()
    assert contact.overridden == "Kunde bat am Telefon darum"


async def test_a_customer_the_agent_cannot_see_is_not_found(world: World) -> None:
    hidden = await world.customer(role="supervisor")  # nothing of it is the agent's
    status, body = await world.start(hidden)
    assert status == 404 and body["detail"] == f"no customer with id {hidden}"
    status, body = await world.post(
        "/api/v1/contact-policy/check", {"customer_id": hidden, "channel": "email"}, "agent"
    )
    assert status == 404
    # a supervisor sees every customer; one that does not exist is a 404 all the same (was a 409)
    status, body = await world.post(
        "/api/v1/contact-policy/check", {"customer_id": "0", "channel": "email"}, "supervisor"
    )
    assert status == 404 and body["detail"] == "no customer with id 0"
    status, body = await world.start("0", role="supervisor")
    assert status == 404 and body["detail"] == "no customer with id 0"


async def test_the_policy_is_versioned_and_checked(world: World) -> None:
    resp = await world.hub.client.put(
        "/api/v1/contact-policy",
        data='rules:\n  - name: nights\n    quiet_hours: {from: 20:00, to: "08:00"}\n',
        headers={**world.roles["admin"], "Content-Type": "application/yaml"},
    )
    assert resp.status == 422
    (error,) = (await resp.json())["errors"]
    assert error["field"] == "rules[0].quiet_hours.from" and "in quotes" in error["message"]
    await world.policy('rules:\n  - name: nights\n    quiet_hours: {from: "20:00", to: "08:00"}\n')
    assert [r.name for r in world.hub.app[CONTACT_POLICY].policy.rules] == ["nights"]
    listed = await (
        await world.hub.client.get("/api/v1/contact-policy/versions", headers=world.roles["supervisor"])
    ).json()
    assert [v["version"] for v in listed["items"]] == [2, 1]  # the fixture saved the first
    denied = await world.hub.client.put(
        "/api/v1/contact-policy",
        data="rules: []\n",
        headers={**world.roles["supervisor"], "Content-Type": "application/yaml"},
    )
    assert denied.status == 403


async def test_two_starts_on_one_thread_at_once_open_one_conversation(world: World) -> None:
    """Regression: two SMS starts at the same moment raced to the customer's one open SMS
    thread; the loser's insert hit the unique key (a 500). One opens it, the other is told."""
    customer = await world.customer()
    results = await asyncio.gather(
        *(world.start(customer, channel="sms", text=f"Nachricht {n}") for n in range(4))
    )
    assert sorted(status for status, _ in results) == [201, 409, 409, 409], results
    assert all(
        "conversation with this customer" in body["detail"] for status, body in results if status == 409
    )
    async with world.hub.app[STORE].read() as conn:
        opened = await conn.scalar(
            sa.select(sa.func.count()).where(
                conversations.c.customer_id == customer, conversations.c.channel == "sms"
            )
        )
        counted = await conn.scalar(
            sa.select(sa.func.count()).where(outbound_contacts.c.customer_id == customer)
        )
    assert (opened, counted) == (1, 1)
