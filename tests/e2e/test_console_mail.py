"""An email in the console, in real Chromium with the console's real
Content-Security-Policy: the quoted history behind a toggle, and an inline image of the
HTML part shown from the hub's attachment URL inside the sandboxed frame."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from connectors.email.inbound import to_inbound
from connectors.email.settings import MailboxSettings
from hub.keys import BLOBS, QUEUE
from tests.e2e.conftest import E2E, PASSWORD, LiveHub

pytestmark = E2E

MAILBOX = MailboxSettings(host="127.0.0.1", user="service@e2e.example", password="x")


def png(width: int, height: int) -> bytes:
    """A valid RGB PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x20\x80\xe0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def mail_with_inline_image() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Karla Kunde <kunde@firma.example>"
    msg["To"] = "service@e2e.example"
    msg["Subject"] = "AW: Zählerstand"
    msg["Message-ID"] = "<inline-1@firma.example>"
    msg.set_content("Hier das Foto.\n\nAm 2. Mai schrieb Service:\n> Bitte ein Foto schicken.\n")
    msg.add_alternative(
        '<p>Hier das Foto.</p><img src="cid:foto@firma.example" alt="Foto">'
        "<blockquote>Bitte ein Foto schicken.</blockquote>",
        subtype="html",
    )
    html = msg.get_body(("html",))  # the alternative just added
    assert html is not None
    html.add_related(png(24, 16), "image", "png", cid="<foto@firma.example>")
    return msg.as_bytes()


async def sign_in_with_csp(browser: Any, hub: LiveHub, email: str, locale: str) -> Any:
    """Signed in, with the console's Content-Security-Policy in force."""
    context = await browser.new_context(locale=locale, viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    await page.goto(f"{hub.url}/console/")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#live-status.connected")
    return page


async def test_quoted_text_and_inline_images(live_hub: LiveHub, browser: Any) -> None:
    msg = await to_inbound(
        mail_with_inline_image(), "service", MAILBOX, live_hub.app[BLOBS], datetime.now(UTC)
    )
    await live_hub.app[QUEUE].append(msg)
    sofia = await sign_in_with_csp(browser, live_hub, "sofia@e2e.example", "de-DE")
    await sofia.wait_for_selector(".row-link", timeout=10000)
    await sofia.click(".row-link")
    await sofia.wait_for_selector(".msg-text >> text=Hier das Foto")
    assert "Bitte ein Foto" not in await sofia.inner_text(".msg-text")

    toggle = sofia.locator(".msg .quoted-toggle")
    assert await toggle.inner_text() == "Zitierten Text anzeigen"
    assert await toggle.get_attribute("aria-expanded") == "false"
    await toggle.click()
    assert "> Bitte ein Foto schicken." in await sofia.inner_text(".msg-text")
    assert await toggle.inner_text() == "Zitierten Text ausblenden"
    assert await toggle.get_attribute("aria-expanded") == "true"
    await toggle.click()
    assert "Bitte ein Foto" not in await sofia.inner_text(".msg-text")

    await sofia.click(".msg details summary")
    frame = sofia.frame_locator("iframe.html-part")
    # the frame first shows the part as stored, then again with the image inlined as a data:
    # URL; only the second document is the one to measure (the first one goes away under us)
    inlined = frame.locator("img[src^='data:']")
    await inlined.wait_for(timeout=5000)
    loaded = await inlined.evaluate(
        "img => img.complete ? img.naturalWidth"
        " : new Promise(r => { img.onload = () => r(img.naturalWidth); img.onerror = () => r(-1); })"
    )
    assert loaded == 24, "the inline image did not load inside the sandboxed frame"

    # a live event for the conversation renders it again: what the agent opened stays open
    await toggle.click()
    await sofia.eval_on_selector("iframe.html-part", "frame => { frame.dataset.before = 'event'; }")
    conv_id = (await sofia.evaluate("location.hash")).removeprefix("#/c/")
    await sofia.evaluate(
        "async (id) => { const { post } = await import('/console/js/api.js');"
        " await post(`/api/v1/conversations/${id}/notes`, { text: 'Foto ist angekommen' }); }",
        conv_id,
    )
    await sofia.wait_for_selector(".note-text >> text=Foto ist angekommen")
    assert await sofia.get_attribute("iframe.html-part", "data-before") == "event", "the frame was rebuilt"
    assert await sofia.eval_on_selector(".msg details", "d => d.open"), "the HTML part closed"
    assert "> Bitte ein Foto schicken." in await sofia.inner_text(".msg-text"), "the quoted text hid"
    assert await inlined.evaluate("img => img.naturalWidth") == 24


async def test_an_urgent_mail_shows_a_priority_badge(live_hub: LiveHub, browser: Any) -> None:
    msg = EmailMessage()
    msg["From"] = "Karla Kunde <kunde-eilig@firma.example>"
    msg["To"] = "service@e2e.example"
    msg["Subject"] = "Strom ausgefallen"
    msg["Message-ID"] = "<urgent-1@firma.example>"
    msg["Importance"] = "High"
    msg.set_content("Seit heute Morgen kein Strom.")
    inbound = await to_inbound(msg.as_bytes(), "service", MAILBOX, live_hub.app[BLOBS], datetime.now(UTC))
    await live_hub.app[QUEUE].append(inbound)
    sofia = await sign_in_with_csp(browser, live_hub, "sofia@e2e.example", "de-DE")
    badge = sofia.locator(".row .priority-high")
    await badge.wait_for(timeout=10000)
    assert await badge.inner_text() == "Hohe Priorität"
    await sofia.click(".row-link")
    header = sofia.locator(".conv-header .priority-high")
    await header.wait_for(timeout=5000)
    assert await header.get_attribute("aria-label") == "Hohe Priorität"
