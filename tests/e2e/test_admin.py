"""The admin pages in real Chromium: a routing rule added, refused while its condition
is wrong, simulated, saved and rolled back, with signed SMS webhooks routed by each
version; an agent created in the pages signs in to the console; every page in German."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import sqlalchemy as sa
from aiohttp.test_utils import TestServer
from twilio.request_validator import RequestValidator

from hub.keys import RECORDS, ROUTING, STORE
from hub.store.tables import agents, conversations
from tests.conftest import drop_backend, make_settings
from tests.e2e.conftest import E2E, PASSWORD, RULES, _need_browser

pytestmark = E2E

ACCOUNT, TOKEN, NUMBER = "AC" + "4" * 32, "admin-e2e-auth-token", "+493012345678"
PUBLIC = "https://hub.example.com"  # what Twilio signs; the test posts to the real port


class AdminHub:
    def __init__(self, url: str, app: Any) -> None:
        self.url, self.app = url, app


@pytest_asyncio.fixture(loop_scope="session")
async def admin_hub(tmp_path: Path) -> AsyncIterator[AdminHub]:
    _need_browser()
    from hub.app import create_app
    from hub.auth.sessions import hash_password

    (tmp_path / "routing.yaml").write_text(RULES)
    settings = make_settings(
        tmp_path,
        "embedded",
        **{
            "connectors.twilio.enabled": True,
            "connectors.twilio.public_url": PUBLIC,
            "connectors.twilio.accounts": [
                {"account_sid": ACCOUNT, "auth_token": TOKEN, "numbers": [NUMBER]}
            ],
        },
    )
    app = create_app(settings, migrate=True)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with app[STORE].write() as conn:
        await conn.execute(
            sa.insert(agents).values(
                id=str(uuid.uuid4()),
                email="ada@e2e.example",
                name="Ada Admin",
                role="admin",
                password_hash=hash_password(PASSWORD),
                presence="offline",
                languages=["de"],
                departments=[],
                capacity={},
                active=True,
                created_at=datetime.now(UTC),
            )
        )
    yield AdminHub(str(server.make_url("")).rstrip("/"), app)
    await server.close()
    await drop_backend(settings)


@pytest.fixture
def chromium(browser: Any) -> Any:
    """The run's Chromium (tests/e2e/conftest.py)."""
    return browser


async def admin_page(browser: Any, hub: AdminHub, locale: str = "en-GB") -> Any:
    context = await browser.new_context(
        locale=locale, viewport={"width": 1400, "height": 1000}, bypass_csp=True
    )
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.goto(f"{hub.url}/admin/")
    await page.fill("input[name=email]", "ada@e2e.example")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#rules-form")
    return page


async def platinum_customer(hub: AdminHub, phone: str) -> str:
    async with hub.app[STORE].write() as conn:
        return await hub.app[RECORDS].create(
            conn, {"name": f"Platin {phone[-2:]}", "key_account": True}, [("phone", phone)], "test"
        )


async def signed_sms(hub: AdminHub, sender: str, body: str) -> None:
    params = {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": ACCOUNT,
        "From": sender,
        "To": NUMBER,
        "Body": body,
        "NumMedia": "0",
    }
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + "/webhooks/twilio/sms", params)
    async with aiohttp.ClientSession() as http:
        resp = await http.post(
            f"{hub.url}/webhooks/twilio/sms", data=params, headers={"X-Twilio-Signature": signature}
        )
        assert resp.status == 200, await resp.text()


async def queue_of(hub: AdminHub, customer_id: str, timeout: float = 20) -> str:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with hub.app[STORE].read() as conn:
            queue = await conn.scalar(
                sa.select(conversations.c.queue).where(conversations.c.customer_id == customer_id)
            )
        if queue or asyncio.get_running_loop().time() > deadline:
            assert queue, "the conversation was not routed"
            return str(queue)
        await asyncio.sleep(0.1)


async def test_a_rule_is_refused_while_wrong_simulated_saved_routed_and_rolled_back(
    admin_hub: AdminHub, chromium: Any
) -> None:
    page = await admin_page(chromium, admin_hub)
    before = admin_hub.app[ROUTING].version
    await page.click("#add-rule")
    await page.fill("#rule-0-name", "platinum sms")
    await page.select_option("#rule-0-target-0-queue", "vip")
    await page.fill("#rule-0-when", 'customer.tier == "platinum" and channel = "sms"')

    # the hub's verdict, inline under the condition, with the position marked
    error = page.locator(
        '[data-path="rules[0].when"] ~ .field-error, label:has([data-path="rules[0].when"]) + .field-error'
    )
    await error.wait_for(timeout=5000)
    assert await error.locator("mark").inner_text() == "=", "the offending character is marked"
    assert "(at character 41)" in await error.inner_text()
    assert await page.get_attribute("#rule-0-when", "aria-invalid") == "true"
    assert await page.is_disabled("#rules-save"), "an invalid draft cannot be saved"
    await page.click("#rules-save", force=True)
    await asyncio.sleep(0.5)  # a window, not a wait: nothing may be saved meanwhile
    assert admin_hub.app[ROUTING].version == before, "nothing was saved"

    # fixed: valid, and the simulator shows the draft rule matching a platinum SMS
    await page.fill("#rule-0-when", 'customer.tier == "platinum" and channel == "sms"')
    await page.wait_for_selector("#rules-status.good", timeout=5000)
    assert await page.locator(".field-error").count() == 0
    assert "vip" in await page.inner_text("#rules-diff")
    await page.select_option("#sim-tier", "platinum")
    await page.select_option("#sim-channel", "sms")
    await page.select_option("#sim-against", "draft")
    await page.click("#sim-run")
    decision = page.locator("#sim-decision")
    await decision.wait_for()
    text = await decision.inner_text()
    assert "platinum sms" in text and "vip" in text
    await page.select_option("#sim-against", "live")
    await page.click("#sim-run")
    await page.wait_for_function(
        "!document.querySelector('#sim-decision').innerText.includes('platinum sms')"
    )

    # saved: a new version; a signed SMS from a platinum customer lands in vip
    await page.fill("#rules-comment", "Platin-SMS an VIP")
    await page.click("#rules-save")
    await page.wait_for_selector(f"#version-{before + 1}")
    assert admin_hub.app[ROUTING].version == before + 1
    first = await platinum_customer(admin_hub, "+4917600000001")
    await signed_sms(admin_hub, "+4917600000001", "Hallo, bitte zurückrufen")
    assert await queue_of(admin_hub, first) == "vip"

    # the history shows who changed what; one click rolls back
    row = page.locator(f"#version-{before + 1}")
    assert "Platin-SMS an VIP" in await row.inner_text()
    await row.get_by_role("button", name="Show changes").click()
    await page.wait_for_selector("#version-detail pre.diff")
    assert "platinum sms" in await page.inner_text("#version-detail")
    await page.locator(f"#version-{before} button.rollback").click()
    await page.wait_for_selector(f"#version-{before + 2}")
    assert admin_hub.app[ROUTING].version == before + 2
    second = await platinum_customer(admin_hub, "+4917600000002")
    await signed_sms(admin_hub, "+4917600000002", "Noch eine Frage")
    assert await queue_of(admin_hub, second) == "service", "the earlier behaviour is back"
    assert page.errors == []


async def test_an_agent_made_in_the_admin_pages_signs_in_with_their_skills(
    admin_hub: AdminHub, chromium: Any
) -> None:
    page = await admin_page(chromium, admin_hub)
    await page.click("#nav-agents")
    await page.click("#new-agent")
    await page.fill("#agent-name", "Nina Neu")
    await page.fill("#agent-email", "nina@e2e.example")
    await page.fill("#agent-languages", "de, fr")
    await page.check("#agent-dept-sales")
    await page.fill("#agent-teams", "key_accounts")
    await page.fill("#agent-cap-chat", "2")
    await page.fill("#agent-cap-email", "5")
    await page.check("#access-password")
    await page.click("#agent-save")
    password = await page.inner_text(".shown-once code.once")
    assert len(password) >= 10

    context = await chromium.new_context(locale="de-DE", bypass_csp=True)
    console = await context.new_page()
    await console.goto(f"{admin_hub.url}/console/")
    await console.fill("input[name=email]", "nina@e2e.example")
    await console.fill("input[name=password]", password)
    await console.click("button[type=submit]")
    await console.wait_for_selector("#live-status.connected")
    me = await console.evaluate(
        "fetch('/api/v1/agents').then(r => r.json())"
        ".then(b => b.items.find(a => a.email === 'nina@e2e.example'))"
    )
    assert (
        me["languages"] == ["de", "fr"] and me["departments"] == ["sales"] and me["teams"] == ["key_accounts"]
    )
    assert me["capacity"]["chat"] == 2 and me["capacity"]["email"] == 5 and me["role"] == "agent"

    # disabled in the admin pages: the console session ends
    await page.click("#nav-agents")
    await page.locator("#agents tr", has_text="nina@e2e.example").get_by_role("button").click()
    await page.click("#agent-disable")
    await console.wait_for_function(
        "document.body.innerText.includes('Anmeld') || !!document.querySelector('input[name=password]')",
        timeout=10000,
    )
    assert page.errors == []


async def test_every_admin_page_opens_in_german_and_shows_secrets_only_as_set(
    admin_hub: AdminHub, chromium: Any
) -> None:
    page = await admin_page(chromium, admin_hub, locale="de-DE")
    assert "Routing-Regeln" in await page.inner_text("h1")
    # the tiers, on the same page: checked as typed, saved, customers re-tiered
    await page.fill("#tier-1-when", "revenue_12m >= ")
    await page.wait_for_selector("#tiers .field-error")
    assert await page.is_disabled("#tiers-save")
    await page.fill("#tier-1-when", "revenue_12m >= 5000")
    await page.wait_for_selector("#tiers-status.good")
    # an exchange rate for revenue in yen: refused at 0, under its own field, then kept
    await page.click("#add-rate")
    await page.fill("#rate-3-code", "JPY")
    await page.fill("#rate-3-value", "0")
    await page.wait_for_selector("#rate-3-value[aria-invalid=true]")
    assert await page.is_disabled("#tiers-save")
    await page.fill("#rate-3-value", "0.0062")
    await page.wait_for_selector("#tiers-status.good")
    await page.click("#tiers-save")
    await page.wait_for_selector(".toast")
    from hub.keys import TIERS

    assert admin_hub.app[TIERS].version == 1
    assert admin_hub.app[TIERS].tiers.tiers[1].when == "revenue_12m >= 5000"
    assert admin_hub.app[TIERS].tiers.rates["JPY"] == 0.0062
    for name, marker in [
        ("agents", "#agents"),
        ("channels", "#channels"),
        ("sites", "#sites"),
        ("canned", "#canned"),
        ("tokens", "#tokens"),
        ("webhooks", "#webhooks"),
        ("automations", "#automations-versions"),
        ("audit", "#audit-form"),
        ("import", "#import-form"),
    ]:
        await page.click(f"#nav-{name}")
        await page.wait_for_selector(marker)
    await page.goto(f"{admin_hub.url}/admin/#/channels/twilio")
    await page.wait_for_selector("#settings-form")
    text = await page.inner_text("main")
    assert "gesetzt" in text and TOKEN not in text and TOKEN not in await page.content()
    urls = await page.inner_text("#provider-urls")
    assert f"{PUBLIC}/webhooks/twilio/sms" in urls
    assert page.errors == []


async def test_a_widget_site_made_in_the_pages_shows_its_secret_once_and_a_live_preview(
    admin_hub: AdminHub, chromium: Any, tmp_path: Path
) -> None:
    page = await admin_page(chromium, admin_hub)
    await page.click("#nav-sites")
    await page.click("#new-site")
    await page.fill("#site-name", "Shop")
    await page.fill("#site-key", "shop-test")
    await page.fill("#site-origins", "https://shop.example")
    await page.click("#site-save")
    secret = await page.locator("#site-secret code.once").inner_text()
    assert len(secret) == 64
    assert 'data-site="shop-test"' in await page.inner_text("#site-snippet")
    assert f'src="{admin_hub.url}/widget/chat.js"' in await page.inner_text("#site-snippet")
    preview = page.frame_locator("#site-preview iframe")
    await preview.locator("contacthub-chat").wait_for(state="attached", timeout=10000)
    # opened again later, the secret is not shown
    await page.click("#nav-sites")
    await page.locator("#site-shop-test").get_by_role("button").click()
    await page.wait_for_selector("#site-form")
    assert secret not in await page.content()

    # the import: a progress bar, then the counts and the rejected row with its reason
    csv = tmp_path / "kunden.csv"
    csv.write_text("name,email\nErika,erika@import.example\nOhne,kein-email\n", encoding="utf-8")
    await page.click("#nav-import")
    await page.set_input_files("#import-file", str(csv))
    await page.click("#import-run")
    await page.wait_for_selector("#import-counts")
    assert await page.get_attribute("#import-progress", "value") == "100"
    assert await page.inner_text("#import-counts") == "1 created, 0 updated, 1 rejected."
    rejected = await page.inner_text("#import-rejected")
    assert "3" in rejected and "email" in rejected.lower()
    assert page.errors == []


async def test_a_webhook_registered_in_the_pages_shows_its_secret_once_and_pauses(
    admin_hub: AdminHub, chromium: Any
) -> None:
    page = await admin_page(chromium, admin_hub)
    page.on("dialog", lambda dialog: dialog.accept())
    await page.click("#nav-webhooks")
    await page.fill("#webhook-name", "CRM")
    await page.fill("#webhook-url", "ftp://crm.example/hooks")
    await page.check("#webhook-events input[value='conversation.closed']")
    await page.click("#webhook-create")
    await page.wait_for_selector("#webhook-form [aria-invalid=true]")  # the URL, named where it was typed
    await page.fill("#webhook-url", "https://crm.example/hooks")
    await page.click("#webhook-create")
    secret = await page.inner_text(".shown-once code.once")
    assert len(secret) >= 40
    row = "#webhooks tbody tr:has-text('CRM')"
    assert "conversation.closed" in await page.inner_text(row)
    await page.click(f"{row} button.pause")
    await page.wait_for_selector(f"{row} >> text=paused")
    assert secret not in await page.content()  # shown once: gone after the page is drawn again
    await page.click(f"{row} a")
    await page.wait_for_selector("text=No attempts yet.")
    assert page.errors == []


async def test_an_automation_is_checked_while_typed_tried_on_history_and_saved(
    admin_hub: AdminHub, chromium: Any
) -> None:
    from hub.keys import AUTOMATIONS

    page = await admin_page(chromium, admin_hub)
    await page.click("#nav-automations")
    await page.wait_for_selector("#automations-text")
    await page.wait_for_selector("#csat-text")  # the survey settings, on the same page
    wrong = (
        "automations:\n- name: vip\n  trigger: closed\n"
        "  when: 'customer.teir == \"gold\"'\n  actions: [{tag: vip}]\n"
    )
    await page.fill("#automations-text", wrong)
    await page.wait_for_selector("#automations-errors li >> text=automations[0].when")
    assert "has no field 'teir'" in await page.inner_text("#automations-errors")
    assert await page.is_disabled("#automations-save")
    await page.fill("#automations-text", wrong.replace("teir", "tier"))
    await page.wait_for_selector("#automations-status >> text=Valid")
    assert "+- name: vip" in await page.inner_text("#automations-diff")
    await page.click("#automations-try")
    await page.wait_for_selector("#automations-dry-run >> text=would have acted 0 time(s)")
    await page.click("#automations-save")
    await page.wait_for_selector("#automations-status >> text=Version 1 is live")
    assert [a.name for a in admin_hub.app[AUTOMATIONS].automations.items] == ["vip"]
    assert page.errors == []
