"""A fax in the console, in real Chromium: its page thumbnails, the page viewer with
zoom and paging by keyboard, in English and German."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio
import sqlalchemy as sa
from aiohttp.test_utils import TestServer

from tests.conftest import drop_backend, make_settings
from tests.connectors.fax.conftest import GENERIC_SECRET, generic_signature, german_pdf
from tests.e2e.conftest import E2E, PASSWORD, RULES, LiveHub, Replies, _need_browser, sign_in

pytestmark = E2E


@pytest_asyncio.fixture(loop_scope="session")
async def fax_live_hub(tmp_path: Path) -> AsyncIterator[LiveHub]:
    _need_browser()
    from hub.app import create_app
    from hub.auth.sessions import hash_password
    from hub.keys import STORE, TOKENS
    from hub.store.tables import agents

    (tmp_path / "routing.yaml").write_text(RULES)
    settings = make_settings(
        tmp_path,
        "embedded",
        **{
            "connectors.fax.enabled": True,
            "connectors.fax.public_url": "https://hub.example.com",
            "connectors.fax.render_dpi": 100,
            "connectors.fax.generic": {"secret": GENERIC_SECRET},
        },
    )
    app = create_app(settings, migrate=True)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    _, token = await app[TOKENS].create("e2e")
    agent_id = str(uuid.uuid4())
    async with app[STORE].write() as conn:
        await conn.execute(
            sa.insert(agents).values(
                id=agent_id,
                email="anna@e2e.example",
                name="Anna Schmidt",
                role="agent",
                password_hash=hash_password(PASSWORD),
                presence="offline",
                languages=["de", "en"],
                departments=["service"],
                capacity={"fax": 4},
                teams=["service"],
                active=True,
                created_at=datetime.now(UTC),
            )
        )
    yield LiveHub(str(server.make_url("")).rstrip("/"), app, token, {"anna@e2e.example": agent_id}, Replies())
    await server.close()
    await drop_backend(settings)


LOADED = "(i => i.complete && i.naturalWidth > 0)(document.querySelector('.fax-image'))"


async def post_fax(hub: LiveHub, fax_id: str) -> None:
    pdf = german_pdf([["Bestellung", "Seite eins"], ["Lieferung", "Seite zwei"]])
    doc = {
        "event": "fax.received",
        "id": fax_id,
        "from": "+49 30 1234567",
        "file": {
            "filename": "fax.pdf",
            "content_type": "application/pdf",
            "data": base64.b64encode(pdf).decode(),
        },
    }
    import orjson

    body = orjson.dumps(doc)
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-ContactHub-Timestamp": stamp,
        "X-ContactHub-Signature": generic_signature(stamp, body),
    }
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{hub.url}/webhooks/fax/generic", data=body, headers=headers)
        assert resp.status == 200, await resp.text()


async def open_fax(page: Any) -> None:
    await page.select_option("#presence", "available")
    await page.wait_for_selector(".state-offered button.primary", timeout=30000)
    await page.click(".state-offered button.primary")
    await page.wait_for_selector(".fax-thumb >> nth=1", timeout=15000)


async def test_fax_pages_open_in_a_viewer_with_zoom(fax_live_hub: LiveHub, browser: Any) -> None:
    await post_fax(fax_live_hub, "e2e-fax-1")
    page = await sign_in(browser, fax_live_hub, "anna@e2e.example")
    await open_fax(page)
    assert await page.locator(".fax-thumb").count() == 2
    assert "Bestellung" in await page.inner_text(".msg-text")
    assert await page.locator(".fax .files a >> text=fax.pdf").count() == 1

    await page.locator(".fax-thumb").first.focus()
    await page.keyboard.press("Enter")  # keyboard only
    viewer = page.locator("dialog.fax-viewer[open]")
    await viewer.wait_for()
    await page.wait_for_function(LOADED)
    assert await page.inner_text(".fax-where") == "Page 1 of 2"
    assert await page.inner_text(".fax-zoom-level") == "Fit to width"
    fitted = await page.evaluate("document.querySelector('.fax-image').clientWidth")

    await page.keyboard.press("ArrowRight")
    assert await page.inner_text(".fax-where") == "Page 2 of 2"
    assert (await page.get_attribute(".fax-image", "alt")) == "Page 2 of 2"
    await page.wait_for_function(LOADED)
    await page.keyboard.press("+")
    level = await page.inner_text(".fax-zoom-level")
    assert level.endswith("%")
    zoomed = await page.evaluate("document.querySelector('.fax-image').clientWidth")
    assert zoomed != fitted
    await page.keyboard.press("+")
    assert await page.evaluate("document.querySelector('.fax-image').clientWidth") > zoomed
    await page.keyboard.press("-")
    assert await page.evaluate("document.querySelector('.fax-image').clientWidth") == zoomed
    await page.keyboard.press("0")
    assert await page.inner_text(".fax-zoom-level") == "Fit to width"
    await page.keyboard.press("Escape")
    await page.wait_for_selector("dialog.fax-viewer", state="detached")


async def test_the_viewer_speaks_german(fax_live_hub: LiveHub, browser: Any) -> None:
    await post_fax(fax_live_hub, "e2e-fax-2")
    page = await sign_in(browser, fax_live_hub, "anna@e2e.example", locale="de-DE")
    await open_fax(page)
    assert await page.get_attribute(".fax-thumb >> nth=0", "aria-label") == "Seite 1 von 2 öffnen"
    await page.locator(".fax-thumb").nth(1).click()
    await page.locator("dialog.fax-viewer[open]").wait_for()
    assert await page.inner_text(".fax-where") == "Seite 2 von 2"
    assert await page.get_attribute(".fax-toolbar button >> nth=3", "aria-label") == "Vergrößern"
