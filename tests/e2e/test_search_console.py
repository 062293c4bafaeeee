"""Search in the console, in real Chromium: a word in an email, an SMS and a fax's OCR
text gives three hits with the word marked; one opens at its message; the search saved
as a view shows in the sidebar, and its count goes up when a new matching message
arrives. The owner edits the view (a new name, the current search saved over it); a
conversation's tag finds the conversation, which opens from the hit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from hub.keys import QUEUE, STORE
from hub.model import Address, AddressKind, Channel, InboundMessage, MessageKind, ThreadHint
from hub.store.tables import messages
from tests.e2e.conftest import E2E, LiveHub, sign_in

pytestmark = E2E


def arriving(
    ext: str, channel: Channel, address: AddressKind, sender: str, text: str, **extra: Any
) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        external_id=ext,
        sender=Address(address, sender),
        sender_name=f"Kunde {ext}",
        thread_hint=ThreadHint(key=ext),
        text=text,
        received_at=datetime.now(UTC),
        **extra,
    )


async def test_search_open_a_hit_save_it_and_watch_the_count(live_hub: LiveHub, browser: Any) -> None:
    queue = live_hub.app[QUEUE]
    await queue.append(
        replace(
            arriving(
                "mail-1",
                Channel.EMAIL,
                AddressKind.EMAIL,
                "k1@example.com",
                "Anbei der Lieferschein für Mai.",
            ),
            subject="Lieferung Mai",
        )
    )
    await queue.append(
        arriving("sms-1", Channel.SMS, AddressKind.PHONE, "+4915111111", "Lieferschein fehlt leider")
    )
    await queue.append(
        arriving(
            "fax-1",
            Channel.FAX,
            AddressKind.FAX,
            "+4930222222",
            "BESTELLUNG\n\nLieferscheine bitte zurückfaxen",
            kind=MessageKind.FAX,
            meta={"ocr": "done", "render": "ok"},
        )
    )
    await queue.append(arriving("other", Channel.SMS, AddressKind.PHONE, "+4915122222", "Nur eine Frage"))
    page = await sign_in(browser, live_hub, "sofia@e2e.example")

    await page.keyboard.press("/")
    assert await page.evaluate("document.activeElement.id") == "search"
    await page.keyboard.type("Lieferscheine")  # another form of the word in two of them
    hits = page.locator("#search-results .hit")
    await hits.nth(2).wait_for()
    assert await hits.count() == 3
    assert sorted(await page.locator("#search-results .hit .badge").all_inner_texts()) == [
        "Fax",
        "Mail",
        "SMS",
    ]
    marks = await page.locator("#search-results .hit mark").all_inner_texts()
    assert sorted(set(marks)) == ["Lieferschein", "Lieferscheine"]
    assert await page.locator("#search-facets button[data-facet=channel]").count() == 3

    # keyboard: down to the first hit, Enter opens its conversation at the message
    await page.keyboard.press("ArrowDown")
    assert await page.get_attribute("#search", "aria-activedescendant") == "hit-0"
    await page.keyboard.press("Enter")
    found = page.locator("li.msg.found")
    await found.wait_for()
    assert "Lieferschein" in await found.inner_text()
    assert "/m/" in page.url

    # save the search as a view: it shows in the sidebar with its count
    await page.click("#search")
    await page.locator("#search-results .hit").nth(2).wait_for()
    await page.click("#search-save")
    await page.fill("#view-name", "Lieferscheine")
    await page.click("#view-save")
    count = page.locator("#saved-views .count")
    await page.wait_for_function("document.querySelector('#saved-views .count')?.textContent === '3'")
    assert await page.locator("#saved-views .view").inner_text() == "Lieferscheine 3"

    # a new matching message arrives: the count follows
    await queue.append(
        arriving("chat-1", Channel.CHAT, AddressKind.CHAT_VISITOR, "visitor-9", "Wo ist mein Lieferschein?")
    )
    await page.wait_for_function("document.querySelector('#saved-views .count')?.textContent === '4'")
    assert await count.inner_text() == "4"

    # the owner edits the view: a new name, and the search now on screen saved over it
    await page.fill("#search", "Bestellung")
    await page.wait_for_function("document.querySelectorAll('#search-results .hit').length === 1")
    await page.keyboard.press("Escape")
    await page.click("#saved-views button[data-edit]")
    assert await page.input_value("#view-name") == "Lieferscheine"
    await page.fill("#view-name", "Bestellungen")
    await page.check("#view-replace")
    await page.click("#view-save")
    await page.wait_for_function(
        "document.querySelector('#saved-views .view')?.textContent === 'Bestellungen 1'"
    )
    assert await page.locator("#saved-views .view").count() == 1

    # a tag on the SMS's conversation finds the conversation, umlaut spelt out; Enter opens it
    async with live_hub.app[STORE].read() as conn:
        conv = await conn.scalar(
            sa.select(messages.c.conversation_id).where(messages.c.external_id == "sms-1")
        )
    await page.evaluate(
        "async (id) => (await import('/console/js/api.js')).post(`/api/v1/conversations/${id}/tags`,"
        " { tag: 'Rückruf' })",
        conv,
    )
    await page.fill("#search", "Rueckruf")
    hit = page.locator("#search-results .hit", has=page.locator("mark", has_text="Rückruf"))
    await hit.wait_for()
    assert await page.locator("#search-results .hit").count() == 1
    assert await hit.locator(".badge").all_inner_texts() in (["SMS", "Gespräch"], ["SMS", "Conversation"])
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Enter")
    await page.wait_for_function(f"location.hash === '#/c/{conv}'")
