"""One clock (issue 24): the router and the agents' actions read the clock the app is
handed, so an offer, its accept and the close are stamped by the same clock. Agent
actions used to read the system clock while the router read the injected one. Both
backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hub.app import create_app
from hub.keys import TOKENS
from hub.settings import Settings
from hub.store.times import utc
from tests.conftest import HubClient
from tests.routing.test_router_service import RULES, Floor
from tests.waits import eventually

AHEAD = timedelta(days=400)  # far enough that no system-clock stamp can pass for it


def ahead() -> datetime:
    return datetime.now(UTC) + AHEAD


@pytest.fixture
async def skewed_hub(settings: Settings) -> AsyncIterator[HubClient]:
    app = create_app(settings, migrate=True, clock=ahead)
    async with TestClient(TestServer(app)) as client:
        _, token = await app[TOKENS].create("tests")
        yield HubClient(client, token)


def on_the_hubs_clock(stamp: str | datetime) -> bool:
    when = datetime.fromisoformat(stamp) if isinstance(stamp, str) else utc(stamp)
    return when > datetime.now(UTC) + AHEAD - timedelta(hours=1)


async def test_the_router_and_the_agents_actions_read_the_clock_the_app_is_handed(
    skewed_hub: HubClient,
) -> None:
    floor = await Floor(skewed_hub).start(RULES.replace("reservation_timeout: 1", "reservation_timeout: 60"))
    await floor.agent("anna", capacity={"api": 1})
    await floor.arrive("m1")
    offered = await eventually(lambda: floor.mine("anna", "offered"), what="an offer to anna")
    conv_id = offered[0]["id"]
    (offer,) = await floor.log("conversation.offered")
    assert on_the_hubs_clock(offer.at) and on_the_hubs_clock(offer.data["expires_at"]), "the router's"

    resp = await floor.act("anna", conv_id, "accept")
    assert resp.status == 200, await resp.text()
    assert on_the_hubs_clock((await resp.json())["assigned_at"]), "the accept's, compared with the offer's"
    resp = await floor.act("anna", conv_id, "notes", text="called back", callback=True)
    assert resp.status == 201, await resp.text()
    assert on_the_hubs_clock((await resp.json())["at"])
    resp = await floor.act("anna", conv_id, "close")
    assert resp.status == 200, await resp.text()
    assert on_the_hubs_clock((await resp.json())["closed_at"])
