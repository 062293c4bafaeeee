"""The chat widget in real Chromium, on the demo page: pre-chat, an agent's live reply,
history after a reload, five seconds offline without loss, keyboard use, and a page of a
foreign origin refused."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import aiohttp
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestServer

from hub.keys import STORE
from hub.store.tables import messages, widget_sites
from tests.e2e.conftest import E2E, PASSWORD, LiveHub, sign_in
from tests.e2e.test_console import set_available
from tests.waits import eventually

pytestmark = E2E

BUBBLES = "[data-testid=msg]"


async def demo_site(hub: LiveHub, **settings: Any) -> None:
    from datetime import UTC, datetime

    from hub.demo import DEMO_SITE

    now = datetime.now(UTC)
    async with hub.app[STORE].write() as conn:
        await conn.execute(
            sa.insert(widget_sites).values(
                key="demo",
                secret="s" * 64,
                allowed_origins=[hub.url],
                active=True,
                created_at=now,
                updated_at=now,
                name=DEMO_SITE["name"],
                settings={**cast(dict[str, Any], DEMO_SITE["settings"]), **settings},
            )
        )


async def customer_page(browser: Any, hub: LiveHub, locale: str = "de-DE") -> Any:
    context = await browser.new_context(locale=locale, viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    await page.goto(f"{hub.url}/demo/")
    return page


async def bubbles(page: Any) -> list[tuple[str, str]]:
    """(from, text) of every message the widget shows, top to bottom."""
    return [
        (await b.get_attribute("data-from"), (await b.locator("p").first.inner_text()).strip())
        for b in await page.locator(BUBBLES).all()
    ]


async def wait_bubbles(page: Any, count: int, timeout: float = 15) -> list[tuple[str, str]]:
    async with asyncio.timeout(timeout):
        while True:
            shown = await bubbles(page)
            pending = await page.locator(f"{BUBBLES}[data-pending=true]").count()
            if len(shown) >= count and not pending:
                return shown
            await asyncio.sleep(0.1)


async def agent_session(hub: LiveHub, email: str) -> tuple[aiohttp.ClientSession, dict[str, str]]:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    resp = await http.post(f"{hub.url}/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert resp.status == 200
    return http, {"X-CSRF-Token": (await resp.json())["csrf_token"]}


async def chat_taken(hub: LiveHub, browser: Any, name: str, text: str) -> tuple[Any, Any]:
    """On the demo page, a visitor fills the pre-chat form (name, the demo's email, the
    service department) and writes ``text``; Anna, available, accepts the offer. Her
    page and the visitor's."""
    await demo_site(hub)
    anna = await sign_in(browser, hub, "anna@e2e.example")
    await set_available(anna)
    customer = await customer_page(browser, hub)
    await customer.click("[data-testid=launcher]")
    await customer.fill("[data-testid=prechat-name]", name)
    await customer.fill("[data-testid=prechat-email]", "jonas@kunde.example")
    await customer.select_option("[data-testid=prechat-department]", "service")
    await customer.click("[data-testid=prechat-submit]")
    await customer.fill("[data-testid=composer]", text)
    await customer.keyboard.press("Enter")
    await wait_bubbles(customer, 1)
    await anna.wait_for_selector(f".state-offered .customer-name >> text={name}", timeout=10000)
    await anna.click(".state-offered button.primary")
    await anna.wait_for_selector("#composer-text")
    return anna, customer


async def test_prechat_offer_live_reply_and_reload(live_hub: LiveHub, browser: Any) -> None:
    anna, customer = await chat_taken(live_hub, browser, "Jonas Becker", "Mein Abschlag ist zu hoch")
    await anna.fill("#composer-text", "Guten Tag Herr Becker, ich prüfe das sofort.")
    async with anna.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/messages")):
        await anna.click("#composer-send")
    replied = time.monotonic()
    await customer.wait_for_selector(f"{BUBBLES}[data-from=agent] >> text=ich prüfe das sofort", timeout=1000)
    print(f"reply shown in the widget {1000 * (time.monotonic() - replied):.0f} ms after the POST returned")
    header = await customer.locator("[data-testid=panel]").inner_text()
    assert "Anna Schmidt" in header, "the widget says who joined"
    # the email typed into the form is a claim; the agent confirms it, and only then is it his
    claim = anna.locator(".chat-facts li", has_text="jonas@kunde.example (not verified)")
    await claim.get_by_role("button").click()
    confirmed = ".chat-facts >> text=jonas@kunde.example is one of the customer's identities"
    await anna.wait_for_selector(confirmed)

    await customer.reload()
    await customer.click("[data-testid=launcher]")
    assert await wait_bubbles(customer, 2) == [
        ("visitor", "Mein Abschlag ist zu hoch"),
        ("agent", "Guten Tag Herr Becker, ich prüfe das sofort."),
    ]
    assert await customer.locator("[data-testid=prechat]:visible").count() == 0, "no second pre-chat form"
    assert (
        "Senden" in await customer.locator("[data-testid=send]").inner_text()
        or await customer.locator("[data-testid=send][aria-label=Senden]").count()
    )
    assert customer.errors == []


async def test_a_reply_whose_answer_was_lost_is_sent_once(live_hub: LiveHub, browser: Any) -> None:
    """The hub stores the agent's reply but the answer never reaches the console (the
    network drops it); the agent sends again: the visitor sees the reply once."""
    anna, customer = await chat_taken(live_hub, browser, "Lena Vogt", "Ist meine Bestellung unterwegs?")

    async def answer_lost(route: Any) -> None:
        await route.fetch()  # the hub gets the request and answers it...
        await route.abort()  # ...but the console never hears back

    await anna.route("**/api/v1/conversations/*/messages", answer_lost, times=1)
    await anna.fill("#composer-text", "Ja, sie kommt morgen.")
    await anna.click("#composer-send")
    await anna.wait_for_selector(".toast.error", timeout=5000)
    assert await anna.input_value("#composer-text") == "Ja, sie kommt morgen.", "the draft is kept"
    async with anna.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/messages")
    ) as sent:
        await anna.click("#composer-send")
    assert (await sent.value).status == 200, "the hub answers with the reply it already has"
    await eventually(lambda: _composer_empty(anna), what="the composer emptied")
    await customer.wait_for_selector(f"{BUBBLES}[data-from=agent] >> text=sie kommt morgen", timeout=5000)
    assert [b for b in await bubbles(customer) if b[0] == "agent"] == [("agent", "Ja, sie kommt morgen.")]
    async with live_hub.app[STORE].read() as conn:
        stored = await conn.scalar(
            sa.select(sa.func.count()).select_from(messages).where(messages.c.text == "Ja, sie kommt morgen.")
        )
    assert stored == 1
    assert customer.errors == []


async def _composer_empty(page: Any) -> bool:
    return await page.input_value("#composer-text") == ""


async def test_five_seconds_offline_loses_nothing_and_repeats_nothing(
    live_hub: LiveHub, browser: Any
) -> None:
    await demo_site(live_hub, prechat={"name": "off", "email": "off", "phone": "off"}, departments=[])
    anna = await sign_in(browser, live_hub, "anna@e2e.example")
    await set_available(anna)
    customer = await customer_page(browser, live_hub, locale="en-GB")
    await customer.click("[data-testid=launcher]")
    await customer.fill("[data-testid=composer]", "Hello, is anyone there?")
    await customer.keyboard.press("Enter")
    await anna.wait_for_selector(".state-offered", timeout=10000)
    await anna.click(".state-offered button.primary")
    await anna.wait_for_selector("#composer-text")
    conv_id = anna.url.rsplit("/", 1)[1]
    await wait_bubbles(customer, 1)

    http, csrf = await agent_session(live_hub, "anna@e2e.example")
    await customer.context.set_offline(True)
    offline_at = time.monotonic()
    for n in range(10):
        resp = await http.post(
            f"{live_hub.url}/api/v1/conversations/{conv_id}/messages",
            json={"text": f"agent {n}"},
            headers=csrf,
        )
        assert resp.status == 202
        if n in (3, 7):
            await customer.fill("[data-testid=composer]", f"customer {n // 4}")
            await customer.keyboard.press("Enter")
    await asyncio.sleep(max(0.0, 5 - (time.monotonic() - offline_at)))
    await customer.context.set_offline(False)
    await http.close()

    shown = await wait_bubbles(customer, 13)
    texts = [t for _, t in shown[1:]]
    assert sorted(texts) == sorted([f"agent {n}" for n in range(10)] + ["customer 0", "customer 1"])
    assert len(texts) == 12, "each once"
    assert [t for t in texts if t.startswith("agent")] == [f"agent {n}" for n in range(10)]
    assert [t for t in texts if t.startswith("customer")] == ["customer 0", "customer 1"]

    async def all_stored() -> list[str] | None:
        # the widget shows a message once the hub accepted it; storing it may come later
        async with live_hub.app[STORE].read() as conn:
            stored = list(
                (
                    await conn.execute(
                        sa.select(messages.c.text)
                        .where(messages.c.conversation_id == conv_id)
                        .order_by(messages.c.received_at, messages.c.id)
                    )
                ).scalars()
            )
        return stored if len(stored) >= 13 else None

    stored = await eventually(all_stored, what="every message stored")
    assert stored[1:] == texts, "the widget shows the hub's order"
    await anna.wait_for_function(
        "document.querySelectorAll('.timeline .msg-text').length >= 13", timeout=15000
    )
    console = [t.strip() for t in await anna.locator(".timeline .msg-text").all_inner_texts()]
    assert console[-12:] == texts, "the agent sees the same twelve, once each, in the same order"
    assert customer.errors == []


async def test_keyboard_focus_trap_and_escape(live_hub: LiveHub, browser: Any) -> None:
    await demo_site(live_hub)
    customer = await customer_page(browser, live_hub, locale="en-GB")
    launcher = customer.locator("[data-testid=launcher]")
    await launcher.focus()
    await customer.keyboard.press("Enter")
    await customer.wait_for_selector("[data-testid=panel]:visible")
    assert await launcher.get_attribute("aria-expanded") == "true"
    inside = []
    for _ in range(12):
        await customer.keyboard.press("Tab")
        inside.append(
            await customer.evaluate(
                "() => { const host = document.querySelector('contacthub-chat');"
                " const a = host.shadowRoot.activeElement;"
                " return !!a && !!a.closest('[data-testid=panel]'); }"
            )
        )
    assert all(inside), "Tab stays inside the open panel"
    await customer.keyboard.press("Escape")
    assert await launcher.get_attribute("aria-expanded") == "false"
    assert (
        await customer.evaluate(
            "() => document.querySelector('contacthub-chat').shadowRoot.activeElement?.dataset.testid"
        )
        == "launcher"
    )
    assert await customer.locator("[data-testid=log]").get_attribute("aria-live") == "polite"


async def test_a_page_of_a_foreign_origin_is_refused(live_hub: LiveHub, browser: Any) -> None:
    await demo_site(live_hub)

    async def foreign(request: web.Request) -> web.Response:
        return web.Response(
            text="<!doctype html><title>Elsewhere</title><p>elsewhere</p>", content_type="text/html"
        )

    other = web.Application()
    other.router.add_get("/", foreign)
    server = TestServer(other, host="127.0.0.1")
    await server.start_server()
    try:
        page = await (await browser.new_context()).new_page()
        await page.goto(str(server.make_url("/")))
        ws_url = live_hub.url.replace("http://", "ws://") + "/ws/widget?site=demo"
        outcome = await page.evaluate(
            """(url) => new Promise((resolve) => {
                const ws = new WebSocket(url);
                ws.onopen = () => resolve("open");
                ws.onclose = (e) => resolve("closed " + e.code);
            })""",
            ws_url,
        )
        assert outcome == "closed 1006", "the handshake is refused (403) for a page elsewhere"
        home = await customer_page(browser, live_hub)
        opened = await home.evaluate(
            """(url) => new Promise((resolve) => {
                const ws = new WebSocket(url);
                ws.onopen = () => { resolve("open"); ws.close(); };
                ws.onclose = (e) => resolve("closed " + e.code);
            })""",
            ws_url,
        )
        assert opened == "open", "the same socket from the site's own page opens"
    finally:
        await server.close()
