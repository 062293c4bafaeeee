"""Saved segments on both backends: owner and team rules, strict bodies, the live count
under the visibility rule, the figures and the comparison (expectations worked out by
hand from tests/customers/population.py), a segment as a report filter, and the key
account manager's view of the reports (their accounts only; 403 for other agents)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hub.keys import STORE
from hub.store.tables import agents, customers
from tests.conftest import HubClient
from tests.customers.test_customer_list import agent_id, roles  # noqa: F401  (the fixture)

URL = "/api/v1/segments"
WINDOW = {"from": "2026-01-01", "to": "2026-04-01", "tz": "UTC"}


async def create(hub: HubClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    resp = await hub.client.post(URL, json=body, headers=headers)
    assert resp.status == 201, await resp.text()
    created: dict[str, Any] = await resp.json()
    return created


async def get_json(hub: HubClient, url: str, headers: dict[str, str], **params: str) -> dict[str, Any]:
    resp = await hub.client.get(url, params=params, headers=headers)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def set_teams(hub: HubClient, team: str, *emails: str) -> None:
    async with hub.app[STORE].write() as conn:
        await conn.execute(sa.update(agents).where(agents.c.email.in_(emails)).values(teams=[team]))


async def test_crud_owner_and_team_rules(hub: HubClient, roles: dict[str, dict[str, str]]) -> None:  # noqa: F811
    sup, agent = roles["supervisor"], roles["agent"]
    everyone = await create(hub, sup, name="Everyone")
    standard = await create(hub, sup, name="Standard", filters={"tier": "standard"})
    assert (everyone["count"], standard["count"], standard["team"]) == (4, 2, None)
    assert standard["filters"] == {"tier": "standard"}
    listed = (await get_json(hub, URL, sup))["items"]
    assert [(s["name"], s["count"]) for s in listed] == [("Everyone", 4), ("Standard", 2)]

    # private: the agent sees none of them, and gets 404 (not 403) for each
    assert (await get_json(hub, URL, agent))["items"] == []
    for method in ("GET", "PATCH", "DELETE"):
        resp = await hub.client.request(method, f"{URL}/{standard['id']}", json={"name": "x"}, headers=agent)
        assert resp.status == 404, method
    # the agent's own: counted under the visibility rule (the agent sees k1 only)
    mine = await create(hub, agent, name="Mine")
    assert mine["count"] == 1
    assert (await create(hub, agent, name="My standard", filters={"tier": "standard"}))["count"] == 0

    # shared with a team: its members see it (and count what they may see); only the owner
    # or a supervisor changes it
    await set_teams(hub, "sales", "agent@test.example", "supervisor@test.example")
    shared = await create(hub, sup, name="Key accounts", filters={"key_account": "true"}, team="sales")
    assert shared["count"] == 1
    names = [s["name"] for s in (await get_json(hub, URL, agent))["items"]]
    assert names == ["Key accounts", "Mine", "My standard"]
    resp = await hub.client.patch(f"{URL}/{shared['id']}", json={"name": "Mine now"}, headers=agent)
    assert resp.status == 403
    resp = await hub.client.patch(f"{URL}/{mine['id']}", json={"team": "sales"}, headers=agent)
    assert resp.status == 200 and (await resp.json())["team"] == "sales"
    resp = await hub.client.patch(f"{URL}/{mine['id']}", json={"name": "Taken over"}, headers=sup)
    assert resp.status == 200 and (await resp.json())["name"] == "Taken over"

    # a change of filter changes the count
    resp = await hub.client.patch(
        f"{URL}/{standard['id']}", json={"filters": {"tier": "standard", "language": "de"}}, headers=sup
    )
    assert resp.status == 200 and (await resp.json())["count"] == 1
    resp = await hub.client.delete(f"{URL}/{standard['id']}", headers=sup)
    assert resp.status == 204
    assert (await hub.client.get(f"{URL}/{standard['id']}", headers=sup)).status == 404


BAD_BODIES = [
    ({"name": "x", "filters": {"colour": "red"}}, "filters"),
    ({"name": "x", "filters": {"tier": "gold,,silver"}}, "tier"),
    ({"name": "x", "filters": {"revenue_min": "100"}}, "revenue_min"),
    ({"name": "x", "filters": {"tier": 3}}, "filters.tier"),
    ({"name": "x", "filters": {"tier": " "}}, "filters"),
    ({"name": "", "filters": {}}, "name"),
    ({"name": None}, "name"),
    ({"name": "x", "filters": None}, "filters"),
    ({"name": "x", "team": "not-mine"}, "team"),
    ({"filters": {}}, "name"),
]


async def test_strict_bodies(hub: HubClient, roles: dict[str, dict[str, str]]) -> None:  # noqa: F811
    for body, field in BAD_BODIES:
        resp = await hub.client.post(URL, json=body, headers=roles["supervisor"])
        assert resp.status == 422, (body, await resp.text())
        assert (await resp.json())["field"] == field, body


FIGURES = {
    "everyone": {
        "customers": 4,
        "revenue": {"EUR": 170000.0, "USD": 9000.0},
        "conversations": 5,
        "contacts_per_customer": 1.25,
        "complaints": 2,
        "complaint_rate": 0.4,
        "sla_met": 3,  # v1, v3, v5 answered in time; v2 late; v4 never answered (not yet due)
        "sla_missed": 1,
        "sla_attainment": 0.75,
        "open_conversations": 2,
    },
    "standard": {
        "customers": 2,
        "revenue": {"USD": 9000.0},
        "conversations": 2,
        "contacts_per_customer": 1.0,
        "complaints": 1,
        "complaint_rate": 0.5,
        "sla_met": 1,
        "sla_missed": 0,
        "sla_attainment": 1.0,
        "open_conversations": 1,
    },
    "key": {
        "customers": 1,
        "revenue": {"EUR": 120000.0},
        "conversations": 2,
        "contacts_per_customer": 2.0,
        "complaints": 1,
        "complaint_rate": 0.5,
        "sla_met": 1,
        "sla_missed": 1,
        "sla_attainment": 0.5,
        "open_conversations": 1,
    },
}


def figures_of(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k in FIGURES["everyone"]}


async def test_figures_and_compare(hub: HubClient, roles: dict[str, dict[str, str]]) -> None:  # noqa: F811
    sup = roles["supervisor"]
    made = {
        "everyone": await create(hub, sup, name="Everyone"),
        "standard": await create(hub, sup, name="Standard", filters={"tier": "standard"}),
        "key": await create(hub, sup, name="Key", filters={"key_account": "true"}),
    }
    for name, segment in made.items():
        body = await get_json(hub, f"{URL}/{segment['id']}/figures", sup, **WINDOW)
        assert figures_of(body) == FIGURES[name], name
        assert body["segment"]["id"] == segment["id"]
    # March only: v1, v4, v5 opened; v1 and v5 answered in time; v1, v4 complaints
    march = await get_json(
        hub, f"{URL}/{made['everyone']['id']}/figures", sup, **{**WINDOW, "from": "2026-03-01"}
    )
    assert figures_of(march) == {
        **FIGURES["everyone"],
        "conversations": 3,
        "contacts_per_customer": 0.75,
        "complaint_rate": 0.6667,
        "sla_met": 2,
        "sla_missed": 0,
        "sla_attainment": 1.0,
    }
    side = await get_json(hub, f"{URL}/compare", sup, a=made["standard"]["id"], b=made["key"]["id"], **WINDOW)
    assert figures_of(side["a"]) == FIGURES["standard"] and figures_of(side["b"]) == FIGURES["key"]
    assert (side["a"]["segment"]["name"], side["b"]["segment"]["name"]) == ("Standard", "Key")

    # supervisors' figures; strict parameters
    url = f"{URL}/{made['key']['id']}/figures"
    assert (await hub.client.get(url, params=WINDOW, headers=roles["agent"])).status == 403
    assert (await hub.client.get(f"{URL}/compare", params=WINDOW, headers=roles["agent"])).status == 403
    for params, field in (
        ({**WINDOW, "a": made["key"]["id"]}, "b"),
        ({**WINDOW, "a": made["key"]["id"], "b": made["key"]["id"], "c": "1"}, "c"),
        ({"from": "2026-01-01", "a": made["key"]["id"], "b": made["key"]["id"]}, "to"),
    ):
        resp = await hub.client.get(f"{URL}/compare", params=params, headers=sup)
        assert resp.status == 422 and (await resp.json())["field"] == field, params
    resp = await hub.client.get(f"{URL}/compare", params={**WINDOW, "a": "nope", "b": "nope"}, headers=sup)
    assert resp.status == 404


async def test_segment_as_report_filter(hub: HubClient, roles: dict[str, dict[str, str]]) -> None:  # noqa: F811
    sup = roles["supervisor"]
    standard = await create(hub, sup, name="Standard", filters={"tier": "standard"})
    everyone = await create(hub, sup, name="Everyone")
    params = {**WINDOW, "bucket": "month", "segment": standard["id"]}
    body = await get_json(hub, "/api/v1/reports/conversations_opened", sup, **params)
    assert [(r["start"], r["count"]) for r in body["rows"]] == [
        ("2026-01-01T00:00:00+00:00", 0),
        ("2026-02-01T00:00:00+00:00", 0),
        ("2026-03-01T00:00:00+00:00", 2),  # v4, v5
    ]
    assert body["totals"] == [{"group": "", "count": 2}] and body["customers"] == 2
    body = await get_json(
        hub,
        "/api/v1/reports/sla_attainment",
        sup,
        **{**params, "segment": everyone["id"], "group_by": "tier"},
    )
    assert body["totals"] == [
        {"group": "gold", "numerator": 1, "denominator": 2, "value": 0.5},
        {"group": "silver", "numerator": 1, "denominator": 1, "value": 1.0},
        {"group": "standard", "numerator": 1, "denominator": 1, "value": 1.0},
    ]
    resp = await hub.client.get(
        "/api/v1/reports/conversations_opened", params={**params, "segment": "nope"}, headers=sup
    )
    assert resp.status == 404


async def test_key_account_manager_sees_own_accounts_only(
    hub: HubClient,
    roles: dict[str, dict[str, str]],  # noqa: F811
) -> None:
    kam, sup = roles["agent"], roles["supervisor"]
    url = "/api/v1/reports/conversations_opened"
    params = {**WINDOW, "bucket": "month", "group_by": "tier"}
    body = await get_json(hub, url, kam, **params)
    # k1's v2 (February) and v1 (March); nobody else's
    assert [(r["start"][:7], r["group"], r["count"]) for r in body["rows"]] == [
        ("2026-01", "gold", 0),
        ("2026-02", "gold", 1),
        ("2026-03", "gold", 1),
    ]
    fairness = await get_json(hub, "/api/v1/reports/tier-fairness", kam, **WINDOW)
    gold = next(t for t in fairness["tiers"] if t["tier"] == "gold")
    assert (gold["sla_met"], gold["sla_missed"], gold["attainment"]) == (1, 1, 0.5)
    assert all(t["sla_met"] + t["sla_missed"] == 0 for t in fairness["tiers"] if t["tier"] != "gold")
    # a segment narrows further; a supervisor's private segment is not theirs
    mine = await create(hub, kam, name="Mine", filters={"open_conversations": "false"})
    body = await get_json(hub, url, kam, **{**params, "segment": mine["id"]})
    assert body["totals"] == [] and body["customers"] == 0  # k1 has an open conversation
    theirs = await create(hub, sup, name="Theirs")
    resp = await hub.client.get(url, params={**params, "segment": theirs["id"]}, headers=kam)
    assert resp.status == 404

    # no longer anyone's key account manager: 403, on both reports
    async with hub.app[STORE].write() as conn:
        await conn.execute(sa.update(customers).values(key_account_manager_id=None))
    for path in (url, "/api/v1/reports/tier-fairness"):
        resp = await hub.client.get(path, params=WINDOW, headers=kam)
        assert resp.status == 403, path
    assert (await hub.client.get(url, params=WINDOW, headers=sup)).status == 200


async def test_figures_say_how_healthy_the_members_are(
    hub: HubClient,
    roles: dict[str, dict[str, str]],  # noqa: F811
) -> None:
    """The population's health now (its conversations are from March): k1 and k4 each
    have a conversation open for months (-10) and no contact for over 120 days (-15): 75;
    k2 no contact (-15): 85; k3 was never in touch: 100."""
    from datetime import UTC, datetime

    from hub.customers import health_run
    from hub.customers.health import DEFAULT_RULES
    from hub.keys import STORE

    sup = roles["supervisor"]
    everyone = await create(hub, sup, name="Everyone")
    before = await get_json(hub, f"{URL}/{everyone['id']}/figures", sup, **WINDOW)
    assert (before["health_mean"], before["at_risk"], before["on_watch"]) == (None, 0, 0)  # none computed yet
    await health_run.recompute_all(hub.app[STORE], DEFAULT_RULES, datetime.now(UTC))
    after = await get_json(hub, f"{URL}/{everyone['id']}/figures", sup, **WINDOW)
    assert (after["health_mean"], after["at_risk"], after["on_watch"]) == (83.8, 0, 0)
    key = await create(hub, sup, name="Key", filters={"key_account": "true"})
    assert (await get_json(hub, f"{URL}/{key['id']}/figures", sup, **WINDOW))["health_mean"] == 75.0


async def test_figures_say_how_satisfied_the_members_were(
    hub: HubClient,
    roles: dict[str, dict[str, str]],  # noqa: F811
) -> None:
    """Surveys sent in the window: k1's two (5 stars, one unanswered), k2's one (2 stars);
    one sent after the window does not count."""
    from datetime import UTC, datetime, timedelta

    from hub.store.tables import csat_surveys

    def survey(sid: str, conv: str, customer: str, sent: datetime, score: int | None) -> dict[str, Any]:
        return {
            "id": sid,
            "conversation_id": conv,
            "customer_id": customer,
            "channel": "email",
            "language": "de",
            "token_hash": sid * 8,
            "sent_at": sent,
            "expires_at": sent + timedelta(days=7),
            "answered_at": sent if score is not None else None,
            "score": score,
        }

    march = datetime(2026, 3, 6, tzinfo=UTC)
    async with hub.app[STORE].write() as conn:
        await conn.execute(
            sa.insert(csat_surveys),
            [
                survey("s1", "v1", "k1", march, 5),
                survey("s2", "v2", "k1", march, None),
                survey("s3", "v3", "k2", march, 2),
                survey("s4", "v3", "k2", datetime(2026, 5, 1, tzinfo=UTC), 1),
            ],
        )
    sup = roles["supervisor"]
    everyone = await create(hub, sup, name="Everyone")
    found = await get_json(hub, f"{URL}/{everyone['id']}/figures", sup, **WINDOW)
    assert (found["csat_mean"], found["csat_response_rate"]) == (3.5, 0.6667)
    gold = await create(hub, sup, name="Gold", filters={"tier": "gold"})
    found = await get_json(hub, f"{URL}/{gold['id']}/figures", sup, **WINDOW)
    assert (found["csat_mean"], found["csat_response_rate"]) == (5.0, 0.5)
