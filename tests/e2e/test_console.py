"""The agent console in real Chromium: offers, replies, collisions, the supervisor's
queue depth, a reconnect that loses nothing, and text that cannot run as script."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import sqlalchemy as sa

from hub.keys import STORE
from hub.store.tables import customers, messages
from tests.e2e.conftest import E2E, LiveHub, sign_in

pytestmark = E2E


async def post_message(hub: LiveHub, external_id: str, text: str, **extra: Any) -> None:
    body = {
        "external_id": external_id,
        "from": {"kind": "email", "value": "gold@kunde.example", "name": "Gold Kunde"},
    }
    async with aiohttp.ClientSession() as http:
        resp = await http.post(
            f"{hub.url}/api/v1/messages", json={**body, "text": text, **extra}, headers=hub.auth
        )
        assert resp.status == 202, await resp.text()


async def make_gold_customer(hub: LiveHub) -> str:
    """A customer whose revenue makes them gold under the built-in tier rules."""
    from hub.keys import RECORDS

    async with hub.app[STORE].write() as conn:
        return await hub.app[RECORDS].create(
            conn,
            {"name": "Gold Kunde", "revenue": {"revenue_12m": {"amount": 20000, "currency": "EUR"}}},
            [("email", "gold@kunde.example")],
            "test",
        )


async def set_available(page: Any) -> None:
    await page.select_option("#presence", "available")
    await page.wait_for_function("document.getElementById('announcer').textContent.length > 0")


async def waiting_in(page: Any, queue: str) -> str:
    return await page.inner_text(f'.queue-row[data-queue="{queue}"] .waiting')


async def test_offer_accept_reply_viewing_and_queue_depth(live_hub: LiveHub, browser: Any) -> None:
    customer_id = await make_gold_customer(live_hub)
    anna = await sign_in(browser, live_hub, "anna@e2e.example")
    await set_available(anna)
    supervisor = await sign_in(browser, live_hub, "sofia@e2e.example")
    await supervisor.goto(f"{live_hub.url}/console/#/supervisor")
    await supervisor.wait_for_selector('.queue-row[data-queue="service"]')
    assert await waiting_in(supervisor, "service") == "0"

    sent = time.monotonic()
    await post_message(live_hub, "e2e-1", "Bitte um Rückruf wegen Lieferung")
    await anna.wait_for_selector(".state-offered .customer-name >> text=Gold Kunde", timeout=5000)
    offer_s = time.monotonic() - sent
    print(f"offer shown {offer_s * 1000:.0f} ms after the POST")
    assert offer_s < 3, f"the offer took {offer_s:.1f} s"
    assert "gold" in await anna.inner_text(".state-offered .tier")
    # the supervisor sees the queue grow while it is offered, and shrink once accepted
    await supervisor.wait_for_function(
        "document.querySelector('.queue-row[data-queue=\"service\"] .waiting').textContent === '1'"
    )

    await anna.click(".state-offered button.primary")
    await anna.wait_for_selector("#composer-text")
    conv_id = anna.url.rsplit("/", 1)[1]
    await supervisor.wait_for_function(
        "document.querySelector('.queue-row[data-queue=\"service\"] .waiting').textContent === '0'"
    )

    ben = await sign_in(browser, live_hub, "ben@e2e.example")
    await ben.goto(f"{live_hub.url}/console/#/c/{conv_id}")
    await ben.wait_for_selector(".msg-text >> text=Bitte um Rückruf")
    await ben.wait_for_function(
        "document.getElementById('presence-line').textContent.includes('Anna Schmidt')"
    )
    assert "viewing" in await ben.inner_text("#presence-line")
    await anna.wait_for_function(
        "document.getElementById('presence-line').textContent.includes('Ben Miller')"
    )

    await anna.fill("#composer-text", "Guten Tag, wir rufen Sie heute noch an.")
    await anna.set_input_files(
        "#composer-file",
        files=[{"name": "Rückruf.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 e2e"}],
    )
    await anna.wait_for_selector(".chip >> text=Rückruf.pdf")
    await anna.click("#composer-send")
    await anna.wait_for_selector(".msg.out .msg-text >> text=wir rufen Sie heute noch an")
    await anna.wait_for_selector(".msg.out .delivery.sent", timeout=10000)
    reply = live_hub.replies.received[-1]
    assert reply["text"] == "Guten Tag, wir rufen Sie heute noch an."
    assert [f["filename"] for f in reply["attachments"]] == ["Rückruf.pdf"]
    assert await anna.locator(".msg.out .files a >> text=Rückruf.pdf").count() == 1
    async with live_hub.app[STORE].read() as conn:
        stored = (
            await conn.execute(
                sa.select(messages.c.direction, messages.c.text).where(messages.c.customer_id == customer_id)
            )
        ).all()
    assert ("out", "Guten Tag, wir rufen Sie heute noch an.") in stored
    # in the customer's timeline, which the conversation view shows
    timeline_text = await anna.inner_text(".timeline")
    assert timeline_text.index("Bitte um Rückruf") < timeline_text.index("wir rufen Sie heute noch an")


async def test_a_console_offline_for_five_seconds_shows_all_twenty_once_in_order(
    live_hub: LiveHub, browser: Any
) -> None:
    await make_gold_customer(live_hub)
    anna = await sign_in(browser, live_hub, "anna@e2e.example", locale="de-DE")
    assert (await anna.inner_text("#h-offers")).upper().startswith("ANGEBOTE"), "German, as the browser asks"
    await anna.keyboard.press("?")  # the shortcuts, in German
    assert "Tastenkürzel" in await anna.inner_text("dialog#help")
    await anna.keyboard.press("Escape")
    await anna.wait_for_selector("dialog#help", state="detached", timeout=2000)  # Escape closes it
    await set_available(anna)
    await post_message(live_hub, "first", "Erste Nachricht", thread="t1")
    await anna.click(".state-offered button.primary", timeout=5000)
    await anna.wait_for_selector(".msg-text >> text=Erste Nachricht")

    # the console notices on its own schedule: a deadline, not a time it must keep (slow under load)
    await anna.context.set_offline(True)
    await anna.wait_for_selector("#live-status.offline", timeout=30000)
    started = time.monotonic()
    for n in range(20):
        await post_message(live_hub, f"burst-{n}", f"Nachricht {n:02d}", thread="t1")
    await asyncio.sleep(max(0.0, 5 - (time.monotonic() - started)))
    await anna.context.set_offline(False)
    await anna.wait_for_selector("#live-status.connected", timeout=15000)
    await anna.wait_for_function("document.querySelectorAll('.msg.in .msg-text').length >= 21", timeout=15000)
    texts = [
        t for t in await anna.locator(".msg.in .msg-text").all_inner_texts() if t.startswith("Nachricht")
    ]
    assert texts == [f"Nachricht {n:02d}" for n in range(20)], texts


async def test_customer_text_never_runs_as_script(live_hub: LiveHub, browser: Any) -> None:
    from hub.keys import BLOBS, QUEUE
    from hub.model import Address, AddressKind, Attachment, Channel, InboundMessage, ThreadHint

    payload = '<img src=x onerror="window.__xss=(window.__xss||0)+1">'
    blob = await live_hub.app[BLOBS].put(b"%PDF-1.4 harmless")
    await live_hub.app[QUEUE].append(
        InboundMessage(
            channel=Channel.EMAIL,
            external_id="<xss@evil.example>",
            sender=Address(AddressKind.EMAIL, "evil@evil.example"),
            sender_name=payload,
            thread_hint=ThreadHint(key="xss"),
            subject=f"Subject {payload}",
            text=f"Body {payload}",
            html=f"<p>HTML part</p>{payload}<script>window.__xss=1</script>"
            '<a href="javascript:window.__xss=1">link</a>',
            attachments=(
                Attachment(sha256=blob, filename=f"{payload}.pdf", content_type="application/pdf", size=17),
            ),
            received_at=__import__("datetime").datetime.now(__import__("datetime").UTC),
        )
    )
    async with live_hub.app[STORE].write() as conn:
        await conn.execute(sa.update(customers).where(customers.c.name.is_(None)).values(name=payload))
    sofia = await sign_in(browser, live_hub, "sofia@e2e.example")
    dialogs: list[str] = []

    async def note_and_dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    sofia.on("dialog", note_and_dismiss)
    await sofia.wait_for_selector(".row-link >> text=onerror", timeout=10000)
    await sofia.click(".row-link")
    await sofia.wait_for_selector(".msg-text >> text=Body")
    await sofia.click(".msg details summary")
    await sofia.wait_for_timeout(500)
    assert await sofia.evaluate("window.__xss") is None, "a payload ran"
    assert dialogs == []
    # the payloads are shown as text
    assert payload in await sofia.inner_text(".customer-name")
    assert payload in await sofia.inner_text(".msg-text")
    assert f"{payload}.pdf" in await sofia.inner_text(".files")
    assert await sofia.locator(".timeline img[src=x]").count() == 0
