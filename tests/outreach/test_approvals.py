"""A key account manager's consent, on both backends: a sales agent is blocked from their
account until its manager allows sales contacts; the approval covers its department and
purpose only, ends when taken back or when its days run out, and a campaign's message
passes under it too. Only the manager (or a supervisor) grants, and the timeline says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from hub.keys import STORE
from hub.store.tables import contact_approvals, events
from tests.outreach.conftest import World, add_agent
from tests.outreach.test_campaigns import campaign, run
from tests.outreach.test_outbound import marketing_ready


async def key_account(world: World) -> tuple[str, str, dict[str, str]]:
    """A key account the sales agent Sven created, managed by Karl (an agent): the
    customer, Karl's id and his headers."""
    _, sales = await add_agent(world, "sven", ["sales"])
    world.roles["sales"] = sales
    karl, karl_headers = await add_agent(world, "karl", ["sales"])
    customer = await marketing_ready(world, role="sales", language="de")
    resp = await world.hub.client.patch(
        f"/api/v1/customers/{customer}",
        json={"key_account": True, "key_account_manager_id": karl},
        headers=world.roles["supervisor"],
    )
    assert resp.status == 200, await resp.text()
    return customer, karl, karl_headers


async def grant(world: World, customer: str, headers: dict[str, str], **body: object) -> tuple[int, dict]:
    resp = await world.hub.client.post(
        f"/api/v1/customers/{customer}/contact-approvals", json=body, headers=headers
    )
    return resp.status, await resp.json()


async def test_the_manager_lets_sales_in_for_a_while(world: World) -> None:
    await world.policy("rules:\n  - name: key accounts through their manager\n    key_accounts: manager\n")
    customer, karl, karl_headers = await key_account(world)
    offer = {"purpose": "marketing", "subject": "Angebot"}
    status, body = await world.start(customer, role="sales", **offer)
    assert status == 409 and "or others with their consent for sales" in body["detail"]

    # Sven cannot let himself in; a customer that is no key account needs no consent
    status, refused = await grant(world, customer, world.roles["sales"], department="sales", days=7)
    assert status == 403 and "key account manager" in refused["detail"]
    plain = await marketing_ready(world, role="supervisor")
    status, refused = await grant(world, plain, world.roles["supervisor"], days=7)
    assert status == 409 and "not a key account" in refused["detail"]
    for bad in ({"days": 0}, {"days": 400}, {"days": 7, "purpose": "spam"}, {"department": "", "days": 7}):
        status, refused = await grant(world, customer, karl_headers, **bad)
        assert status == 422, (bad, refused)

    status, approval = await grant(
        world, customer, karl_headers, department="sales", purpose="marketing", days=7, note="Messe-Nachfass"
    )
    assert status == 201, approval
    assert approval["in_force"] and approval["granted_by"] == karl
    status, started = await world.start(customer, role="sales", **offer)
    assert status == 201, started
    # only for its department and purpose: marketing by the marketing department stays blocked
    _, marketing = await add_agent(world, "mara", ["marketing"])
    world.roles["marketing"] = marketing
    resp = await world.hub.client.get(f"/api/v1/customers/{customer}/contact-approvals", headers=marketing)
    assert resp.status == 404  # Mara may not see this customer at all
    listed = await (
        await world.hub.client.get(f"/api/v1/customers/{customer}/contact-approvals", headers=karl_headers)
    ).json()
    assert listed["may_grant"] and [a["id"] for a in listed["items"]] == [approval["id"]]
    async with world.hub.app[STORE].read() as conn:
        said = (
            await conn.execute(
                sa.select(events.c.actor, events.c.data, events.c.reason).where(
                    events.c.action == "contact_approval.granted"
                )
            )
        ).one()
    assert said.data["department"] == "sales" and said.reason == "Messe-Nachfass" and karl in said.actor

    # taken back: blocked again; a second take-back finds nothing in force
    revoked = await world.hub.client.delete(
        f"/api/v1/customers/{customer}/contact-approvals/{approval['id']}", headers=karl_headers
    )
    assert revoked.status == 204
    again = await world.hub.client.delete(
        f"/api/v1/customers/{customer}/contact-approvals/{approval['id']}", headers=karl_headers
    )
    assert again.status == 404
    status, body = await world.start(customer, role="sales", purpose="marketing", subject="Noch ein Angebot")
    assert status == 409

    # a supervisor grants for any department, for a day; when the day is over it ends
    status, approval = await grant(world, customer, world.roles["supervisor"], days=1)
    assert status == 201 and approval["department"] is None and approval["purpose"] is None
    async with world.hub.app[STORE].write() as conn:
        await conn.execute(
            sa.update(contact_approvals)
            .where(contact_approvals.c.id == approval["id"])
            .values(until=datetime.now(UTC) - timedelta(minutes=1))
        )
    status, body = await world.start(customer, role="sales", channel="sms", purpose="marketing", text="Hallo")
    assert status == 409 and body["errors"][0]["rule"] == "key accounts through their manager"


async def test_a_campaign_reaches_a_key_account_its_manager_let_in(world: World) -> None:
    await world.policy("rules:\n  - name: key accounts through their manager\n    key_accounts: manager\n")
    customer, _, karl_headers = await key_account(world)
    first = await campaign(world, texts={"de": {"text": "Neu: Ökostrom."}}, rate_per_minute=60_000)
    shown = await run(world, first)
    assert shown["results"]["skipped_by_reason"] == {"policy: key accounts through their manager": 1}
    status, _ = await grant(
        world, customer, karl_headers, department="marketing", purpose="marketing", days=30
    )
    assert status == 201
    second = await campaign(world, texts={"de": {"text": "Neu: Ökostrom."}}, rate_per_minute=60_000)
    shown = await run(world, second)
    assert (shown["results"]["sent"], shown["results"]["skipped"]) == (1, 0)
