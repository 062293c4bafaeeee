"""One bad row does not stop routing (issue 22, defect 6): an agent whose capacity is null
in the database (as the API used to store it) is skipped and logged once; everyone
else is still offered work. Both backends."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from hub.dispatch import inbox
from hub.keys import INBOX, ROUTER, STORE
from hub.store.tables import agents, customers, identities
from tests.conftest import HubClient
from tests.routing.test_router_service import RULES, Floor
from tests.waits import eventually


def _skips(caplog: pytest.LogCaptureFixture, row_id: str) -> int:
    return sum(
        1 for r in caplog.records if r.name == "contacthub.router" and getattr(r, "row_id", None) == row_id
    )


async def test_an_agent_with_a_null_capacity_is_skipped_and_the_others_are_routed(
    hub: HubClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="contacthub.router")
    floor = await Floor(hub).start(RULES.replace("reservation_timeout: 1", "reservation_timeout: 60"))
    bad = await floor.agent("bad", capacity={"api": 5})
    async with hub.app[STORE].write() as conn:  # made bad behind the API's back
        await conn.execute(sa.update(agents).where(agents.c.id == bad).values(capacity=None, languages=None))
    await floor.presence("bad", "away")
    await floor.presence("bad", "available")  # the router reads the bad row again, twice
    await floor.agent("anna", capacity={"api": 1})
    await floor.arrive("m1")
    offered = await eventually(lambda: floor.mine("anna", "offered"), what="an offer to anna")
    assert len(offered) == 1
    assert await floor.mine("bad") == []
    assert hub.app[ROUTER].active
    assert _skips(caplog, bad) == 1, "logged once, not on every pass"

    # fixed in the database: the agent is routed to again
    async with hub.app[STORE].write() as conn:
        await conn.execute(
            sa.update(agents).where(agents.c.id == bad).values(capacity={"api": 5}, languages=[])
        )
    await inbox.notify(hub.app[INBOX], agents=[bad])
    await floor.arrive("m2")
    assert await eventually(lambda: floor.mine("bad", "offered"), what="an offer to the mended agent")


async def test_a_conversation_whose_customer_row_is_bad_is_skipped(
    hub: HubClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="contacthub.router")
    floor = await Floor(hub).start(RULES.replace("reservation_timeout: 1", "reservation_timeout: 60"))
    resp = await hub.client.post(
        "/api/v1/customers",
        headers=floor.headers["admin"],
        json={"name": "Broken", "identities": [{"kind": "email", "value": "broken@example.com"}]},
    )
    assert resp.status == 201
    async with hub.app[STORE].write() as conn:  # attributes must be a mapping
        customer_id = await conn.scalar(
            sa.select(identities.c.customer_id).where(identities.c.value == "broken@example.com")
        )
        await conn.execute(sa.update(customers).where(customers.c.id == customer_id).values(attributes=["x"]))
    await floor.agent("anna", capacity={"api": 3})
    await floor.arrive("broken")
    await floor.arrive("fine")
    offered = await eventually(lambda: floor.mine("anna", "offered"), what="an offer to anna")
    assert [c["customer_id"] != customer_id for c in offered] == [True]

    def skipped() -> list[str]:
        return [
            r.__dict__["row_id"]  # an `extra` of the log call
            for r in caplog.records
            if r.name == "contacthub.router" and getattr(r, "row_kind", None) == "conversation"
        ]

    async def any_skipped() -> list[str]:
        return skipped()

    broken = (await eventually(any_skipped, what="the broken conversation skipped"))[0]
    await inbox.notify(hub.app[INBOX], conversations=[broken])  # read again: not logged again
    await floor.arrive("fine-too")
    await eventually(
        lambda: _count(floor.mine("anna", "offered"), 2), what="the next conversation offered to anna"
    )
    assert hub.app[ROUTER].active
    assert skipped() == [broken]


async def _count(pending, n: int) -> bool:
    return len(await pending) == n
