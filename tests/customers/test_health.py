"""Customer health: the score and every line of its explanation worked out by hand
(pure), the rules' validation, and on both backends the signals read from the store,
the step that follows new events (a change of level is an event), the early-warning
list and its roles, the rules saved as versions, erasure."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from hub.customers import health_run
from hub.customers.health import DEFAULT_HEALTH, DEFAULT_RULES, parse_health_rules, score
from hub.errors import ConfigError
from hub.keys import HEALTH, STORE
from hub.store.repos.health import Signal
from hub.store.tables import contracts, conversations, customer_health, customers, events
from tests.conftest import HubClient, sign_in_all

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_a_score_is_the_faded_sum_of_its_signals() -> None:
    signals = [
        Signal("complaint", NOW - timedelta(days=30), {"conversation_id": "v1"}),  # -20, one half-life: -10
        Signal("sla_breach", NOW - timedelta(days=14), {"conversation_id": "v1"}),  # -8, one half-life: -4
        Signal("waiting", NOW - timedelta(days=9), {"conversation_id": "v2"}),  # -10, no fading
        Signal("complaint", NOW - timedelta(days=121), {"conversation_id": "v0"}),  # out of its 120 days
    ]
    health = score(signals, NOW, DEFAULT_RULES)
    assert (health.score, health.level) == (76, "good")
    assert [(line.kind, line.points, line.link) for line in health.lines] == [
        ("complaint", -10.0, {"conversation_id": "v1"}),
        ("waiting", -10.0, {"conversation_id": "v2"}),
        ("sla_breach", -4.0, {"conversation_id": "v1"}),
    ]
    cancelled = Signal("contract_cancelled", NOW, {"contract_id": "k1"}, {"name": "Strom"})
    with_cancelled = score([*signals, cancelled], NOW, DEFAULT_RULES)
    assert (with_cancelled.score, with_cancelled.level) == (46, "watch")
    worse = score([*signals, cancelled, Signal("waiting", NOW, {})], NOW, DEFAULT_RULES)
    assert (worse.score, worse.level) == (36, "at_risk")
    assert score([Signal("silence", NOW)] * 9, NOW, DEFAULT_RULES).score == 0  # never below 0


BAD_RULES = [
    ("signals: {grumpy: {points: -5}}", "signals.grumpy"),
    ("signals: {complaint: {points: lots}}", "signals.complaint.points"),
    ("signals: {complaint: {points: -500}}", "signals.complaint.points"),
    ("signals: {waiting: {points: -5, half_life_days: 3}}", "signals.waiting.half_life_days"),
    ("signals: {complaint: {points: -5, tags: []}}", "signals.complaint.tags"),
    ("signals: {sla_breach: {half_life_days: 3}}", "signals.sla_breach"),
    ("levels: {watch: 40, at_risk: 70}", "levels.at_risk"),
    ("weights: {}", "weights"),
    ("[1, 2]", "health"),
]


def test_rules_that_cannot_work_are_refused_with_their_path() -> None:
    for text, field in BAD_RULES:
        with pytest.raises(ConfigError) as refused:
            parse_health_rules(text, "test")
        assert refused.value.field == field, text


@pytest.fixture
async def roles(hub: HubClient) -> dict[str, dict[str, str]]:
    return await sign_in_all(hub)


def _customer(cid: str, revenue: float, kam: str | None = None) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": cid,
        "name": f"Kunde {cid}",
        "tier": "gold",
        "attributes": {"revenue": {"revenue_12m": {"amount": revenue, "currency": "EUR"}}},
        "created_at": now - timedelta(days=400),
        "updated_at": now - timedelta(days=400),
        "key_account": kam is not None,
        "key_account_manager_id": kam,
    }


def _conversation(
    cid: str, customer: str, opened: datetime, tags: list[str], status: str = "closed"
) -> dict[str, Any]:
    return {
        "id": cid,
        "customer_id": customer,
        "channel": "email",
        "thread_key": cid,
        "status": status,
        "open_key": f"{customer}|email|{cid}" if status == "open" else None,
        "needs_routing": False,
        "opened_at": opened,
        "last_message_at": opened,
        "message_count": 1,
        "route": {"tags": tags},
    }


async def agent_id(hub: HubClient, email: str) -> str:
    from hub.store.tables import agents

    async with hub.app[STORE].read() as conn:
        return str(await conn.scalar(sa.select(agents.c.id).where(agents.c.email == email)))


async def test_signals_from_the_store_explain_each_point(hub: HubClient, roles) -> None:
    sup, agent = roles["supervisor"], roles["agent"]
    now = datetime.now(UTC)
    kam = await agent_id(hub, "agent@test.example")
    async with hub.app[STORE].write() as conn:
        await conn.execute(
            sa.insert(customers),
            [_customer("h-a", 50000, kam), _customer("h-b", 200000), _customer("h-c", 9000)],
        )
        await conn.execute(
            sa.insert(conversations),
            [
                _conversation("hv-1", "h-a", now - timedelta(days=2), ["complaint"]),
                _conversation("hv-2", "h-a", now - timedelta(days=10), [], status="open"),
                _conversation("hv-3", "h-b", now - timedelta(days=1), ["billing"]),
                _conversation("hv-4", "h-c", now - timedelta(days=1), []),
            ],
        )
        await conn.execute(
            sa.insert(contracts).values(
                id="hk-1",
                customer_id="h-b",
                name="Strom",
                status="active",
                ends_on=(now + timedelta(days=40)).date(),
                notice_days=30,
                created_at=now,
                updated_at=now,
            )
        )
    store = hub.app[STORE]
    assert await health_run.recompute_all(store, DEFAULT_RULES, now) >= 3
    resp = await hub.client.get("/api/v1/customers/h-a/health", headers=sup)
    assert resp.status == 200, await resp.text()
    a = await resp.json()
    # complaint 2 days ago: -20 × 0.5^(2/30) = -19.1; waiting 10 days: -10
    assert [(line["signal"], line["points"], line["link"]) for line in a["lines"]] == [
        ("complaint", -19.1, {"conversation_id": "hv-1"}),
        ("waiting", -10.0, {"conversation_id": "hv-2"}),
    ]
    assert (a["score"], a["level"]) == (71, "good")
    b = await (await hub.client.get("/api/v1/customers/h-b/health", headers=sup)).json()
    assert [(line["signal"], line["link"], line["detail"]["name"]) for line in b["lines"]] == [
        ("notice_due", {"contract_id": "hk-1"}, "Strom")
    ]
    assert b["score"] == 90

    # the step: a breach and a complaint for h-b arrive; its level changes, and says so
    await health_run.step(store, DEFAULT_RULES, now)  # the first step only marks where it starts
    async with store.write() as conn:
        await conn.execute(
            sa.insert(conversations),
            [_conversation("hv-5", "h-b", now - timedelta(minutes=5), ["beschwerde"])],
        )
        for action in ("conversation.opened", "sla.breached"):
            await conn.execute(
                sa.insert(events).values(
                    at=now - timedelta(minutes=1),
                    actor="system:test",
                    action=action,
                    subject_type="conversation",
                    subject_id="hv-5",
                    customer_id="h-b",
                    data={},
                )
            )
    later = now + timedelta(seconds=30)
    assert await health_run.step(store, DEFAULT_RULES, later) == 1
    b = await (await hub.client.get("/api/v1/customers/h-b/health", headers=sup)).json()
    assert (b["score"], b["level"]) == (62, "watch")  # 100 - 20 - 8 - 10
    async with store.read() as conn:
        said = (
            (
                await conn.execute(
                    sa.select(events.c.data).where(
                        events.c.action == "health.changed", events.c.customer_id == "h-b"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(said) == 1 and said[0]["from"] == "good" and said[0]["to"] == "watch"
    assert said[0]["reasons"][0]["signal"] == "complaint"
    assert await health_run.step(store, DEFAULT_RULES, later) == 0  # nothing new

    # the early-warning list: the most revenue at stake first; a KAM sees their accounts
    rules = DEFAULT_HEALTH.replace("levels: {watch: 70, at_risk: 40}", "levels: {watch: 95, at_risk: 10}")
    resp = await hub.client.put(
        "/api/v1/health/rules", data=rules, headers={**roles["admin"], "Content-Type": "application/yaml"}
    )
    assert resp.status == 200, await resp.text()
    await health_run.recompute_all(store, hub.app[HEALTH].rules, later)  # h-a (71) is on watch now
    listed = await (await hub.client.get("/api/v1/health/watchlist", headers=sup)).json()
    assert [i["customer"]["id"] for i in listed["items"]] == ["h-b", "h-a"]  # 200,000 then 50,000 at stake
    assert listed["items"][0]["revenue_at_stake"] == {"amount": 200000.0, "currency": "EUR"}
    assert listed["items"][0]["reasons"][0]["signal"] == "complaint"
    mine = await (await hub.client.get("/api/v1/health/watchlist", headers=agent)).json()
    assert [i["customer"]["id"] for i in mine["items"]] == ["h-a"]
    resp = await hub.client.get("/api/v1/health/watchlist", params={"level": "doomed"}, headers=sup)
    assert resp.status == 422 and (await resp.json())["field"] == "level"

    resp = await hub.client.delete("/api/v1/customers/h-b", params={"confirm": "h-b"}, headers=roles["admin"])
    assert resp.status in (200, 204), await resp.text()
    async with store.read() as conn:
        left = (await conn.execute(sa.select(customer_health.c.customer_id))).scalars().all()
    assert "h-b" not in left and "h-a" in left


async def test_health_rules_are_versions_only_admins_save(hub: HubClient, roles) -> None:
    yaml = {"Content-Type": "application/yaml"}
    resp = await hub.client.put(
        "/api/v1/health/rules",
        data="signals: {waiting: {points: -4, after_days: 2}}",
        headers={**roles["supervisor"], **yaml},
    )
    assert resp.status == 403
    resp = await hub.client.post(
        "/api/v1/health/rules/validate",
        data="signals: {grumpy: {points: -5}}",
        headers={**roles["admin"], **yaml},
    )
    body = await resp.json()
    assert body["valid"] is False and body["errors"][0]["field"] == "signals.grumpy"
    resp = await hub.client.put(
        "/api/v1/health/rules", data="signals: {grumpy: {points: -5}}", headers={**roles["admin"], **yaml}
    )
    assert resp.status == 422
    resp = await hub.client.put(
        "/api/v1/health/rules",
        data="signals: {waiting: {points: -4, after_days: 2}}",
        headers={**roles["admin"], **yaml},
    )
    assert resp.status == 200 and (await resp.json())["version"] == 1
    shown = await (await hub.client.get("/api/v1/health/rules", headers=roles["supervisor"])).json()
    assert shown["version"] == 1 and "after_days: 2" in shown["text"]
    assert (await hub.client.get("/api/v1/health/rules", headers=roles["agent"])).status == 403
    # a supervisor may look at any customer; one that does not exist is a 404, never a 500
    resp = await hub.client.get(
        "/api/v1/customers/00000000-0000-0000-0000-000000000000/health", headers=roles["supervisor"]
    )
    assert resp.status == 404


async def test_a_manager_who_was_away_gets_one_digest_a_day(hub: HubClient, roles) -> None:
    """By a real SMTP peer: the accounts that went at risk while their manager was away,
    once a day from the digest hour; a mail that cannot go out is tried again."""
    from connectors.email.notices import mailer_of
    from connectors.email.settings import EmailSettings
    from hub.customers.health_digest import send_digests
    from tests.connectors.email.smtp_peer import Peer

    kam = await agent_id(hub, "agent@test.example")  # offline: not in the console
    now = datetime.now(UTC)
    store = hub.app[STORE]
    async with store.write() as conn:
        await conn.execute(sa.insert(customers), [_customer("d-a", 50000, kam)])
    rules = parse_health_rules(
        "signals: {complaint: {points: -70, half_life_days: 30, window_days: 120, tags: [complaint]}}", "t"
    )
    await health_run.recompute_all(store, rules, now)
    async with store.write() as conn:
        await conn.execute(sa.insert(conversations), [_conversation("dv-1", "d-a", now, ["complaint"])])
        assert [c.after for c in await health_run.recompute(conn, rules, ["d-a"], now)] == ["at_risk"]

    peer = Peer()
    peer.start()
    try:
        settings = EmailSettings.model_validate(
            {
                "enabled": True,
                "from_address": "hub@firma.example",
                "smtp": {"host": "127.0.0.1", "port": peer.port, "security": "none"},
            }
        )
        mailer = mailer_of(settings)
        assert mailer is not None
        berlin = ZoneInfo("Europe/Berlin")
        # the first 08:00 after the change (the first digest looks back a day from its hour),
        # so that the time of day the test runs at does not decide it
        local = now.astimezone(berlin)
        morning = datetime.combine(local.date() + timedelta(days=local.hour >= 8), time(8), berlin)
        assert await send_digests(store, mailer, morning.replace(hour=6), berlin, 7) == 0  # before the hour
        peer.stop()
        with pytest.raises(OSError):
            await send_digests(store, mailer, morning, berlin, 7)  # the server is down
        peer.start()
        assert await send_digests(store, mailer, morning, berlin, 7) == 1  # the day was given back
        assert await send_digests(store, mailer, morning + timedelta(hours=3), berlin, 7) == 0  # once a day
        assert await send_digests(store, mailer, morning + timedelta(days=1), berlin, 7) == 0  # nothing new
    finally:
        if peer.running:
            peer.stop()
    [mail] = peer.received
    assert mail["To"] == "agent@test.example" and mail["Auto-Submitted"] == "auto-generated"
    text = mail.get_content()
    assert "Kunde d-a" in text and "-70" in text
