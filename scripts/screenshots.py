"""Screenshots of the console for the README, in English and German, against demo data.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Starts a hub of its own (embedded backend, a temporary folder), seeds the demo data
(`contacthub demo`), lets a few customers write through the API channel, and drives
Debian's Chromium with Playwright: the inbox, a conversation (tagged), the customer panel
with the record actions, the console on a phone, "My key accounts", the supervisor view,
the reports page, the chat widget on the demo website, and the admin pages' rules editor.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestServer

from hub.app import create_app
from hub.demo import seed_demo
from hub.keys import QUEUE, RECORDS, STORE
from hub.model import Address, AddressKind, Channel, InboundMessage, ThreadHint
from hub.reports.refresh import rebuild
from hub.settings import load_settings
from hub.store.tables import agents

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run", "--disable-sync"]
RULES = """
queues:
  service: {reservation_timeout: 600}
sla:
  platinum: {default: 600}
  gold: {default: 1800}
  standard: {default: 7200}
rules:
  - name: deliveries
    when: text =~~ "(?i)lieferung|paket"
    actions: {tag: delivery, set_department: service}
    targets: [{queue: service, agents: '"service" in departments'}]
  - name: invoices
    when: text =~~ "(?i)invoice|rechnung"
    actions: {tag: billing, set_department: accounts}
    targets: [{queue: service, agents: '"service" in departments'}]
  - name: everyone
    actions: {set_department: service}
    targets: [{queue: service, agents: '"service" in departments'}]
"""
# (channel, sender, name, subject, text); the first comes through the API channel, whose
# replies go to a local sink here, the rest as the email and SMS connectors would queue them
MESSAGES = [
    ("api", "einkauf@mueller-maschinenbau.example", "Jürgen Müller", "Lieferung Auftrag 4711",
     "Guten Tag, die Lieferung zu Auftrag 4711 ist noch nicht da. Können Sie den Status prüfen?"),
    ("email", "ops@harbour-logistics.example", "Grace Harbour", "Invoice 2026-118",
     "Hello, invoice 2026-118 lists two pallets too many. Could you send a corrected one?"),
    ("email", "erika@example.com", "Erika Mustermann", None, "Hallo, wie ändere ich meine Lieferadresse?"),
    ("sms", "+4915112345678", None, None, "Ist mein Paket schon unterwegs?"),
]


async def main(out: Path) -> None:
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "routing.yaml").write_text(RULES)
        config = folder / "contacthub.toml"
        sink = web.Application()
        sink.router.add_post("/replies", lambda request: web.json_response({"ok": True}))
        sink_server = TestServer(sink, host="127.0.0.1")
        await sink_server.start_server()
        config.write_text(
            f'[connectors.api]\nreply_url = "{sink_server.make_url("/replies")}"\n'
            f'[database]\nurl = "sqlite+aiosqlite:///{folder / "hub.db"}"\n'
            f'[blobs]\npath = "{folder / "blobs"}"\n[routing]\nrules_file = "{folder / "routing.yaml"}"\n'
            f'[customers]\ntiers_file = "{folder / "tiers.yaml"}"\n[log]\nlevel = "WARNING"\n'
        )
        app = create_app(load_settings(config, environ={}), migrate=True)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        base = str(server.make_url("")).rstrip("/")
        creds = await seed_demo(app[STORE], app[RECORDS], folder / "creds.json", "demo", [base])
        async with app[STORE].write() as conn:  # Anna and Ben share a team; Anna takes the first
            await conn.execute(sa.update(agents).values(teams=["service"]))
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {creds['api_token']}"}) as http:

            async def send(n: int, channel: str, sender: str, name: str | None, subject: str | None, text: str) -> None:
                kind = "phone" if sender.startswith("+") else "email"
                external_id = f"demo-{n}-{datetime.now(UTC).timestamp()}"
                if channel != "api":
                    await app[QUEUE].append(InboundMessage(
                        channel=Channel(channel), external_id=external_id, sender=Address(AddressKind(kind), sender),
                        sender_name=name, thread_hint=ThreadHint(key=None), subject=subject, text=text,
                        received_at=datetime.now(UTC)))
                    return
                body = {"external_id": external_id, "text": text,
                        "from": {"kind": kind, "value": sender, **({"name": name} if name else {})}}
                if subject:
                    body["subject"] = subject
                resp = await http.post(f"{base}/api/v1/messages", json=body)
                assert resp.status == 202, await resp.text()

            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                for lang, locale in (("en", "en-GB"), ("de", "de-DE")):
                    pages = {}
                    for email in ("anna.schmidt@demo.contacthub", "sofia.weber@demo.contacthub"):
                        context = await browser.new_context(locale=locale, viewport={"width": 1360, "height": 820})
                        page = await context.new_page()
                        await page.goto(f"{base}/console/")
                        await page.fill("input[name=email]", email)
                        await page.fill("input[name=password]", creds["agents"][email]["password"])
                        await page.click("button[type=submit]")
                        await page.wait_for_selector("#live-status.connected")
                        pages[email] = page
                    anna = pages["anna.schmidt@demo.contacthub"]
                    await anna.select_option("#presence", "available")
                    for n, message in enumerate(MESSAGES):
                        await send(n, *message)
                    await anna.wait_for_selector(".state-offered", timeout=15000)
                    await anna.wait_for_timeout(800)
                    await anna.screenshot(path=str(out / f"inbox-{lang}.png"))
                    muller = '.state-offered:has(.customer-name:text("Jürgen Müller"))'
                    await anna.wait_for_selector(muller, timeout=15000)
                    await anna.click(f"{muller} button.primary")
                    await anna.wait_for_selector("#composer-text")
                    await anna.fill("#composer-text", "Guten Tag Herr Müller, ich prüfe das sofort." if lang == "de"
                                    else "Hello, I am looking into it right now.")
                    await anna.click("#composer-send")
                    await anna.wait_for_selector(".msg.out")
                    tag = "Lieferverzug" if lang == "de" else "late delivery"
                    await anna.fill("#tag-input", tag)
                    await anna.click("#tag-add")
                    await anna.wait_for_selector(f".conv-tags .tag >> text={tag}")
                    await anna.wait_for_timeout(500)
                    await anna.screenshot(path=str(out / f"conversation-{lang}.png"))
                    conv_url = anna.url
                    panel = out / f"customer-panel-{lang}.png"
                    await customer_panel(browser, locale, creds, conv_url, panel)
                    await phone(browser, locale, creds, conv_url, out / f"phone-{lang}.png")
                    await key_accounts(browser, base, locale, creds, out / f"key-accounts-{lang}.png")
                    sofia = pages["sofia.weber@demo.contacthub"]
                    await sofia.goto(f"{base}/console/#/supervisor")
                    await sofia.wait_for_selector(".queue-row")
                    await sofia.wait_for_timeout(800)
                    await sofia.screenshot(path=str(out / f"supervisor-{lang}.png"))
                    await reports(app, browser, base, locale, creds, out / f"reports-{lang}.png")
                    await widget_chat(browser, base, locale, anna, out / f"widget-{lang}.png")
                    await admin_rules(browser, base, locale, creds, out / f"admin-rules-{lang}.png")
                    for page in pages.values():
                        await page.context.close()
                    await anna_close_all(app)
                await browser.close()
        await server.close()
        await sink_server.close()
    print(f"wrote {', '.join(sorted(p.name for p in out.glob('*.png')))} to {out}")


async def reports(
    app: web.Application, browser: Any, base: str, locale: str, creds: dict[str, Any], path: Path
) -> None:
    """The reports page: messages in by channel per day this week, tier fairness, a segment."""
    await rebuild(app[STORE], datetime.now(UTC))  # not waiting for the refresh step
    url = f"{base}/console/#/reports"
    viewport = {"width": 1360, "height": 2200}
    page = await signed_in(browser, url, locale, creds, "sofia.weber@demo.contacthub", viewport)
    await page.wait_for_selector(".fairness-row")
    if not await page.locator(".segment").count():
        await page.fill(".customer-form input[name=tier]", "gold")
        await page.fill("#segment-name", "Gold")
        await page.click("#segment-save")
        await page.wait_for_selector(".segment")
    await page.select_option("select[name=measure]", "messages_in")
    today = datetime.now(UTC).date()
    await page.fill("input[name=from]", (today - timedelta(days=6)).isoformat())
    await page.fill("input[name=to]", (today + timedelta(days=1)).isoformat())
    await page.select_option("select[name=group_by]", "channel")
    await page.select_option("select[name=chart]", "bar")
    await page.click("#rep-show")
    await page.wait_for_selector(".report-chart")
    await page.wait_for_timeout(800)  # the toast of the saved segment fades
    await page.evaluate("document.getElementById('main').scrollTo(0, 0)")
    await page.screenshot(path=str(path))
    await page.context.close()


async def signed_in(browser: Any, url: str, locale: str, creds: dict[str, Any], email: str,
                    viewport: dict[str, int]) -> Any:
    context = await browser.new_context(locale=locale, viewport=viewport)
    page = await context.new_page()
    await page.goto(url)
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", creds["agents"][email]["password"])
    await page.click("button[type=submit]")
    await page.wait_for_selector("#live-status.connected")
    return page


async def customer_panel(browser: Any, locale: str, creds: dict[str, Any], conv_url: str, path: Path) -> None:
    """The customer panel as an admin sees it: identities, consent, merges, export, erasure."""
    viewport = {"width": 1360, "height": 1500}
    page = await signed_in(browser, conv_url, locale, creds, "admin@demo.contacthub", viewport)
    await page.wait_for_selector("#cust-erase")
    await page.wait_for_timeout(300)
    box = await page.evaluate(
        "(() => { const a = document.querySelector('aside.sidebar').getBoundingClientRect();"
        " const last = document.querySelector('.record-actions').getBoundingClientRect();"
        " return {x: a.x, y: a.y, width: a.width, height: last.bottom - a.y + 16}; })()"
    )
    await page.screenshot(path=str(path), clip=box)
    await page.context.close()


async def phone(browser: Any, locale: str, creds: dict[str, Any], conv_url: str, path: Path) -> None:
    """The key account manager on her phone (390 × 844): the conversation, one column."""
    viewport = {"width": 390, "height": 844}
    page = await signed_in(browser, conv_url, locale, creds, "katrin.vogel@demo.contacthub", viewport)
    await page.wait_for_selector("#composer-text")
    await page.evaluate("document.getElementById('main').scrollIntoView({block: 'start'})")
    await page.wait_for_timeout(300)
    await page.screenshot(path=str(path))
    await page.context.close()


async def key_accounts(browser: Any, base: str, locale: str, creds: dict[str, Any], path: Path) -> None:
    """"My key accounts": the manager's accounts with open conversations and revenue."""
    url, viewport = f"{base}/console/#/key-accounts", {"width": 1360, "height": 700}
    page = await signed_in(browser, url, locale, creds, "katrin.vogel@demo.contacthub", viewport)
    await page.wait_for_selector(".account-row")
    await page.wait_for_timeout(300)
    await page.screenshot(path=str(path))
    await page.context.close()


async def admin_rules(browser: Any, base: str, locale: str, creds: dict[str, Any], path: Path) -> None:
    """The routing rules editor: a new rule whose condition the hub refuses, marked inline."""
    context = await browser.new_context(locale=locale, viewport={"width": 1360, "height": 900})
    page = await context.new_page()
    await page.goto(f"{base}/admin/")
    await page.fill("input[name=email]", "admin@demo.contacthub")
    await page.fill("input[name=password]", creds["agents"]["admin@demo.contacthub"]["password"])
    await page.click("button[type=submit]")
    await page.wait_for_selector("#rules-form")
    await page.click("#add-rule")
    await page.fill("#rule-0-name", "platinum sms")
    await page.fill("#rule-0-when", 'customer.tier == "platinum" and channel = "sms"')
    await page.wait_for_selector(".field-error mark")
    await page.screenshot(path=str(path))
    await context.close()


async def widget_chat(browser: Any, base: str, locale: str, anna: Any, path: Path) -> None:
    """A visitor on the demo website chats with Anna; the widget, open, with her reply."""
    german = locale.startswith("de")
    visitor = await (await browser.new_context(locale=locale, viewport={"width": 1280, "height": 820})).new_page()
    await visitor.goto(f"{base}/demo/")
    await visitor.click("[data-testid=launcher]")
    await visitor.fill("[data-testid=prechat-name]", "Jonas Becker")
    await visitor.select_option("[data-testid=prechat-department]", "service")
    await visitor.click("[data-testid=prechat-submit]")
    await visitor.fill("[data-testid=composer]", "Mein Abschlag ist zu hoch." if german else "My monthly payment is too high.")
    await visitor.keyboard.press("Enter")
    offer = '.state-offered:has(.customer-name:text("Jonas Becker"))'
    await anna.wait_for_selector(offer, timeout=15000)
    await anna.click(f"{offer} button.primary")
    await anna.wait_for_selector(".timeline .msg-text >> text=" + ("Abschlag" if german else "monthly payment"))
    await anna.fill("#composer-text", "Guten Tag Herr Becker, ich sehe mir Ihren Abschlag sofort an." if german
                    else "Hello Mr Becker, I am looking at your payment right now.")
    await anna.click("#composer-send")
    await visitor.wait_for_selector("[data-testid=msg][data-from=agent]", timeout=10000)
    await visitor.wait_for_timeout(600)
    await visitor.screenshot(path=str(path))
    await visitor.context.close()


async def anna_close_all(app: object) -> None:
    """Between the languages: close what is open, so the second run starts alike."""
    from hub.store.tables import conversations

    async with app[STORE].write() as conn:  # type: ignore[index]
        await conn.execute(
            sa.update(conversations)
            .where(conversations.c.status == "open")
            .values(status="closed", open_key=None, offered_to=None, assignee_id=None, needs_routing=False,
                    closed_at=datetime.now(UTC))
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(args.out))
