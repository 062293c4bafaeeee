"""A sales agent starts a conversation from the customer panel, in real Chromium: an
offer by email to a customer whose complaint is open in service is blocked before anything
is written, with the rule and the conflicting conversation; the same customer may be
written to for service, and the new conversation opens."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest_asyncio
import sqlalchemy as sa
from aiohttp.test_utils import TestServer

from hub.keys import QUEUE, STORE
from hub.model import Address, AddressKind, Channel, InboundMessage, ThreadHint
from hub.store.tables import consents, conversations, customers, messages
from hub.store.threads import conversation_ref
from tests.conftest import drop_backend, make_settings
from tests.connectors.email.smtp_peer import Peer
from tests.e2e.conftest import E2E, LiveHub, Replies, _need_browser, add_agent, sign_in
from tests.helpers import inbound
from tests.waits import eventually

pytestmark = E2E


@dataclass
class Mailing:
    hub: LiveHub
    mail: Peer


@pytest_asyncio.fixture(loop_scope="session")
async def mailing_hub(tmp_path: Path) -> AsyncIterator[Mailing]:
    _need_browser()
    from hub.app import create_app

    mail = Peer()
    mail.start()
    settings = make_settings(
        tmp_path,
        "embedded",
        **{
            "server.public_url": "http://127.0.0.1",  # campaign emails' unsubscribe links
            "connectors.email.enabled": True,
            "connectors.email.domain": "hub.e2e.example",
            "connectors.email.from_address": "service@e2e.example",
            "connectors.email.smtp": {
                "host": "127.0.0.1",
                "port": mail.port,
                "security": "none",
                "timeout": 5.0,
            },
        },
    )
    app = create_app(settings, migrate=True)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield Mailing(LiveHub(str(server.make_url("")).rstrip("/"), app, "", {}, Replies()), mail)
    finally:
        await server.close()
        mail.stop()
        await drop_backend(settings)


async def call(page: Any, method: str, path: str, body: Any = None) -> Any:
    """The console's own API client, from the page (the signed-in agent's session)."""
    return await page.evaluate(
        "async ([method, path, body]) => { const { api } = await import('/console/js/api.js');"
        " return api(method, path, body ?? undefined); }",
        [method, path, body],
    )


async def test_a_sales_offer_is_blocked_by_an_open_complaint(mailing_hub: Mailing, browser: Any) -> None:
    hub = mailing_hub.hub
    await add_agent(hub, "sven@e2e.example", "Sven Sales", "agent", departments=["sales"])
    sven = await sign_in(browser, hub, "sven@e2e.example")
    # Sven took Karla on as a lead: her record, her consent to offers by email, his first mail
    karla = await call(
        sven,
        "POST",
        "/api/v1/customers",
        {"name": "Karla Kunde", "identities": [{"kind": "email", "value": "karla@kunde.example"}]},
    )
    async with hub.app[STORE].write() as conn:
        await conn.execute(
            sa.insert(consents).values(
                customer_id=karla["id"],
                channel="email",
                purpose="marketing",
                granted=True,
                source="form",
                updated_at=datetime.now(UTC),
            )
        )
    first = await call(
        sven,
        "POST",
        "/api/v1/conversations",
        {"customer_id": karla["id"], "channel": "email", "subject": "Ihr Angebot", "text": "Wie besprochen."},
    )
    # then Karla complains to service, on another channel
    complaint_msg = inbound(
        f"complaint-{uuid.uuid4()}", "karla@kunde.example", text="Die Rechnung ist falsch!"
    )
    await hub.app[QUEUE].append(complaint_msg)

    async def complaint() -> Any:
        async with hub.app[STORE].read() as conn:
            return await conn.scalar(
                sa.select(messages.c.conversation_id).where(
                    messages.c.external_id == complaint_msg.external_id
                )
            )

    complaint_id = await eventually(complaint, what="the complaint stored")

    await sven.goto(f"{hub.url}/console/#/c/{first['id']}")
    await sven.click("#cust-start")
    await sven.wait_for_selector("dialog.start-dialog")
    await sven.select_option("#out-purpose", "marketing")
    block = sven.locator("#out-blocks .policy-block")
    await block.wait_for()
    said = await block.inner_text()
    assert f"service conversation #{conversation_ref(complaint_id)} is open since" in said
    assert "no marketing while service is talking" in said
    assert await sven.get_attribute("#out-blocks a", "href") == f"#/c/{complaint_id}"
    assert await sven.is_disabled("#out-send"), "an agent cannot send past the policy"
    assert await sven.is_hidden("#out-override")

    # for service the way is free: the mail goes, and the new conversation opens
    await sven.select_option("#out-purpose", "service")
    await sven.wait_for_selector("#out-blocks:empty", state="attached")
    assert await sven.is_enabled("#out-send")
    await sven.fill("#out-subject", "Ihre Rechnung")
    await sven.fill("#out-text", "Wir sehen uns Ihre Rechnung an.")
    await sven.click("#out-send")
    await sven.wait_for_function(f"location.hash.startsWith('#/c/') && location.hash !== '#/c/{first['id']}'")
    started = (await sven.evaluate("location.hash")).removeprefix("#/c/")
    await sven.wait_for_selector(".msg-text >> text=Wir sehen uns Ihre Rechnung an.")
    async with hub.app[STORE].read() as conn:
        row = (await conn.execute(sa.select(conversations).where(conversations.c.id == started))).one()
    assert row.route["department"] == "sales" and row.customer_id == karla["id"]

    async def delivered() -> bool:
        return any(
            m["Subject"] == f"Ihre Rechnung [#{conversation_ref(started)}]" for m in mailing_hub.mail.received
        )

    await eventually(delivered, what="the mail at the SMTP peer")


async def test_a_supervisor_runs_a_campaign_from_the_console(mailing_hub: Mailing, browser: Any) -> None:
    hub = mailing_hub.hub
    await add_agent(hub, "lea@e2e.example", "Lea Lead", "supervisor", departments=["marketing"])
    lea = await sign_in(browser, hub, "lea@e2e.example", locale="de-DE")
    segment = await call(
        lea, "POST", "/api/v1/segments", {"name": "Deutschsprachig", "filters": {"language": "de"}}
    )
    await lea.goto(f"{hub.url}/console/#/campaigns")
    form = lea.locator("#campaign-form")
    await form.wait_for()
    await form.locator("input[name=name]").fill("Winterangebot")
    await form.locator("select[name=segment_id]").select_option(segment["id"])
    await form.locator("select[name=channel]").select_option("email")
    await form.locator("input[name=subject_de]").fill("Unser Winterangebot")
    await form.locator("textarea[name=text_de]").fill("Jetzt wechseln.")
    await form.locator("button[type=submit]").click()
    row = lea.locator("#campaigns tbody tr", has_text="Winterangebot")
    await row.locator("td.status", has_text="Entwurf").wait_for()
    await row.locator("button[data-act=start]").click()
    # the segment is empty in this fresh hub: the campaign runs to its end at once
    await (
        row.locator("td.status", has_text="Läuft").or_(row.locator("td.status", has_text="Fertig")).wait_for()
    )
    shown = await call(lea, "GET", "/api/v1/campaigns")
    assert [c["name"] for c in shown["items"]] == ["Winterangebot"]
    assert shown["items"][0]["status"] in ("running", "done")
    # its results in the reports, by the segment it went to (the default range ends with today)
    await lea.goto(f"{hub.url}/console/#/reports")
    await lea.locator("#campaign-results tbody tr", has_text="Winterangebot").wait_for()
    assert await lea.inner_text("#camp-title") == "Kampagnen"
    row = lea.locator("#campaign-segments tbody tr", has_text="Deutschsprachig")
    assert await row.locator("td[data-figure=recipients]").inner_text() == "0"


async def test_a_key_account_manager_lets_sales_in(mailing_hub: Mailing, browser: Any) -> None:
    hub = mailing_hub.hub
    kai = await add_agent(hub, "kai@e2e.example", "Kai Kam", "agent", departments=["sales"])
    msg = inbound(f"ka-{uuid.uuid4()}", "einkauf@grosskunde.example", text="Bitte um Rückruf")
    await hub.app[QUEUE].append(msg)

    async def stored() -> Any:
        async with hub.app[STORE].read() as conn:
            return (
                await conn.execute(
                    sa.select(messages.c.conversation_id, messages.c.customer_id).where(
                        messages.c.external_id == msg.external_id
                    )
                )
            ).one_or_none()

    conv_id, customer_id = await eventually(stored, what="the key account's message stored")
    async with hub.app[STORE].write() as conn:
        await conn.execute(
            sa.update(customers)
            .where(customers.c.id == customer_id)
            .values(key_account=True, key_account_manager_id=kai)
        )
    page = await sign_in(browser, hub, "kai@e2e.example")
    await page.goto(f"{hub.url}/console/#/c/{conv_id}")
    await page.wait_for_selector("#approval-form")
    await page.fill("#appr-department", "sales")
    await page.select_option("#appr-purpose", "marketing")
    await page.fill("#appr-days", "14")
    await page.click("#appr-grant")
    item = page.locator("#contact-approvals .approval")
    await item.wait_for()
    assert (await item.inner_text()).startswith("sales · Marketing until")
    await page.click("#contact-approvals .revoke-approval")
    await page.wait_for_selector("#contact-approvals >> text=Nobody else may contact this account now.")


async def test_the_rnd_view_shows_feedback_from_an_sms_and_an_email(live_hub: LiveHub, browser: Any) -> None:
    sent = [
        InboundMessage(
            channel=Channel.SMS,
            external_id="SM-rnd-1",
            sender=Address(AddressKind.PHONE, "+4917612340001"),
            sender_name="Sina SMS",
            thread_hint=ThreadHint(),
            subject=None,
            text="Die Wärmepumpe brummt nachts.",
            received_at=datetime.now(UTC),
        ),
        InboundMessage(
            channel=Channel.EMAIL,
            external_id="<rnd-1@kunde.example>",
            sender=Address(AddressKind.EMAIL, "mail@kunde.example"),
            sender_name="Mail Kunde",
            thread_hint=ThreadHint(key="rnd-1"),
            subject="App",
            text="Die App meldet mich ständig ab.",
            received_at=datetime.now(UTC),
        ),
    ]
    for message in sent:
        await live_hub.app[QUEUE].append(message)

    async def both_waiting() -> Any:
        async with live_hub.app[STORE].read() as conn:
            rows = (
                await conn.execute(
                    sa.select(messages.c.id, messages.c.conversation_id, conversations.c.queue)
                    .join(conversations, conversations.c.id == messages.c.conversation_id)
                    .where(messages.c.text.in_([m.text for m in sent]))
                    .order_by(messages.c.channel)
                )
            ).all()
        return rows if len(rows) == 2 and all(r.queue for r in rows) else None

    mail, sms = await eventually(both_waiting, what="both messages routed")
    # Anna (service) marks them from the conversation, one in the console, one by the API
    anna = await sign_in(browser, live_hub, "anna@e2e.example", locale="de-DE")
    await anna.goto(f"{live_hub.url}/console/#/c/{mail.conversation_id}")
    await anna.click(f'.feedback-mark[data-message="{mail.id}"]')
    await anna.fill("#fb-product", "App")
    await anna.fill("#fb-theme", "Abmeldung")
    await anna.click("dialog button[type=submit]")
    await anna.wait_for_selector(".event-label >> text=Als Produktfeedback markiert: App · Abmeldung")
    await call(
        anna, "POST", f"/api/v1/messages/{sms.id}/feedback", {"product": "Wärmepumpe", "theme": "Geräusch"}
    )
    assert await anna.get_attribute("#nav-feedback", "hidden") is not None, (
        "service does not read the R&D view"
    )

    await add_agent(live_hub, "rolf@e2e.example", "Rolf RnD", "agent", departments=["rnd"])
    rolf = await sign_in(browser, live_hub, "rolf@e2e.example", locale="de-DE")
    await rolf.wait_for_selector('#nav-feedback[data-checked="1"]:not([hidden])')
    await rolf.click("#nav-feedback")
    items = rolf.locator("#feedback-items .fb-item")
    await items.nth(1).wait_for()
    texts = await items.locator(".fb-text").all_inner_texts()
    assert sorted(texts) == ["Die App meldet mich ständig ab.", "Die Wärmepumpe brummt nachts."]
    assert await rolf.locator("#fb-by-channel tr").count() == 2
    assert "Wärmepumpe" in await rolf.inner_text("#fb-by-product")
