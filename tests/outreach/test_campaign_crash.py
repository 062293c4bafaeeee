"""A campaign to 10,000 customers in a real hub process, killed (SIGKILL) while it sends
and started again: every recipient ends sent or skipped with the right reason, nobody
has two messages of it, nobody is lost, and the API channel's receiver got every one."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestServer

from hub.settings import Settings
from hub.store.engine import Store
from hub.store.tables import (
    campaign_recipients,
    campaigns,
    messages,
    outbound_contacts,
)
from tests.conftest import drop_backend, make_settings
from tests.hubproc import HubProcess
from tests.outreach.bulk import Population, running_campaign
from tests.waits import eventually

pytestmark = pytest.mark.slow
PEOPLE = Population(total=10_000, consenting_tenths=2, withdrawn_tenths=5)  # 2,000 sent


class Receiver:
    """The API channel's receiver: the message ids it was handed (a retry may repeat one)."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.app = web.Application()
        self.app.router.add_post("/replies", self.receive)

    async def receive(self, request: web.Request) -> web.Response:
        self.ids.append((await request.json())["id"])
        return web.json_response({"ok": True})


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    found = Receiver()
    async with TestServer(found.app) as server:
        yield found, str(server.make_url("/replies"))


@pytest.fixture
async def settings(tmp_path: Path, receiver: tuple[Receiver, str]) -> AsyncIterator[Settings]:
    (tmp_path / "routing.yaml").write_text(
        "queues: {service: {}}\nrules:\n  - {name: all, targets: [{queue: service}]}\n"
    )
    s = make_settings(
        tmp_path,
        "embedded",
        **{
            "connectors.api.reply_url": receiver[1],
            "campaigns.step_seconds": 0.1,
            "log.level": "WARNING",
        },
    )
    yield s
    await drop_backend(s)


async def standing(settings: Settings, campaign_id: str) -> dict[str, Any]:
    store = Store(settings.database)
    try:
        async with store.read() as conn:
            by = {
                (r.status, r.reason): r.n
                for r in await conn.execute(
                    sa.select(
                        campaign_recipients.c.status, campaign_recipients.c.reason, sa.func.count().label("n")
                    ).group_by(campaign_recipients.c.status, campaign_recipients.c.reason)
                )
            }
            per_customer = [
                r.n
                for r in await conn.execute(
                    sa.select(sa.func.count().label("n"))
                    .where(messages.c.direction == "out")
                    .group_by(messages.c.customer_id)
                )
            ]
            status = await conn.scalar(sa.select(campaigns.c.status).where(campaigns.c.id == campaign_id))
            contacts = await conn.scalar(sa.select(sa.func.count()).select_from(outbound_contacts))
            sent_ids = set(
                await conn.scalars(
                    sa.select(campaign_recipients.c.message_id).where(campaign_recipients.c.status == "sent")
                )
            )
        return {
            "by": by,
            "per_customer": per_customer,
            "status": status,
            "contacts": contacts,
            "sent_ids": sent_ids,
        }
    finally:
        await store.close()


async def test_a_killed_campaign_sends_nobody_twice_and_loses_nobody(
    settings: Settings, receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    campaign_id = await running_campaign(settings, PEOPLE)
    hub = HubProcess(tmp_path / "contacthub.toml", tmp_path)
    try:
        await hub.start()

        async def some_sent() -> bool:
            now = await standing(settings, campaign_id)
            return now["by"].get(("sent", None), 0) >= 200

        await eventually(some_sent, timeout=120, interval=0.02, what="the first 200 sent")
        hub.signal(signal.SIGKILL)
        assert await hub.wait_exit() == -signal.SIGKILL
        before = await standing(settings, campaign_id)
        assert before["by"].get(("sent", None), 0) < PEOPLE.consenting, "the kill must land mid-campaign"

        await hub.start()

        async def finished() -> bool:
            return (await standing(settings, campaign_id))["status"] == "done"

        await eventually(finished, timeout=180, interval=0.5, what="the campaign done after the restart")
        after = await standing(settings, campaign_id)
        assert after["by"] == {
            ("sent", None): PEOPLE.consenting,
            ("skipped", "consent withdrawn"): PEOPLE.withdrawn,
            ("skipped", "no consent"): PEOPLE.silent,
        }
        assert len(after["per_customer"]) == PEOPLE.consenting and set(after["per_customer"]) == {1}
        assert after["contacts"] == PEOPLE.consenting

        async def all_received() -> bool:
            return set(receiver[0].ids) >= after["sent_ids"]

        await eventually(all_received, timeout=180, interval=0.5, what="every message at the receiver")
        assert set(receiver[0].ids) == after["sent_ids"]
        hub.signal(signal.SIGTERM)
        assert await hub.wait_exit() == 0
    finally:
        hub.stop()
