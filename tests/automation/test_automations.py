"""Automations on both backends: triggers, actions, the safety rules (loops, the hourly
limit, consent, automatic senders, a failing webhook retried), the timers on an injected
clock, and the dry run against what live runs then do on the same events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web

from hub.automation.runner import Runner
from hub.customers import audit
from hub.keys import AUTOMATIONS, BUS, SETTINGS, STORE
from hub.store.repos import progress
from hub.store.tables import PRIORITIES, automation_runs, consents, conversations, events, messages
from hub.webhooks.delivery import SETTLE, deliver_due
from hub.wiring.automation import make_runner
from tests.conftest import HubClient, drop_backend, make_settings, running_hub, sign_in_all
from tests.connectors.email.smtp_peer import Peer
from tests.waits import eventually


class Clock:
    """The runner's clock: real time, moved ahead by the test."""

    def __init__(self) -> None:
        self.ahead = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


class Auto:
    def __init__(self, hub: HubClient, roles: dict[str, dict[str, str]], clock: Clock, mail: Peer) -> None:
        self.hub, self.roles, self.clock, self.mail = hub, roles, clock, mail
        self.runner: Runner = make_runner(hub.app, hub.app[AUTOMATIONS], clock)
        self.sent = 0

    async def save(self, text: str) -> int:
        resp = await self.hub.client.put(
            "/api/v1/automations",
            data=text,
            headers={**self.roles["admin"], "Content-Type": "application/yaml"},
        )
        assert resp.status == 200, await resp.text()
        return int((await resp.json())["version"])

    async def message(self, text: str, sender: str = "erika@example.com", thread: str | None = None) -> str:
        """Post a message on the API channel; its conversation's id, once stored."""
        self.sent += 1
        body: dict[str, Any] = {
            "external_id": f"auto-{self.sent}",
            "from": {"kind": "email", "value": sender, "name": "Erika Muster"},
            "text": text,
        }
        if thread:
            body["thread"] = thread
        resp = await self.hub.post_message(body)
        assert resp.status == 202, await resp.text()
        assert await self.hub.wait_stored(self.sent) >= self.sent
        async with self.hub.app[STORE].read() as conn:
            return str(
                await conn.scalar(
                    sa.select(messages.c.conversation_id).where(messages.c.external_id == f"auto-{self.sent}")
                )
            )

    async def settle(self) -> int:
        """Run the runner until it has read every event and finds nothing more to do; how
        many runs fired. (An id a rolled-back transaction took is waited for briefly.)"""
        self.runner.gap_wait_s = 3.0  # a slow commit under load is not a rollback
        fired = 0
        async with asyncio.timeout(20):
            while True:
                now = await self.runner.follow_events()
                fired += now
                async with self.hub.app[STORE].read() as conn:
                    last = await conn.scalar(sa.select(sa.func.max(events.c.id)))
                    place = await progress.get(conn, "automation.events")
                if not now and place is not None and place[0] >= (last or 0):
                    return fired
                await asyncio.sleep(0.05)

    async def events(self, conv_id: str, action: str) -> list[Any]:
        async with self.hub.app[STORE].read() as conn:
            return list(
                await conn.execute(
                    sa.select(events)
                    .where(events.c.subject_id == conv_id, events.c.action == action)
                    .order_by(events.c.id)
                )
            )

    async def conversation(self, conv_id: str) -> Any:
        async with self.hub.app[STORE].read() as conn:
            return (await conn.execute(sa.select(conversations).where(conversations.c.id == conv_id))).one()

    async def canned(self, shortcut: str, body: str) -> None:
        resp = await self.hub.client.post(
            "/api/v1/canned-responses",
            json={"title": shortcut, "shortcut": shortcut, "body": body},
            headers=self.roles["supervisor"],
        )
        assert resp.status == 201, await resp.text()


@pytest.fixture
async def auto(backend: str, tmp_path: Path) -> AsyncIterator[Auto]:
    mail = Peer()  # where notices to agents who are away go
    mail.start()
    settings = make_settings(
        tmp_path,
        backend,
        **{
            "automation.step_seconds": 0,  # the test runs the runner itself, on its clock
            "automation.max_actions_per_hour": 10,
            "connectors.api.reply_url": "http://127.0.0.1:9/replies",  # replies on the API channel queue
            "connectors.email.enabled": True,
            "connectors.email.from_address": "hub@auto.example",
            "connectors.email.smtp": {
                "host": "127.0.0.1",
                "port": mail.port,
                "security": "none",
                "timeout": 5.0,
            },
        },
    )
    try:
        async with running_hub(settings) as hub:
            auto = Auto(hub, await sign_in_all(hub), Clock(), mail)
            await auto.runner.follow_events()  # its first round: it follows the log from here on
            yield auto
    finally:
        mail.stop()
        await drop_backend(settings)


async def test_a_message_is_tagged_routed_answered_and_noted(auto: Auto) -> None:
    await auto.canned("ack", "Hallo {{customer.name}}, danke für Ihre Nachricht zu {{conversation.id}}.")
    refused = await auto.hub.client.put(
        "/api/v1/automations",
        data="automations:\n- {name: x, trigger: closed, actions: [{reply: nope}]}\n",
        headers={**auto.roles["admin"], "Content-Type": "application/yaml"},
    )
    assert refused.status == 422
    assert (await refused.json())["errors"][0]["field"] == "automations[0].actions[0].reply"
    version = await auto.save(
        """
automations:
  - name: Invoices
    trigger: message_received
    channel: api
    when: 'message.text =~~ "(?i)rechnung" and customer.tier == "standard"'
    actions:
      - tag: billing
      - set_department: billing
      - set_priority: high
      - reply: ack
      - note: Rechnungsfrage, automatisch erkannt
"""
    )
    invoice = await auto.message("Wo bleibt meine Rechnung?")
    other = await auto.message("Guten Tag", sender="otto@example.com")
    assert await auto.settle() == 1
    conv = await auto.conversation(invoice)
    assert conv.route["tags"] == ["billing"] and conv.route["department"] == "billing"
    assert conv.priority == PRIORITIES["high"]
    async with auto.hub.app[STORE].read() as conn:
        sent = (
            await conn.execute(
                sa.select(messages).where(
                    messages.c.conversation_id == invoice, messages.c.direction == "out"
                )
            )
        ).one()
    assert sent.text == f"Hallo Erika Muster, danke für Ihre Nachricht zu {invoice}."
    assert sent.meta == {"auto_reply": "1", "automation": "1"} and sent.sender_kind == "system"
    (ran,) = await auto.events(invoice, "automation.ran")
    assert ran.data["name"] == "Invoices" and ran.data["version"] == version
    assert [a["result"] for a in ran.data["actions"]] == ["done"] * 5
    assert ran.actor.startswith("automation:Invoices@e")
    (note,) = await auto.events(invoice, "conversation.note")
    assert note.data["text"] == "Rechnungsfrage, automatisch erkannt" and note.actor == ran.actor
    assert not await auto.events(other, "automation.ran")
    # the timeline names the automation and its version
    timeline = await (
        await auto.hub.client.get(
            f"/api/v1/customers/{conv.customer_id}/timeline", headers=auto.roles["supervisor"]
        )
    ).json()
    said = [i for i in timeline["items"] if i.get("action") == "automation.ran"]
    assert said and said[0]["data"]["name"] == "Invoices" and said[0]["data"]["version"] == version
    assert await auto.settle() == 0  # nothing twice


async def test_two_automations_that_answer_each_other_stop_after_one_round(auto: Auto) -> None:
    await auto.save(
        """
automations:
  - name: ping
    trigger: tag_added
    tag: ping
    actions: [{untag: ping}, {tag: pong}]
  - name: pong
    trigger: tag_added
    tag: pong
    actions: [{untag: pong}, {tag: ping}]
"""
    )
    conv_id = await auto.message("Hallo")
    assert await auto.settle() == 0
    resp = await auto.hub.client.post(
        f"/api/v1/conversations/{conv_id}/tags", json={"tag": "ping"}, headers=auto.roles["supervisor"]
    )
    assert resp.status == 200, await resp.text()
    assert await auto.settle() == 2
    ran = await auto.events(conv_id, "automation.ran")
    assert [r.data["name"] for r in ran] == ["ping", "pong"]
    (stopped,) = await auto.events(conv_id, "automation.stopped")
    assert stopped.data["name"] == "ping" and stopped.data["reason"] == "loop"
    assert (await auto.conversation(conv_id)).route["tags"] == ["ping"]
    # a new chain (an agent tags again) runs once more, and stops again
    await auto.hub.client.delete(
        f"/api/v1/conversations/{conv_id}/tags/ping", headers=auto.roles["supervisor"]
    )
    await auto.hub.client.post(
        f"/api/v1/conversations/{conv_id}/tags", json={"tag": "ping"}, headers=auto.roles["supervisor"]
    )
    assert await auto.settle() == 2
    assert [e.data["reason"] for e in await auto.events(conv_id, "automation.stopped")] == ["loop", "loop"]


async def test_the_hourly_limit_stops_automations_and_says_so_once(auto: Auto) -> None:
    await auto.save(
        """
automations:
  - name: busy
    trigger: message_received
    actions: [{tag: a}, {untag: a}, {tag: b}, {untag: b}]
"""
    )
    conv_id = await auto.message("eins", thread="t")
    assert await auto.message("zwei", thread="t") == conv_id
    assert await auto.settle() == 2  # 8 actions of 10 an hour
    for text in ("drei", "vier"):
        assert await auto.message(text, thread="t") == conv_id
    assert await auto.settle() == 0
    (stopped,) = await auto.events(conv_id, "automation.stopped")
    assert stopped.data["reason"] == "limit" and stopped.data["limit"] == 10 and stopped.data["used"] == 8
    async with auto.hub.app[STORE].read() as conn:
        statuses = list(
            await conn.scalars(sa.select(automation_runs.c.status).order_by(automation_runs.c.id))
        )
    assert statuses == ["done", "done", "limited", "limited"]
    auto.clock.ahead = timedelta(hours=1, minutes=1)  # an hour on, it may act again
    assert await auto.message("fünf", thread="t") == conv_id
    assert await auto.settle() == 1


async def test_no_reply_without_consent_nor_to_an_automatic_sender(auto: Auto) -> None:
    await auto.canned("ack", "Danke!")
    await auto.save(
        "automations:\n- {name: ack, trigger: message_received, actions: [{reply: ack}, {tag: seen}]}\n"
    )
    robot = await auto.message("Out of office", sender="robot@example.com")
    withdrawn = await auto.message("Hallo", sender="nein@example.com")
    async with auto.hub.app[STORE].write() as conn:
        await conn.execute(
            sa.update(messages).where(messages.c.conversation_id == robot).values(meta={"auto": "1"})
        )
        customer_id = (await auto.conversation(withdrawn)).customer_id
        await conn.execute(
            sa.insert(consents).values(
                customer_id=customer_id,
                channel="api",
                purpose="service",
                granted=False,
                source="api:opt-out",
                updated_at=datetime.now(UTC),
            )
        )
    assert await auto.settle() == 2
    for conv_id, why in ((robot, "the sender is automatic"), (withdrawn, "withdrew consent (api:opt-out)")):
        (ran,) = await auto.events(conv_id, "automation.ran")
        reply, tag = ran.data["actions"]
        assert reply["result"] == "skipped" and why in reply["detail"], reply
        assert tag["result"] == "done"
        async with auto.hub.app[STORE].read() as conn:
            out = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(messages)
                .where(messages.c.conversation_id == conv_id, messages.c.direction == "out")
            )
        assert out == 0


class Receiver:
    """A webhook receiver that fails until told otherwise."""

    def __init__(self) -> None:
        self.failing = True
        self.got: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.failing:
            return web.Response(status=503)
        self.got.append(body)
        return web.Response(status=204)


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    got = Receiver()
    app = web.Application()
    app.router.add_post("/hook", got.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield got, f"http://127.0.0.1:{port}/hook"
    finally:
        await runner.cleanup()


async def test_a_webhook_action_is_retried_until_the_receiver_takes_it(auto: Auto) -> None:
    async with receiver() as (got, url):
        resp = await auto.hub.client.post(
            "/api/v1/webhooks",
            json={"name": "crm", "url": url, "events": ["customer.created"]},
            headers=auto.roles["admin"],
        )
        assert resp.status == 201, await resp.text()
        await auto.save("automations:\n- {name: tell crm, trigger: closed, actions: [{webhook: crm}]}\n")
        conv_id = await auto.message("Hallo")
        resp = await auto.hub.client.post(
            f"/api/v1/conversations/{conv_id}/close", headers=auto.roles["supervisor"]
        )
        assert resp.status == 200, await resp.text()
        assert await auto.settle() == 1
        store = auto.hub.app[STORE]
        later = datetime.now(UTC) + SETTLE + timedelta(seconds=1)
        async with aiohttp.ClientSession() as http:
            assert await deliver_due(store, http, later) == 0  # the receiver fails: kept for later
            got.failing = False
            assert await deliver_due(store, http, later + timedelta(minutes=2)) > 0
        calls = [i for d in got.got for i in d["items"] if i["type"] == "automation.webhook"]
        assert len(calls) == 1 and calls[0]["subject_id"] == conv_id
        assert calls[0]["data"]["name"] == "tell crm" and calls[0]["data"]["trigger"] == "closed"
        assert calls[0]["data"]["conversation"]["status"] == "closed"


async def test_every_event_trigger_fires_on_its_event(auto: Auto) -> None:
    triggers = [
        "conversation_opened",
        "assigned",
        "closed",
        "reopened",
        "tag_removed",
        "sla_warning",
        "sla_breached",
        "health_changed",
    ]
    text = "automations:\n" + "".join(
        f"- {{name: on {t}, trigger: {t}, actions: [{{note: {t}}}]}}\n" for t in triggers
    )
    await auto.save(text)
    conv_id = await auto.message("Hallo")
    sup = auto.roles["supervisor"]
    conv = await auto.conversation(conv_id)
    await auto.hub.client.post(f"/api/v1/conversations/{conv_id}/tags", json={"tag": "x"}, headers=sup)
    await auto.hub.client.delete(f"/api/v1/conversations/{conv_id}/tags/x", headers=sup)
    assert (await auto.hub.client.post(f"/api/v1/conversations/{conv_id}/close", headers=sup)).status == 200
    # a reopen is also an assignment (to whoever reopened it)
    assert (await auto.hub.client.post(f"/api/v1/conversations/{conv_id}/reopen", headers=sup)).status == 200
    async with auto.hub.app[
        STORE
    ].write() as conn:  # as the router's SLA scan and the health step record them
        for action in ("sla.warning", "sla.breached"):
            await audit.record(
                conn,
                actor="system:router",
                action=action,
                subject_type="conversation",
                subject_id=conv_id,
                customer_id=conv.customer_id,
                data={"kind": "first_response"},
            )
        await audit.record(
            conn,
            actor="system:health",
            action="health.changed",
            subject_type="customer",
            subject_id=conv.customer_id,
            customer_id=conv.customer_id,
            data={"from": "good", "to": "watch"},
        )
    assert await auto.settle() == len(triggers)
    notes = sorted(n.data["text"] for n in await auto.events(conv_id, "conversation.note"))
    assert notes == sorted(triggers)


async def test_timers_fire_once_when_their_time_has_come(auto: Auto) -> None:
    zone = ZoneInfo(auto.hub.app[SETTINGS].reports.timezone)  # the runner's: the hub's zone
    earlier = (datetime.now(zone) - timedelta(minutes=1)).strftime("%H:%M")
    if earlier > datetime.now(zone).strftime("%H:%M"):  # just after midnight: the schedule waits a day
        earlier = "00:00"
    await auto.save(
        f"""
automations:
  - name: chase us
    trigger: waiting_on_us
    minutes: 30
    actions: [{{tag: overdue}}]
  - name: chase them
    trigger: waiting_on_customer
    hours: 48
    when: 'conversation.waiting_hours >= 48'
    actions: [{{note: still waiting for the customer}}]
  - name: morning
    trigger: schedule
    at: "{earlier}"
    when: '"overdue" in conversation.tags'
    actions: [{{note: good morning}}]
"""
    )
    ours = await auto.message("Hallo", sender="a@example.com")
    theirs = await auto.message("Hallo", sender="b@example.com")
    resp = await auto.hub.client.post(
        f"/api/v1/conversations/{theirs}/messages",
        json={"text": "Was genau?"},
        headers=auto.roles["supervisor"],
    )
    assert resp.status == 202, await resp.text()
    auto.clock.ahead = timedelta(minutes=10)
    assert await auto.runner.timers() == 0
    auto.clock.ahead = timedelta(minutes=31)
    assert await auto.runner.timers() == 1  # ours waits on us; the schedule finds no overdue tag yet
    assert (await auto.conversation(ours)).route["tags"] == ["overdue"]
    assert await auto.runner.timers() == 0  # once per wait, and the schedule ran today
    # three days on, at the same time of day (past the schedule's, whatever the hour now):
    # theirs waited 48 h on the customer; a later day's schedule
    auto.clock.ahead = timedelta(hours=72)
    assert await auto.runner.timers() == 1 + 1
    (note,) = await auto.events(theirs, "conversation.note")
    assert note.data["text"] == "still waiting for the customer"
    (morning,) = await auto.events(ours, "conversation.note")
    assert morning.data["text"] == "good morning"


async def test_a_dry_run_lists_what_live_runs_then_do(auto: Auto) -> None:
    draft = """
automations:
  - name: invoices
    trigger: message_received
    when: 'message.text =~~ "(?i)rechnung"'
    actions: [{tag: billing}, {set_priority: high}]
  - name: vip
    trigger: tag_added
    tag: vip
    actions: [{note: a VIP wrote}]
"""
    first = await auto.message("Rechnung 4711", sender="a@example.com")
    second = await auto.message("Hallo", sender="b@example.com")
    third = await auto.message("Meine Rechnung fehlt", sender="c@example.com")
    sup, admin = auto.roles["supervisor"], auto.roles["admin"]
    await auto.hub.client.post(f"/api/v1/conversations/{second}/tags", json={"tag": "vip"}, headers=sup)
    resp = await auto.hub.client.post(
        "/api/v1/automations/dry-run?days=7",
        data=draft,
        headers={**admin, "Content-Type": "application/yaml"},
    )
    assert resp.status == 200, await resp.text()
    found = await resp.json()
    assert found["complete"] and found["events"] >= 4
    would = sorted(
        (i["conversation_id"], i["automation"], tuple(a["action"] for a in i["actions"]))
        for i in found["items"]
    )
    assert would == sorted(
        [
            (first, "invoices", ("tag", "set_priority")),
            (third, "invoices", ("tag", "set_priority")),
            (second, "vip", ("note",)),
        ]
    )
    async with auto.hub.app[STORE].read() as conn:
        assert (
            await conn.scalar(sa.select(sa.func.count()).select_from(automation_runs)) == 0
        )  # no side effects
    await auto.save(draft)
    async with auto.hub.app[STORE].write() as conn:  # live runs on the same events
        await progress.put(conn, "automation.events", 0, datetime.now(UTC))
    await auto.settle()
    async with auto.hub.app[STORE].read() as conn:
        runs = list(await conn.execute(sa.select(automation_runs)))
    did = sorted(
        (r.conversation_id, r.automation, tuple(a["action"] for a in r.results if a["result"] == "done"))
        for r in runs
    )
    assert did == would
    # with no body, the dry run tries the automations in force; a draft that does not check is 422
    assert (await auto.hub.client.post("/api/v1/automations/dry-run", headers=admin)).status == 200
    bad = await auto.hub.client.post(
        "/api/v1/automations/dry-run",
        data="automations: [{name: x}]",
        headers={**admin, "Content-Type": "application/yaml"},
    )
    assert bad.status == 422 and (await bad.json())["errors"][0]["field"] == "automations[0].trigger"


async def test_versions_validate_and_roll_back(auto: Auto) -> None:
    admin, sup, agent = auto.roles["admin"], auto.roles["supervisor"], auto.roles["agent"]
    first = await auto.save("automations:\n- {name: a, trigger: closed, actions: [{tag: done}]}\n")
    second = await auto.save("automations:\n- {name: b, trigger: closed, actions: [{tag: closed}]}\n")
    live = await (await auto.hub.client.get("/api/v1/automations", headers=sup)).json()
    assert live["version"] == second and [a["name"] for a in live["automations"]] == ["b"]
    assert (await auto.hub.client.get("/api/v1/automations", headers=agent)).status == 403
    check = await (
        await auto.hub.client.post(
            "/api/v1/automations/validate",
            data="automations: [{name: c, trigger: closed, when: 'customer.tier ==', actions: [{tag: x}]}]",
            headers={**admin, "Content-Type": "application/yaml"},
        )
    ).json()
    assert not check["valid"] and check["errors"][0]["field"] == "automations[0].when"
    assert check["errors"][0]["position"] is not None and "+- name: c" in check["diff"]
    one = await (await auto.hub.client.get(f"/api/v1/automations/versions/{second}", headers=sup)).json()
    assert "-- name: a" in one["diff"] and "+- name: b" in one["diff"]
    resp = await auto.hub.client.post("/api/v1/automations/rollback", json={"version": first}, headers=admin)
    assert resp.status == 200
    assert [a.name for a in auto.hub.app[AUTOMATIONS].automations.items] == ["a"]


async def test_a_low_score_triggers_automations_tells_the_supervisors_and_lowers_health(auto: Auto) -> None:
    from hub.csat.surveys import record, token_hash
    from hub.customers import health_run
    from hub.customers.health import DEFAULT_RULES
    from hub.errors import InputError
    from hub.keys import BUS
    from hub.store.repos import csat as csat_repo

    await auto.save(
        "automations: [{name: unhappy, trigger: csat_received, when: 'csat.score <= 2',"
        " actions: [{tag: unhappy}]}]"
    )
    heard = auto.hub.app[BUS].subscribe("conversation.mention")
    conv_id = await auto.message("Das war nichts")
    conv = await auto.conversation(conv_id)
    now = datetime.now(UTC)
    async with auto.hub.app[STORE].write() as conn:
        await csat_repo.add(
            conn,
            {
                "id": "survey-1",
                "conversation_id": conv_id,
                "customer_id": conv.customer_id,
                "agent_id": None,
                "queue": conv.queue,
                "channel": "chat",
                "language": "de",
                "token_hash": token_hash("t"),
                "sent_at": now,
                "expires_at": now + timedelta(days=7),
            },
        )
        survey = await csat_repo.get(conn, "survey-1")
        assert survey is not None
        with pytest.raises(InputError) as too_long:  # refused whole, never cut short
            await record(conn, survey, 1, "x" * 2001, now)
        assert too_long.value.field == "comment"
        await record(conn, survey, 1, "Zu langsam", now)
    assert await auto.settle() == 1
    assert (await auto.conversation(conv_id)).route["tags"] == ["unhappy"]
    told = await asyncio.wait_for(heard.queue.get(), 5)
    assert told.data["conversation_id"] == conv_id and told.data["text"] == "Satisfaction 1/5: Zu langsam"
    bosses = [
        (await (await auto.hub.client.get("/api/v1/me", headers=auto.roles[r])).json())["id"]
        for r in ("supervisor", "admin")
    ]
    assert told.data["agent_id"] in bosses  # no key account manager: the supervisors and admins
    async with auto.hub.app[STORE].write() as conn:
        await health_run.recompute(conn, DEFAULT_RULES, [conv.customer_id], datetime.now(UTC))
    health = await (
        await auto.hub.client.get(
            f"/api/v1/customers/{conv.customer_id}/health", headers=auto.roles["supervisor"]
        )
    ).json()
    assert [(line["signal"], line["detail"]) for line in health["lines"]] == [("low_csat", {"score": 1})]


async def test_actions_move_assign_notify_snooze_and_close(auto: Auto) -> None:
    admin = auto.roles["admin"]
    rules = "queues: {service: {}, billing: {}}\nrules: [{name: all, targets: [{queue: service}]}]\n"
    resp = await auto.hub.client.put(
        "/api/v1/routing/rules", data=rules, headers={**admin, "Content-Type": "application/yaml"}
    )
    assert resp.status == 200, await resp.text()
    await auto.save(
        """
automations:
  - name: to billing
    trigger: message_received
    when: 'message.text == "eins"'
    actions:
      - set_queue: billing
      - assign: agent@test.example
      - notify: {to: assignee, text: "Eine Rechnungsfrage für dich"}
  - name: park
    trigger: message_received
    when: 'message.text == "zwei"'
    actions: [{unassign: true}, {snooze: {hours: 3}}]
  - name: done
    trigger: message_received
    when: 'message.text == "drei"'
    actions: [{close: true}, {csat: true}]
"""
    )
    heard = auto.hub.app[BUS].subscribe("conversation.mention")
    conv_id = await auto.message("eins", thread="t")
    assert await auto.settle() == 1
    conv = await auto.conversation(conv_id)
    agent_id = (await (await auto.hub.client.get("/api/v1/me", headers=auto.roles["agent"])).json())["id"]
    assert (conv.queue, conv.assignee_id, conv.offered_to) == ("billing", agent_id, None)
    (assigned,) = [
        e for e in await auto.events(conv_id, "conversation.assigned") if e.data.get("via") == "automation"
    ]
    assert assigned.data["agent_id"] == agent_id and assigned.actor.startswith("automation:to billing@")
    told = await asyncio.wait_for(heard.queue.get(), 5)
    assert (told.data["agent_id"], told.data["text"]) == (agent_id, "Eine Rechnungsfrage für dich")
    # the agent is not available (offline): the notice goes by mail too
    await eventually(lambda: auto.mail.received or None, what="the notice by mail")
    (notice,) = auto.mail.received
    assert notice["To"] == "agent@test.example" and "Eine Rechnungsfrage für dich" in notice.get_content()

    assert await auto.message("zwei", thread="t") == conv_id
    assert await auto.settle() == 1
    conv = await auto.conversation(conv_id)
    assert conv.assignee_id is None and conv.queue == "billing" and conv.snoozed_until is not None
    assert await auto.message("drei", thread="t") == conv_id
    assert await auto.settle() == 1
    assert (await auto.conversation(conv_id)).status == "closed"
    ran = (await auto.events(conv_id, "automation.ran"))[-1]
    close, survey = ran.data["actions"]
    assert close["result"] == "done"
    assert survey == {
        "action": "csat",
        "value": True,
        "result": "skipped",
        "detail": "no survey on api (channels: chat, email, sms)",
    }
