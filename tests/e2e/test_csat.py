"""Satisfaction surveys in real Chromium: five stars in the chat widget after the agent
closes the chat, and the one-use page an email's link opens (a second answer refused);
the answers on the agent, in the report."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiohttp.test_utils import TestServer, unused_port

from hub.auth.sessions import Principal
from hub.csat.config import DEFAULT_CSAT
from hub.dispatch import actions
from hub.keys import AUTOMATION_RUNNER, CLOCK, CSAT, QUEUE, ROUTING, STORE
from hub.model import AddressKind, Channel, Role
from hub.store.tables import agents, csat_surveys, messages
from tests.conftest import drop_backend, make_settings
from tests.e2e.conftest import E2E, LiveHub
from tests.e2e.test_widget import agent_session, customer_page, demo_site, wait_bubbles
from tests.helpers import inbound
from tests.waits import eventually

pytestmark = E2E


def surveyed(channels: str) -> str:
    return DEFAULT_CSAT.replace("queues: []", "queues: [all]").replace(
        "channels: [chat, sms, email]", f"channels: [{channels}]"
    )


async def answered_survey(app: Any) -> Any:
    async with app[STORE].read() as conn:
        row = (await conn.execute(sa.select(csat_surveys).order_by(csat_surveys.c.sent_at.desc()))).first()
    return row if row is not None and row.score is not None and row.comment is not None else None


async def test_five_stars_in_the_widget_after_the_chat_closes(live_hub: LiveHub, browser: Any) -> None:
    await live_hub.app[CSAT].save(surveyed("chat"), "e2e")
    try:
        await demo_site(live_hub)
        http, csrf = await agent_session(live_hub, "ben@e2e.example")
        try:
            available = {"presence": "available"}
            assert (
                await http.put(f"{live_hub.url}/api/v1/me/presence", json=available, headers=csrf)
            ).status == 200
            customer = await customer_page(browser, live_hub, locale="de-DE")
            await customer.click("[data-testid=launcher]")
            await customer.fill("[data-testid=prechat-name]", "Clara Stern")
            await customer.fill("[data-testid=prechat-email]", "clara@kunde.example")
            await customer.select_option("[data-testid=prechat-department]", "service")
            await customer.click("[data-testid=prechat-submit]")
            await customer.fill("[data-testid=composer]", "Danke für die schnelle Hilfe")
            await customer.keyboard.press("Enter")
            await wait_bubbles(customer, 1)

            async def offered() -> str | None:
                resp = await http.get(f"{live_hub.url}/api/v1/conversations?status=open&view=mine")
                items = [c for c in (await resp.json())["items"] if c["state"] == "offered"]
                return items[0]["id"] if items else None

            conv_id = await eventually(offered, timeout=20, what="the chat offered to Ben")
            for action in ("accept", "close"):
                done = await http.post(
                    f"{live_hub.url}/api/v1/conversations/{conv_id}/{action}", headers=csrf
                )
                assert done.status == 200, await done.text()
        finally:
            await http.put(f"{live_hub.url}/api/v1/me/presence", json={"presence": "offline"}, headers=csrf)
            await http.close()

        await customer.wait_for_selector("[data-testid=csat] >> text=Wie zufrieden waren Sie", timeout=20000)
        await customer.get_by_role("button", name="4 von 5").click()
        await customer.wait_for_selector("[data-testid=csat-thanks]", timeout=10000)
        await customer.locator("[data-testid=csat] textarea").fill("Sehr freundlich")
        await customer.click("[data-testid=csat-send]")
        survey = await eventually(lambda: answered_survey(live_hub.app), what="the answer in the store")
        assert (survey.score, survey.comment, survey.channel) == (4, "Sehr freundlich", "chat")
        assert survey.agent_id == live_hub.agents["ben@e2e.example"]
        http, _ = await agent_session(live_hub, "sofia@e2e.example")
        try:
            today = datetime.now(UTC).date()
            resp = await http.get(
                f"{live_hub.url}/api/v1/reports/csat",
                params={
                    "from": str(today - timedelta(days=1)),
                    "to": str(today + timedelta(days=1)),
                    "by": "agent",
                },
            )
            rows = {r["key"]: r for r in (await resp.json())["rows"]}
            ben = rows[live_hub.agents["ben@e2e.example"]]
            assert ben["name"] == "Ben Miller" and ben["answered"] >= 1 and ben["mean_score"] is not None
        finally:
            await http.close()
        # after a reload the widget remembers what was answered: no stars again
        await customer.reload()
        await customer.click("[data-testid=launcher]")
        await customer.wait_for_selector("[data-testid=csat-thanks]", timeout=10000)
        assert await customer.locator("[data-testid=csat-4]").count() == 0
        assert customer.errors == []
    finally:
        await live_hub.app[CSAT].save(DEFAULT_CSAT, "e2e")


async def test_the_email_link_takes_one_answer(tmp_path: Path, browser: Any) -> None:
    port = unused_port()
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(
        tmp_path,
        "embedded",
        **{
            "server.public_url": url,
            "automation.step_seconds": 0,  # the test runs the runner
            "connectors.email.enabled": True,
            "connectors.email.domain": "hub.csat.example",
            "connectors.email.from_address": "service@csat.example",
            "connectors.email.smtp": {"host": "127.0.0.1", "port": 9, "security": "none", "timeout": 1.0},
        },
    )
    from hub.app import create_app

    app = create_app(settings, migrate=True)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        await app[CSAT].save(surveyed("email"), "e2e")
        runner = app[AUTOMATION_RUNNER]
        await runner.follow_events()
        agent_id = str(uuid.uuid4())
        async with app[STORE].write() as conn:
            await conn.execute(
                sa.insert(agents).values(
                    id=agent_id,
                    email="sup@csat.example",
                    name="Sara Sup",
                    role="supervisor",
                    password_hash=None,
                    presence="offline",
                    languages=["de"],
                    departments=[],
                    capacity={},
                    active=True,
                    created_at=datetime.now(UTC),
                )
            )
        mail = inbound("csat-mail-1", "karla@kunde.example", kind=AddressKind.EMAIL, channel=Channel.EMAIL)
        await app[QUEUE].append(replace(mail, received_at=datetime.now(UTC)))

        async def stored() -> Any:
            async with app[STORE].read() as conn:
                return await conn.scalar(
                    sa.select(messages.c.conversation_id).where(messages.c.external_id == "csat-mail-1")
                )

        conv_id = await eventually(stored, what="the mail stored")
        supervisor = Principal(
            agent_id=agent_id, email="sup@csat.example", name="Sara Sup", role=Role.SUPERVISOR
        )
        await actions.close(app[STORE], app[ROUTING].rules, conv_id, supervisor, app[CLOCK])
        await runner.follow_events()
        async with app[STORE].read() as conn:
            out = (
                await conn.execute(
                    sa.select(messages.c.text).where(
                        messages.c.conversation_id == conv_id, messages.c.direction == "out"
                    )
                )
            ).scalar_one()
        link = re.search(rf"{re.escape(url)}/csat/\S+", out)
        assert link, out
        context = await browser.new_context(locale="de-DE")
        page = await context.new_page()
        await page.goto(link.group(0))
        assert await page.title() == "Ihre Bewertung"
        await page.get_by_role("button", name="5 von 5").click()
        await page.wait_for_selector("text=Danke für Ihre Bewertung!")
        await page.fill("#comment", "Alles bestens")
        await page.get_by_role("button", name="Senden").click()
        await page.wait_for_selector("text=Danke, wir haben Ihren Kommentar erhalten.")
        survey = await answered_survey(app)
        assert (survey.score, survey.comment, survey.channel) == (5, "Alles bestens", "email")
        # the link again: no stars; a second answer (a replayed form) is refused
        await page.goto(link.group(0))
        assert await page.get_by_role("button", name="5 von 5").count() == 0
        again = await page.request.post(link.group(0), form={"score": "1"})
        assert again.status == 409 and "schon beantwortet" in await again.text()
        assert (await answered_survey(app)).score == 5
        unknown = await page.goto(f"{url}/csat/not-a-token")
        assert unknown is not None and unknown.status == 404
        await context.close()
    finally:
        await server.close()
        await drop_backend(settings)
