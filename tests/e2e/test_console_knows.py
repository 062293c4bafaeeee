"""The console shows what the hub knows, in real Chromium: tags and the department (and
agents tag and filter), "My key accounts", the customer panel's record actions within
the caller's role, notifications with a sound and the count in the tab title, the
console on a phone, translated timeline events, and the supervisor's table on 1400 px."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from hub.keys import BUS, RECORDS, STORE
from hub.store.tables import customers
from tests.e2e.conftest import E2E, LiveHub, add_agent, sign_in
from tests.e2e.test_console import make_gold_customer, post_message, set_available

pytestmark = E2E

TAGGING_RULES = """
queues:
  service: {reservation_timeout: 60}
  vip: {reservation_timeout: 60}
rules:
  - name: everyone
    actions: {tag: newcomer, set_department: service}
    targets:
      - {queue: service, agents: '"service" in departments'}
"""

# The Notification and Web Audio the console uses, watched: what it showed, how often it
# asked for permission, how often it made a sound.
WATCH = """
window.__shown = []; window.__asked = 0; window.__tones = 0;
if (window.Notification) {
  const Real = window.Notification;
  class Watched extends Real {
    constructor(title, options) {
      super(title, options);
      window.__shown.push({ title, body: options && options.body });
    }
  }
  Watched.requestPermission = (...args) => {
    window.__asked += 1;
    return Real.requestPermission(...args);
  };
  Object.defineProperty(Watched, "permission", { get: () => Real.permission });
  window.Notification = Watched;
}
const osc = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () { window.__tones += 1; return osc.call(this); };
"""
LOOK_AWAY = """() => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
  document.hasFocus = () => false;
  document.dispatchEvent(new Event("visibilitychange"));
}"""
LOOK_BACK = """() => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "visible" });
  document.hasFocus = () => true;
  document.dispatchEvent(new Event("visibilitychange"));
}"""
TAGS = "[...document.querySelectorAll('.conv-tags .tag-list .tag')].map(t => t.firstChild.textContent)"
NO_OVERFLOW = "document.scrollingElement.scrollWidth <= window.innerWidth"


async def put_rules(hub: LiveHub, rules: str) -> None:
    from hub.keys import ROUTING

    await hub.app[ROUTING].save(rules, "test")


async def offered_and_accepted(page: Any, name: str = "Gold Kunde") -> str:
    offer = f'.state-offered:has(.customer-name:text("{name}"))'
    await page.wait_for_selector(offer, timeout=10000)
    await page.click(f"{offer} button.primary")
    await page.wait_for_selector("#composer-text")
    return str(page.url.rsplit("/", 1)[1])


async def test_tags_and_department_show_and_agents_tag_and_filter(live_hub: LiveHub, browser: Any) -> None:
    await put_rules(live_hub, TAGGING_RULES)
    await make_gold_customer(live_hub)
    anna = await sign_in(browser, live_hub, "anna@e2e.example")
    await set_available(anna)
    await post_message(live_hub, "tag-1", "Bitte um Rückruf")
    row = '.state-offered:has(.customer-name:text("Gold Kunde"))'
    await anna.wait_for_selector(f"{row} .tag >> text=newcomer", timeout=10000)
    assert await anna.inner_text(f"{row} .department") == "service"
    conv_id = await offered_and_accepted(anna)
    assert await anna.inner_text(".conv-tags .department") == "service"
    assert await anna.evaluate(TAGS) == ["newcomer"]

    # autocomplete: the tags in use, in a datalist the inputs name
    assert await anna.get_attribute("#tag-input", "list") == "tag-options"
    assert await anna.eval_on_selector_all("#tag-options option", "os => os.map(o => o.value)") == [
        "newcomer"
    ]
    await anna.fill("#tag-input", "Rückruf")
    await anna.press("#tag-input", "Enter")
    await anna.wait_for_selector(".conv-tags .tag-list .tag >> text=Rückruf")
    await anna.wait_for_function(
        "[...document.querySelectorAll('#tag-options option')].map(o => o.value).includes('Rückruf')"
    )
    await anna.click('.tag-remove[aria-label="Remove tag newcomer"]')
    await anna.wait_for_function(f"{TAGS}.join() === 'Rückruf'")
    # the inbox row shows them too, and filters by them
    mine = f'#h-mine ~ .rows .row[data-id="{conv_id}"]'
    await anna.wait_for_selector(f"{mine} .tag >> text=Rückruf")
    await anna.fill("#tag-filter", "anderes")
    await anna.press("#tag-filter", "Enter")
    await anna.wait_for_selector(mine, state="detached")
    await anna.click("#tag-filter-clear")
    await anna.wait_for_selector(mine)
    await anna.fill("#tag-filter", "Rückruf")
    await anna.press("#tag-filter", "Enter")
    await anna.wait_for_selector("#tag-filter-clear")
    await anna.wait_for_selector(mine)
    # a bad tag is refused with the hub's reason
    await anna.fill("#tag-input", "x" * 40 + "y")  # the input stops at 40 characters
    assert len(await anna.input_value("#tag-input")) == 40


async def test_a_key_account_manager_sees_their_accounts(live_hub: LiveHub, browser: Any) -> None:
    anna_id = live_hub.agents["anna@e2e.example"]
    async with live_hub.app[STORE].write() as conn:
        await live_hub.app[RECORDS].create(
            conn,
            {
                "name": "Gold Kunde",
                "organisation": "Muster Maschinenbau AG",
                "key_account": True,
                "key_account_manager_id": anna_id,
                "revenue": {"revenue_12m": {"amount": 250000, "currency": "EUR"}},
            },
            [("email", "gold@kunde.example")],
            "test",
        )
    await post_message(live_hub, "ka-1", "Frage zum Rahmenvertrag")
    anna = await sign_in(browser, live_hub, "anna@e2e.example")
    await anna.wait_for_selector("#nav-key-accounts:not([hidden])")
    await anna.click("#nav-key-accounts")
    row = ".account-row:has(.account-name:text('Muster Maschinenbau AG'))"
    await anna.wait_for_selector(row)
    text = await anna.inner_text(row)
    assert "250,000" in text and "€" in text, text
    await anna.wait_for_selector(f"{row} .open-list a")  # its open conversation, which she may open
    await anna.click(f"{row} .open-list a")
    await anna.wait_for_selector(".msg-text >> text=Rahmenvertrag")
    # Ben manages none: no link
    ben = await sign_in(browser, live_hub, "ben@e2e.example")
    await ben.wait_for_selector("#nav-key-accounts[data-checked]", state="attached")  # the hub answered
    assert await ben.locator("#nav-key-accounts").is_hidden()


async def test_the_customer_panel_offers_each_record_action_to_the_roles_allowed(
    live_hub: LiveHub, browser: Any
) -> None:
    await add_agent(live_hub, "adam@e2e.example", "Adam Admin", "admin")
    customer_id = await make_gold_customer(live_hub)
    async with live_hub.app[STORE].write() as conn:
        other_id = await live_hub.app[RECORDS].create(
            conn, {"name": "Zweitkunde"}, [("email", "zweit@kunde.example")], "test"
        )
    await post_message(live_hub, "rec-1", "Meine Adresse hat sich geändert")
    anna = await sign_in(browser, live_hub, "anna@e2e.example", locale="de-DE")
    await set_available(anna)
    conv_id = await offered_and_accepted(anna)
    # an agent: add identities and record consent; not remove, merge, export, pin or erase
    for absent in (".remove-identity", "#cust-merge", "#cust-export", "#cust-pin", "#cust-erase"):
        assert await anna.locator(absent).count() == 0, absent
    await anna.select_option("#identity-kind", "phone")
    await anna.fill("#identity-value", "+49 151 2345678")
    await anna.click("#identity-form button[type=submit]")
    await anna.wait_for_selector(".identities >> text=+4915123456")
    await anna.select_option("#consent-channel", "sms")
    await anna.select_option("#consent-purpose", "marketing")
    await anna.click("#consent-grant")
    await anna.wait_for_selector(".consents >> text=SMS · Marketing")
    assert "erteilt" in await anna.inner_text(".consents")
    await anna.click('.consent-toggle[aria-label="Einwilligung widerrufen: SMS · Marketing"]')
    await anna.wait_for_selector(".consents .late >> text=widerrufen")
    # the timeline says what happened, in German: no raw event names or states
    await anna.wait_for_selector(".event-label >> text=Identität hinzugefügt (Telefon)")
    await anna.wait_for_selector(".event-label >> text=Einwilligung widerrufen: SMS · Marketing")
    timeline = await anna.inner_text(".timeline")
    for raw in ("identity.added", "consent.changed", "conversation.assigned", "customer.created"):
        assert raw not in timeline, raw
    assert "offen" in await anna.inner_text(".sidebar"), "the conversation's state, translated"

    # an admin: all of them
    adam = await sign_in(browser, live_hub, "adam@e2e.example")
    await adam.goto(f"{live_hub.url}/console/#/c/{conv_id}")
    await adam.wait_for_selector("#cust-erase")
    await adam.click(".identities li:has-text('+4915123456') .remove-identity")
    await adam.wait_for_selector(".identities >> text=+4915123456", state="detached")
    await adam.click("#cust-pin")
    await adam.select_option("#pin-tier", "platinum")
    await adam.click("dialog button[type=submit]")
    await adam.wait_for_selector(".sidebar .tier-platinum")
    await adam.click("#cust-merge")
    await adam.fill("#merge-query", "Zweitkunde")
    await adam.click("#merge-search")
    await adam.wait_for_selector(f'input[name=other_id][value="{other_id}"]')
    await adam.click("dialog button[type=submit]")
    await adam.wait_for_selector(".identities >> text=zweit@kunde.example")
    await adam.wait_for_selector(".merges .unmerge")
    await adam.click(".merges .unmerge")
    await adam.wait_for_selector(".identities >> text=zweit@kunde.example", state="detached")
    href = await adam.get_attribute("#cust-export", "href")
    exported = await adam.request.get(f"{live_hub.url}{href}")
    assert exported.status == 200 and json.loads(await exported.text())["customer"]["id"] == customer_id

    await adam.click("#cust-erase")
    assert await adam.is_disabled("#erase-submit"), "erasure needs the word typed"
    await adam.fill("#erase-confirm", "erase")
    assert await adam.is_disabled("#erase-submit")
    await adam.fill("#erase-confirm", "ERASE")
    await adam.click("#erase-submit")
    await adam.wait_for_function("location.hash === '#/inbox'")
    async with live_hub.app[STORE].read() as conn:
        erased = await conn.scalar(sa.select(customers.c.erased_at).where(customers.c.id == customer_id))
    assert erased is not None


async def test_offers_mentions_and_warnings_reach_an_agent_looking_elsewhere(
    live_hub: LiveHub, browser: Any
) -> None:
    await make_gold_customer(live_hub)
    # never asked on load; asked on the click that switches notifications on
    ben = await sign_in(browser, live_hub, "ben@e2e.example", init_script=WATCH)
    assert await ben.evaluate("window.__asked") == 0
    await ben.click("#notify-settings")
    await ben.click("#notify-offers-desktop")
    await ben.wait_for_function("window.__asked === 1")
    if await ben.evaluate("Notification.permission") == "denied":  # headless answers at once
        await ben.wait_for_selector("#notify-message >> text=blocks notifications")
        assert not await ben.is_checked("#notify-offers-desktop")

    anna_id = live_hub.agents["anna@e2e.example"]
    anna = await sign_in(
        browser, live_hub, "anna@e2e.example", permissions=["notifications"], init_script=WATCH
    )
    assert await anna.evaluate("window.__asked") == 0
    assert await anna.title() == "ContactHub console"
    await anna.click("#notify-settings")
    for box in ("offers-desktop", "offers-sound", "mentions-desktop", "sla-desktop"):
        await anna.check(f"#notify-{box}")
    await anna.click("#notify-dialog .primary")
    saved = json.loads(await anna.evaluate(f"localStorage.getItem('contacthub.notify.{anna_id}')"))
    assert saved["offers"] == {"desktop": True, "sound": True} and saved["mentions"]["sound"] is False
    tones_before = await anna.evaluate("window.__tones")
    await set_available(anna)
    await anna.evaluate(LOOK_AWAY)

    await post_message(live_hub, "note-1", "Dringend: Lieferung fehlt")
    await anna.wait_for_function("window.__shown.length === 1", timeout=10000)
    shown = await anna.evaluate("window.__shown")
    assert shown[0]["title"] == "New offer: Gold Kunde", shown
    assert await anna.evaluate("window.__tones") > tones_before, "the sound played"
    await anna.wait_for_function("document.title === '(1) ContactHub console'")

    conv_id = await anna.get_attribute(".state-offered", "data-id")
    live_hub.app[BUS].publish(
        "conversation.mention",
        {"conversation_id": conv_id, "agent_id": anna_id, "by": "Ben Miller", "text": "@Anna bitte ansehen"},
    )
    await anna.wait_for_function("window.__shown.length === 2")
    assert (await anna.evaluate("window.__shown"))[1] == {
        "title": "Ben Miller mentioned you",
        "body": "@Anna bitte ansehen",
    }
    live_hub.app[BUS].publish(
        "sla.warning",
        {
            "conversation_id": conv_id,
            "agent_id": anna_id,
            "kind": "first_response",
            "due": "2030-01-01T10:00:00+00:00",
        },
    )
    await anna.wait_for_function("window.__shown.length === 3")
    assert (await anna.evaluate("window.__shown"))[2]["title"] == "SLA due soon: Gold Kunde"
    await anna.wait_for_function("document.title === '(3) ContactHub console'")
    # back at the console: the mentions and warnings are seen; the offer still waits
    await anna.evaluate(LOOK_BACK)
    await anna.wait_for_function("document.title === '(1) ContactHub console'")
    await anna.click(".state-offered button.primary")
    await anna.wait_for_function("document.title === 'ContactHub console'")


async def visible_in_width(page: Any, selector: str) -> None:
    """The control is there, shown, and within the screen's width once scrolled to (measured
    in one go in the page: the console may re-render it between two calls from here)."""
    found = await page.wait_for_function(
        """(selector) => {
          const el = document.querySelector(selector);
          if (!el) return null;
          el.scrollIntoView({ block: "center", inline: "nearest" });
          const r = el.getBoundingClientRect();
          return { x: r.x, width: r.width, height: r.height, shown: el.checkVisibility(),
                   screen: window.innerWidth, page: document.scrollingElement.scrollWidth };
        }""",
        arg=selector,
    )
    box = await found.json_value()
    assert box["shown"] and box["width"] > 0 and box["height"] > 0, (selector, box)
    assert box["x"] >= 0 and box["x"] + box["width"] <= box["screen"] + 0.5, (selector, box)
    assert box["page"] <= box["screen"], f"the page scrolls sideways with {selector}: {box}"


async def test_the_console_on_a_phone_is_one_column_with_every_action_reachable(
    live_hub: LiveHub, browser: Any
) -> None:
    phone = (390, 844)
    await make_gold_customer(live_hub)
    anna_id = live_hub.agents["anna@e2e.example"]
    async with live_hub.app[STORE].write() as conn:
        await conn.execute(
            sa.update(customers).values(key_account_manager_id=anna_id, organisation="Muster AG")
        )
    anna = await sign_in(browser, live_hub, "anna@e2e.example", viewport=phone)
    await set_available(anna)
    assert await anna.evaluate(NO_OVERFLOW)
    for control in ("#presence", "#language", "#notify-settings", "#logout", "#tag-filter", "#nav-inbox"):
        await visible_in_width(anna, control)
    await post_message(live_hub, "phone-1", "Ein langer Text ohne Leerzeichen: " + "x" * 120)
    await anna.wait_for_selector(".state-offered", timeout=10000)
    await visible_in_width(anna, ".state-offered button.primary")
    await visible_in_width(anna, ".state-offered button:not(.primary)")
    await anna.click(".state-offered button.primary")
    await anna.wait_for_selector("#composer-text")
    conv_id = anna.url.rsplit("/", 1)[1]
    # one column: the inbox above the conversation, the customer below it
    tops = await anna.evaluate(
        "['#inbox', '.conv-main', '.sidebar'].map(s => document.querySelector(s).getBoundingClientRect().top)"
    )
    assert tops == sorted(tops) and len(set(tops)) == 3, tops
    for control in (
        "#act-transfer",
        "#act-snooze",
        "#act-close",
        "#tag-input",
        "#tag-add",
        "#composer-text",
        "#tab-note",
        "#composer-channel",
        "#composer-send",
        ".msg-text",
        "#identity-value",
        "#identity-form button[type=submit]",
        "#consent-grant",
        "#consent-withdraw",
    ):
        await visible_in_width(anna, control)
    for dialog_button, field in (
        ("#act-transfer", "select[name=queue]"),
        ("#act-snooze", "input[name=until]"),
    ):
        await anna.click(dialog_button)
        await visible_in_width(anna, f"dialog {field}")
        await visible_in_width(anna, "dialog button[type=submit]")
        await anna.click("dialog button[type=button]")
        await anna.wait_for_selector("dialog", state="detached")
    await anna.fill("#tag-input", "mobil")
    await anna.click("#tag-add")
    await anna.wait_for_selector(".conv-tags .tag >> text=mobil")
    await anna.fill("#composer-text", "Wir kümmern uns darum.")
    await anna.click("#composer-send")
    await anna.wait_for_selector(".msg.out .msg-text >> text=Wir kümmern uns darum.")
    assert await anna.evaluate(NO_OVERFLOW)
    await anna.click("#notify-settings")
    await visible_in_width(anna, "#notify-sla-sound")
    await anna.click("#notify-dialog .primary")
    await anna.click("#nav-key-accounts")
    await anna.wait_for_selector(".account-row")
    await visible_in_width(anna, ".account-row .open-list a")
    await visible_in_width(anna, ".account-row")
    await anna.click("#nav-inbox")
    await anna.wait_for_selector(".pick")
    await anna.click(".row-link")
    await anna.wait_for_selector("#act-close")
    await visible_in_width(anna, "#act-close")
    await anna.click("#act-close")
    await anna.wait_for_selector("#act-reopen")
    await visible_in_width(anna, "#act-reopen")

    sofia = await sign_in(browser, live_hub, "sofia@e2e.example", viewport=phone)
    await sofia.click("#nav-supervisor")
    await sofia.wait_for_selector('.queue-row[data-queue="service"]')
    await visible_in_width(sofia, "#sup-queues")
    await visible_in_width(sofia, "#sup-agents")
    await visible_in_width(sofia, ".chart")
    await sofia.goto(f"{live_hub.url}/console/#/c/{conv_id}")
    await sofia.wait_for_selector("#cust-merge")
    for control in ("#cust-merge", "#cust-export", ".remove-identity"):
        await visible_in_width(sofia, control)
    await sofia.click("#cust-merge")
    await visible_in_width(sofia, "#merge-query")
    await visible_in_width(sofia, "#merge-search")
    await sofia.keyboard.press("Escape")


async def test_the_supervisors_queue_table_fits_a_1400_pixel_screen(live_hub: LiveHub, browser: Any) -> None:
    await make_gold_customer(live_hub)
    await post_message(live_hub, "sup-1", "Hallo")
    sofia = await sign_in(browser, live_hub, "sofia@e2e.example", viewport=(1400, 900), locale="de-DE")
    await sofia.click("#nav-supervisor")
    await sofia.wait_for_selector('.queue-row[data-queue="service"]')
    fits = await sofia.evaluate(
        """() => {
          const table = document.querySelector('.queue-row').closest('table');
          const card = table.closest('.card').getBoundingClientRect();
          const box = table.getBoundingClientRect();
          const main = document.getElementById('main');
          return {right: box.right, card: card.right - 1, width: window.innerWidth,
                  main: main.scrollWidth <= main.clientWidth,
                  page: document.scrollingElement.scrollWidth <= window.innerWidth};
        }"""
    )
    assert fits["right"] <= fits["card"] and fits["right"] <= fits["width"], fits
    assert fits["main"] and fits["page"], fits
    last = await sofia.locator(".queue-row .num").last.bounding_box()
    assert last is not None and last["x"] + last["width"] <= 1400


async def test_a_reply_goes_out_on_the_conversation_opened_next_not_the_last_ones_channel(
    live_hub: LiveHub, browser: Any
) -> None:
    """What was typed survives a live re-render of the same conversation; opening another
    one starts afresh (its reply channel is its own, not the one picked before)."""
    from datetime import UTC, datetime

    from hub.keys import QUEUE
    from hub.model import Address, AddressKind, Channel, InboundMessage, ThreadHint

    await make_gold_customer(live_hub)
    sofia = await sign_in(browser, live_hub, "sofia@e2e.example")
    await post_message(live_hub, "api-1", "Über die API")
    await live_hub.app[QUEUE].append(
        InboundMessage(
            channel=Channel.EMAIL,
            external_id="<mail-1@kunde.example>",
            sender=Address(AddressKind.EMAIL, "mail@kunde.example"),
            sender_name="Mail Kunde",
            thread_hint=ThreadHint(key="mail-1"),
            subject="Per Mail",
            text="Per E-Mail",
            received_at=datetime.now(UTC),
        )
    )
    await sofia.wait_for_selector(".row-link >> text=Mail Kunde", timeout=10000)
    await sofia.click(".row-link >> text=Gold Kunde")
    await sofia.wait_for_selector(".msg-text >> text=Über die API")
    assert await sofia.input_value("#composer-channel") == "api"
    await sofia.fill("#tag-input", "halb getippt")
    await sofia.evaluate("document.getElementById('tag-input').blur()")
    live_hub.app[BUS].publish("message.delivery", {"conversation_id": sofia.url.rsplit("/", 1)[1]})
    await sofia.wait_for_function("document.getElementById('tag-input').value === 'halb getippt'")
    await sofia.click(".row-link >> text=Mail Kunde")
    await sofia.wait_for_selector(".msg-text >> text=Per E-Mail")
    assert await sofia.input_value("#composer-channel") == "email"
    assert await sofia.input_value("#tag-input") == ""
    await sofia.fill("#composer-text", "Antwort per Mail")
    async with sofia.expect_request(lambda r: r.method == "POST" and r.url.endswith("/messages")) as sent:
        await sofia.click("#composer-send")
    body = json.loads((await sent.value).post_data or "{}")
    assert body["text"] == "Antwort per Mail" and "channel" not in body, "on the conversation's own channel"
