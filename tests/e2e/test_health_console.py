"""Customer health in real Chromium: a key account manager sees their account move to
"at risk" live when a complaint arrives by SMS, with the reason and a link to the
conversation, in the early-warning list and in the customer panel's explanation."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hub.customers import health_run
from hub.keys import BUS, HEALTH, QUEUE, RECORDS, ROUTING, STORE
from hub.model import AddressKind, Channel
from hub.store.tables import conversations, messages
from hub.wiring.health import announcer
from tests.e2e.conftest import E2E, LiveHub, sign_in
from tests.e2e.test_search_console import arriving

pytestmark = E2E

COMPLAINT_RULES = """
queues:
  service: {reservation_timeout: 60}
rules:
  - name: complaints
    when: text =~~ "(?i)reklamation|beschwerde"
    actions: {tag: complaint}
    targets:
      - {queue: service, agents: '"service" in departments'}
  - name: everyone
    targets:
      - {queue: service, agents: '"service" in departments'}
"""
# one complaint is enough to put a customer at risk here
ONE_COMPLAINT = "signals: {complaint: {points: -70, half_life_days: 30, window_days: 120, tags: [complaint]}}"


async def tagged(hub: LiveHub, customer_id: str, deadline_s: float = 15) -> str:
    """The customer's conversation once routing has tagged it a complaint."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        async with hub.app[STORE].read() as conn:
            rows = (
                await conn.execute(
                    sa.select(conversations.c.id, conversations.c.route).where(
                        conversations.c.customer_id == customer_id
                    )
                )
            ).all()
        for row in rows:
            if "complaint" in ((row.route or {}).get("tags") or []):
                return str(row.id)
        await asyncio.sleep(0.1)
    raise AssertionError("the complaint was not tagged in time")


async def test_a_kam_sees_their_account_move_to_at_risk_live(live_hub: LiveHub, browser: Any) -> None:
    await live_hub.app[ROUTING].save(COMPLAINT_RULES, "test")
    await live_hub.app[HEALTH].save(ONE_COMPLAINT, "test")
    anna_id = live_hub.agents["anna@e2e.example"]
    async with live_hub.app[STORE].write() as conn:
        customer_id = await live_hub.app[RECORDS].create(
            conn,
            {
                "name": "Heinz Kunde",
                "organisation": "Kunde Bau GmbH",
                "key_account": True,
                "key_account_manager_id": anna_id,
                "revenue": {"revenue_12m": {"amount": 80000, "currency": "EUR"}},
            },
            [("phone", "+4915177777")],
            "test",
        )
    store, rules = live_hub.app[STORE], live_hub.app[HEALTH].rules
    now = datetime.now(UTC)
    await health_run.recompute_all(store, rules, now)
    await health_run.step(store, rules, now)  # marks where the step starts

    anna = await sign_in(browser, live_hub, "anna@e2e.example", locale="de-DE")
    await anna.wait_for_selector("#nav-key-accounts[data-checked='1']")
    assert await anna.is_visible("#nav-health")  # a key account manager has the early warning

    await live_hub.app[QUEUE].append(
        arriving(
            "risk-1",
            Channel.SMS,
            AddressKind.PHONE,
            "+4915177777",
            "Reklamation: die Pumpe ist wieder defekt!",
        )
    )
    conv_id = await tagged(live_hub, customer_id)
    await health_run.step(
        store, rules, datetime.now(UTC) + timedelta(seconds=11), announcer(live_hub.app[BUS])
    )

    await anna.wait_for_selector(".toast >> text=Heinz Kunde ist gefährdet")
    await anna.click("#nav-health")
    row = f"#watchlist tr.watch-row[data-id='{customer_id}']"
    await anna.wait_for_selector(row)
    assert "gefährdet" in await anna.inner_text(f"{row} .health-level")
    reason = anna.locator(f"{row} li.reason[data-signal='complaint'] a")
    assert await reason.inner_text() == "Beschwerde"
    async with live_hub.app[STORE].read() as conn:
        message_id = await conn.scalar(sa.select(messages.c.id).where(messages.c.external_id == "risk-1"))
    assert await reason.get_attribute("href") == f"#/c/{conv_id}/m/{message_id}"  # the SMS itself
    assert "80.000" in await anna.inner_text(row)  # the revenue at stake
    # filtered by tier: a key account is platinum, not standard
    await anna.fill("#watch-tier", "standard")
    await anna.click("#watch-apply")
    await anna.wait_for_selector(row, state="detached")
    await anna.fill("#watch-tier", "platinum")
    await anna.click("#watch-apply")
    await anna.wait_for_selector(row)
