"""Running automations on what happens: one process at a time (a lease) follows the event
log in id order and, every round, looks at the timers (waiting on the customer or on us
for so long, the daily schedule).

**Nothing missed, nothing twice.** The runner keeps its place in the log (``progress``:
``automation.events``). Ids are handed out before their transactions commit, so an id
missing between two it has read may still appear: the runner waits for it (up to
``GAP_WAIT``; then it was rolled back) rather than pass it. Each time an automation
fires is a row of ``automation_runs``, unique per automation, chain and subject, claimed
before its actions run: a replay after a crash fires nothing again.

**Loops stop.** An event an automation caused names it and its chain
(``automation:NAME@CHAIN``, hub/automation/act.py); what it triggers belongs to the same
chain, and an automation acts at most once per chain and subject. When a chain comes
back to an automation that acted in it, the runner stops it there, with an
``automation.stopped`` event on the timeline. Beyond that, at most
``automation.max_actions_per_hour`` actions per conversation; the first time the limit
stops one in an hour is on the timeline too.

It never blocks ingest or routing: it reads what they recorded, after the fact, and
acts through the same services as agents.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import rule_engine
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.automation.act import Acting, Run, actor_of, chain_of, perform, tell_low_score, tell_router
from hub.automation.config import AutomationConfig
from hub.automation.facts import Subject, build
from hub.automation.rules import Automation, Automations
from hub.customers import audit
from hub.customers.records import CustomerRecords
from hub.routing.rules import RuleSet
from hub.store.repos import automation as repo
from hub.store.repos import progress
from hub.store.repos.event_feed import FeedEvent

log = logging.getLogger("contacthub.automation")
CURSOR = "automation.events"
PAGE = 500
GAP_WAIT = 10.0  # seconds: a transaction that took an id commits within it, or never
HOUR = timedelta(hours=1)
SEEN_MAX = 200_000  # timer subjects already looked at, remembered in this process

# event action -> the trigger it is
EVENT_TRIGGERS = {
    "message.received": "message_received",
    "conversation.opened": "conversation_opened",
    "conversation.assigned": "assigned",
    "conversation.closed": "closed",
    "conversation.reopened": "reopened",
    "sla.warning": "sla_warning",
    "sla.breached": "sla_breached",
    "csat.received": "csat_received",
}


def subjects_of(event: FeedEvent, open_conversations: list[str] | None = None) -> Iterator[Subject]:
    """What an event triggers, on what. Pure, but for a change of health: the caller
    hands in the customer's open conversations (each is a subject; none: the customer)."""
    data = event.data
    if event.action in EVENT_TRIGGERS:
        trigger = EVENT_TRIGGERS[event.action]
        if event.action == "message.received":
            if data.get("kind", "message") == "message" and isinstance(data.get("conversation_id"), str):
                yield Subject(trigger, event.customer_id, data["conversation_id"], event.subject_id)
        elif event.action == "csat.received":
            csat = {"score": data.get("score"), "comment": data.get("comment") or ""}
            yield Subject(trigger, event.customer_id, event.subject_id, detail={"csat": csat})
        else:
            yield Subject(trigger, event.customer_id, event.subject_id)
    elif event.action == "conversation.tagged":
        for key, trigger in (("added", "tag_added"), ("removed", "tag_removed")):
            for tag in data.get(key) or ():
                yield Subject(trigger, event.customer_id, event.subject_id, detail={"tag": tag})
    elif event.action == "health.changed":
        detail = {"level": data.get("to")}
        for conv_id in open_conversations or ():
            yield Subject("health_changed", event.customer_id, conv_id, detail=detail)
        if not open_conversations:
            yield Subject("health_changed", event.customer_id, detail=detail)


def waits_due(
    automations: Automations, waiting: Sequence[repo.Waiting], now: datetime
) -> Iterator[tuple[Automation, Subject, datetime]]:
    """The waiting triggers whose time has come at ``now``: each automation, its subject
    (``detail["since"]``: since when the conversation waits) and when it came due."""
    on_us, on_customer = automations.on("waiting_on_us"), automations.on("waiting_on_customer")
    for w in waiting:
        for automation, since, wait in [
            *((a, w.on_us_since, timedelta(minutes=a.options["minutes"])) for a in on_us),
            *((a, w.on_customer_since, timedelta(hours=a.options["hours"])) for a in on_customer),
        ]:
            if since is not None and now - since >= wait:
                detail = {"since": since}
                yield (
                    automation,
                    Subject(automation.trigger, w.customer_id, w.conversation_id, detail=detail),
                    since + wait,
                )


def options_hold(automation: Automation, subject: Subject, facts: dict[str, Any]) -> bool:
    """The trigger's options: a channel, a tag, a level."""
    options = automation.options
    if "channel" in options:
        channel = (facts.get("message") or {}).get("channel") or (facts.get("conversation") or {}).get(
            "channel"
        )
        if channel != options["channel"]:
            return False
    if "tag" in options and subject.detail.get("tag") != options["tag"]:
        return False
    return not ("level" in options and subject.detail.get("level") != options["level"])


@dataclass(frozen=True, slots=True)
class Env:
    """What facts are read with: the routing rules (a queue's hours), the hub's time
    zone, the customer records (segments)."""

    rules: RuleSet
    zone: ZoneInfo
    records: CustomerRecords


async def facts_if_fires(
    conn: AsyncConnection, automation: Automation, subject: Subject, now: datetime, env: Env
) -> dict[str, Any] | None:
    """The facts, if the automation's options and condition hold for the subject now."""
    facts = await build(
        conn,
        subject,
        now,
        rules=env.rules,
        zone=env.zone,
        records=env.records,
        with_segments=automation.reads_segments,
    )
    if facts is None or not options_hold(automation, subject, facts):
        return None
    try:
        return facts if automation.matches(facts) else None
    except rule_engine.errors.EngineError as exc:  # a value of another type than it reads
        log.warning("automation %r: its condition could not be evaluated: %s", automation.name, exc)
        return None


class Runner:
    def __init__(
        self,
        *,
        acting: Acting,
        config: AutomationConfig,
        records: CustomerRecords,
        zone: ZoneInfo,
        max_actions_per_hour: int,
    ) -> None:
        self._acting = acting
        self._store = acting.store
        self._clock = acting.clock
        self._config = config
        self._records = records
        self._zone = zone
        self._limit = max_actions_per_hour
        self._gaps: dict[int, float] = {}  # a missing id -> when it was first missed (monotonic)
        self.gap_wait_s = GAP_WAIT
        self._seen: set[tuple[str, str, str]] = set()  # timer subjects looked at

    # --- the event log ---------------------------------------------------------------

    async def follow_events(self) -> int:
        async with self._store.read() as conn:
            place = await progress.get(conn, CURSOR)
            if place is None:  # the first round ever: from now on
                last = await repo.last_event_id(conn)
            else:
                last = place[0]
            found = await repo.events_after(conn, last, PAGE)
        if place is None:
            async with self._store.write() as conn:
                await progress.put(conn, CURSOR, last, self._clock())
        fired = 0
        done = last
        for event in found:
            if event.id != done + 1 and not self._gap_passed(done + 1):
                break
            fired += await self.handle(event)
            done = event.id
        self._gaps = {k: v for k, v in self._gaps.items() if k > done}
        if done != last:
            async with self._store.write() as conn:
                await progress.put(conn, CURSOR, done, self._clock())
        return fired

    def _gap_passed(self, missing: int) -> bool:
        first = self._gaps.setdefault(missing, time.monotonic())
        return time.monotonic() - first >= self.gap_wait_s

    async def handle(self, event: FeedEvent) -> int:
        await self._built_in(event)
        triggers = self._config.automations.triggers
        wanted = EVENT_TRIGGERS.get(event.action)
        if wanted is None and event.action == "conversation.tagged":
            if not triggers & {"tag_added", "tag_removed"}:
                return 0
        elif wanted is None and event.action == "health.changed":
            if "health_changed" not in triggers:
                return 0
        elif wanted not in triggers:
            return 0
        open_conversations = None
        if event.action == "health.changed" and event.customer_id:
            async with self._store.read() as conn:
                open_conversations = await repo.open_of_customer(conn, event.customer_id)
        chain = chain_of(event.actor)
        fired = 0
        for subject in subjects_of(event, open_conversations):
            for automation in self._config.automations.on(subject.trigger):
                fired += await self.fire(
                    automation, subject, chain or f"e{event.id}", chain is not None, at=event.at
                )
        return fired

    async def _built_in(self, event: FeedEvent) -> None:
        """What the hub does on events by itself: the satisfaction survey when a
        conversation closes (if its queue is surveyed), and a low score told to the key
        account manager, else the supervisors."""
        surveys = self._acting.surveys
        if surveys is None:
            return
        # not after an SMS answer closed what it had reopened: that would ask again
        if event.action == "conversation.closed" and event.actor != "system:csat":
            if (why := await surveys.send(event.subject_id, "system:csat", on_close=True)) is not None:
                log.debug("no survey for %s: %s", event.subject_id, why)
        elif event.action == "csat.received":
            score = event.data.get("score")
            if isinstance(score, int) and score <= surveys.config.settings.low_score and event.customer_id:
                await tell_low_score(self._acting, event.subject_id, event.customer_id, score, event.data)

    # --- the timers ---------------------------------------------------------------------

    async def timers(self) -> int:
        automations = self._config.automations
        now = self._clock()
        fired = 0
        on_us, on_customer = automations.on("waiting_on_us"), automations.on("waiting_on_customer")
        if on_us or on_customer:
            async with self._store.read() as conn:
                waiting = await repo.waiting(conn)
            for automation, subject, _due in waits_due(automations, waiting, now):
                since = subject.detail["since"]
                fired += await self._timer(automation, subject, f"w{int(since.timestamp())}")
        for automation in automations.on("schedule"):
            fired += await self._schedule(automation, now)
        return fired

    async def _timer(self, automation: Automation, subject: Subject, chain: str) -> int:
        key = (automation.name, chain, str(subject.conversation_id))
        if key in self._seen:
            return 0
        if len(self._seen) >= SEEN_MAX:
            self._seen.clear()
        self._seen.add(key)
        return await self.fire(automation, subject, chain, False)

    async def _schedule(self, automation: Automation, now: datetime) -> int:
        """Once a day, from its time of day on: every open conversation is its subject."""
        local = now.astimezone(self._zone)
        if local.time().replace(tzinfo=None) < automation.options["at"]:
            return 0
        name = f"automation.schedule:{automation.name}"[:100]
        today = local.date()
        async with self._store.read() as conn:
            last = await progress.get(conn, name)
            if last is not None and last[1].astimezone(self._zone).date() >= today:
                return 0
            found = await repo.open_conversations(conn)
        chain = f"d{today:%Y%m%d}"
        fired = 0
        for conv_id, customer_id in found:
            fired += await self._timer(automation, Subject("schedule", customer_id, conv_id), chain)
        async with self._store.write() as conn:
            await progress.put(conn, name, 0, now)
        return fired

    # --- firing -------------------------------------------------------------------------

    async def fire(
        self, automation: Automation, subject: Subject, chain: str, in_chain: bool, at: datetime | None = None
    ) -> int:
        """Run the automation on the subject if its options and condition hold, once per
        chain, within the hourly limit; 1 if it acted. The time its condition reads is
        ``at``, when the event happened (business hours then, not when it was handled)."""
        now = self._clock()
        async with self._store.read() as conn:
            facts = await facts_if_fires(conn, automation, subject, at or now, self._env())
        if facts is None:
            return 0
        version = self._config.version
        run = Run(automation, version, chain, subject, facts)
        conv_id = subject.conversation_id
        row = {
            "automation": automation.name,
            "version": version,
            "trigger": subject.trigger,
            "chain": chain,
            "subject_id": conv_id or str(subject.customer_id),
            "conversation_id": conv_id,
            "customer_id": subject.customer_id,
            "at": now,
            "status": "running",
            "actions": len(automation.actions),
            "results": [],
        }
        async with self._store.write() as conn:
            if conv_id is not None:
                used = await repo.actions_since(conn, conv_id, now - HOUR)
                if used + len(automation.actions) > self._limit:
                    said = await repo.limited_since(conn, conv_id, now - HOUR)
                    if await repo.claim_run(conn, {**row, "status": "limited", "actions": 0}) and not said:
                        await self._stopped(conn, run, "limit", used=used, limit=self._limit)
                    return 0
            run_id = await repo.claim_run(conn, row)
            if run_id is None:
                if in_chain:  # it comes back to an automation that acted in this chain: a loop
                    await self._stopped(conn, run, "loop")
                return 0
        results = await perform(self._acting, run)
        async with self._store.write() as conn:
            await repo.finish_run(conn, run_id, "done", results)
            await self._record(conn, run, "automation.ran", actions=results)
        await tell_router(self._acting, run)
        return 1

    def _env(self) -> Env:
        return Env(self._acting.rules(), self._zone, self._records)

    async def _stopped(self, conn: Any, run: Run, why: str, **detail: Any) -> None:
        await self._record(conn, run, "automation.stopped", reason=why, **detail)
        log.info(
            "automation %r stopped (%s) on %s",
            run.automation.name,
            why,
            run.subject.conversation_id or run.subject.customer_id,
        )

    async def _record(self, conn: Any, run: Run, action: str, **data: Any) -> None:
        conv_id = run.subject.conversation_id
        await audit.record(
            conn,
            actor=actor_of(run.automation.name, run.chain),
            action=action,
            subject_type="conversation" if conv_id else "customer",
            subject_id=conv_id or str(run.subject.customer_id),
            customer_id=run.subject.customer_id,
            data={
                "name": run.automation.name,
                "version": run.version,
                "trigger": run.subject.trigger,
                **data,
            },
        )
