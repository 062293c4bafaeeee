"""The reports page in real Chromium: the tier-fairness view and a chart's table show the
numbers of the fixed history (tests/reports/history.py: gold answered in 300 s, standard
in 1,800 s and late), the CSV link downloads them, and a saved segment's count grows when
a matching customer is imported. A key account manager sees the figures of their
accounts."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hub.keys import STORE
from hub.reports.refresh import rebuild
from hub.store.tables import customers
from tests.e2e.conftest import E2E, LiveHub, sign_in
from tests.reports.history import at, small_history, write_all

pytestmark = E2E


async def cells(page: Any, selector: str) -> list[str]:
    texts: list[str] = await page.eval_on_selector_all(
        selector, "els => els.map((e) => e.textContent.trim())"
    )
    return texts


async def first_response_by_tier(page: Any) -> None:
    """Ask for the first response per tier on the history's day."""
    await page.select_option("select[name=measure]", "first_response_time")
    await page.fill("input[name=from]", "2026-03-02")
    await page.fill("input[name=to]", "2026-03-03")
    await page.select_option("select[name=group_by]", "tier")
    await page.click("#rep-show")


async def test_reports_page(browser: Any, live_hub: LiveHub) -> None:
    async with live_hub.app[STORE].write() as conn:
        await write_all(conn, small_history())
    await rebuild(live_hub.app[STORE], at(12, 0))

    page = await sign_in(browser, live_hub, "sofia@e2e.example")
    await page.click("#nav-reports")
    await page.wait_for_selector(".fairness-row")
    await first_response_by_tier(page)

    # the chart (an SVG with its legend) and its table: the first response per tier
    await page.wait_for_selector(".report-table th:text('standard')")
    assert await page.locator(".report-chart svg circle").count() == 2
    assert await cells(page, ".report-chart .legend li") == ["gold", "standard"]
    assert await cells(page, ".report-table tbody th") == ["gold", "standard"]
    assert await cells(page, ".report-table td[data-figure=median]") == ["300", "1,800"]
    assert await cells(page, ".report-table td[data-figure=count]") == ["1", "1"]

    # tier fairness for the same range: gold kept its promise, standard did not
    await page.wait_for_selector(".fairness-row[data-tier=gold] td[data-figure=attainment]:text('100%')")
    assert await cells(page, ".fairness-row[data-tier=standard] td[data-figure=attainment]") == ["0%"]
    medians = [
        await cells(page, f".fairness-row[data-tier={tier}] td[data-figure=median]")
        for tier in ("gold", "standard")
    ]
    assert medians == [["300"], ["1,800"]]
    assert await page.locator(".fairness-row.late[data-tier=standard]").count() == 1
    assert "standard" in (await cells(page, ".warnings li"))[0]

    # the CSV links ask for the same report and the same tiers
    href = await page.get_attribute("#rep-csv", "href")
    resp = await page.request.get(live_hub.url + href)
    assert resp.ok and resp.headers["content-type"].startswith("text/csv")
    assert "gold" in await resp.text()
    href = await page.get_attribute("#fair-csv", "href")
    resp = await page.request.get(live_hub.url + href)
    assert resp.ok and resp.headers["content-type"].startswith("text/csv")
    assert [line.split(",")[0] for line in (await resp.text()).splitlines()[1:]] == [
        "platinum",
        "gold",
        "standard",
    ]

    # a segment of French speakers: none yet; one imported, counted again
    await page.fill(".customer-form input[name=language]", "fr")
    await page.fill("#segment-name", "French")
    await page.click("#segment-save")
    count = ".segment[data-name=French] .segment-count"
    await page.wait_for_selector(f"{count}:text('0')")
    status = await page.evaluate(
        """async () => {
            const me = await (await fetch('/api/v1/me')).json();
            const resp = await fetch('/api/v1/customers/import', {
                method: 'POST',
                headers: {
                    'Content-Type': 'text/csv', 'X-CSRF-Token': me.csrf_token, Accept: 'application/json',
                },
                body: 'name,email,language\\nJean Dupont,jean@example.fr,fr\\n',
            });
            return resp.status;
        }"""
    )
    assert status == 200
    await page.click("#segments-refresh")
    await page.wait_for_selector(f"{count}:text('1')")
    # the list with the segment's filter shows the customer
    await page.click(".segment[data-name=French] button.link")
    await page.wait_for_selector(".customer-row th:text('Jean Dupont')")


async def test_a_key_account_manager_sees_the_reports_of_their_accounts(
    browser: Any, live_hub: LiveHub
) -> None:
    """Anna manages the gold key account of the fixed history: the Reports link shows for
    her, and its figures are of that account only; Ben, who manages none, has no link."""
    async with live_hub.app[STORE].write() as conn:
        await write_all(conn, small_history())
        await conn.execute(
            sa.update(customers)
            .where(customers.c.id == "c1")
            .values(key_account_manager_id=live_hub.agents["anna@e2e.example"])
        )
    await rebuild(live_hub.app[STORE], at(12, 0))

    ben = await sign_in(browser, live_hub, "ben@e2e.example")
    await ben.wait_for_selector("#nav-key-accounts[data-checked='1']", state="attached")
    assert await ben.is_hidden("#nav-reports")

    page = await sign_in(browser, live_hub, "anna@e2e.example")
    await page.wait_for_selector("#nav-key-accounts[data-checked='1']", state="attached")
    await page.click("#nav-reports")
    await page.wait_for_selector("#rep-scope")
    await first_response_by_tier(page)
    await page.wait_for_selector(".report-table th:text('gold')")
    assert await cells(page, ".report-table tbody th") == ["gold"]
    assert await cells(page, ".report-table td[data-figure=median]") == ["300"]
    await page.wait_for_selector(".fairness-row[data-tier=gold] td[data-figure=attainment]:text('100%')")
    assert await cells(page, ".fairness-row[data-tier=standard] td[data-figure=attainment]") != ["0%"]
