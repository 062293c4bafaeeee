"""The dry run: what draft automations would have done on what happened in the last days.

It reads the stored events of those days, in order, and asks of each automation what the
live runner asks (``hub.automation.runner.facts_if_fires``: the same facts, options and
condition), without acting: nothing is written, sent or announced. So it lists, per
conversation, the actions a live run takes on the same events. What it cannot know is
said with the answer: the facts are the store's as they are now (a conversation closed
since reads as closed); the chains its own actions would start are not followed; the
timers look at the conversations open now.

It stops at ``deadline_s`` or after ``MAX_EVENTS`` events, and says how far it got. Each
event is a few reads from the store, awaited: the event loop is never held for longer
than one condition takes (and conditions run on RE2, in linear time).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

from hub.automation.facts import Subject
from hub.automation.rules import Automation, Automations
from hub.automation.runner import EVENT_TRIGGERS, Env, facts_if_fires, subjects_of, waits_due
from hub.store.engine import Store
from hub.store.repos import automation as repo
from hub.store.times import iso

MAX_EVENTS = 20_000
MAX_ITEMS = 1_000
PAGE = 500


async def dry_run(
    store: Store, automations: Automations, env: Env, now: datetime, days: int, deadline_s: float = 20.0
) -> dict[str, Any]:
    started = time.monotonic()
    since = now - timedelta(days=days)
    actions = [a for a, trigger in EVENT_TRIGGERS.items() if trigger in automations.triggers]
    if automations.triggers & {"tag_added", "tag_removed"}:
        actions.append("conversation.tagged")
    if "health_changed" in automations.triggers:
        actions.append("health.changed")
    items: list[dict[str, Any]] = []
    examined = 0
    complete = True
    last_id = 0
    while actions and complete:
        async with store.read() as conn:
            found = await repo.events_between(conn, actions, since, now, last_id, PAGE)
        for event in found:
            if examined >= MAX_EVENTS or time.monotonic() - started > deadline_s:
                complete = False
                break
            examined += 1
            open_conversations = None
            if event.action == "health.changed" and event.customer_id:
                async with store.read() as conn:
                    open_conversations = await repo.open_of_customer(conn, event.customer_id)
            for subject in subjects_of(event, open_conversations):
                for automation in automations.on(subject.trigger):
                    await _consider(store, automation, subject, event.at, env, items)
            last_id = event.id
            await asyncio.sleep(0)  # others' turn between events
        if len(found) < PAGE:
            break
    if complete:
        complete = await _timers(store, automations, env, now, items, started, deadline_s)
    return {
        "since": iso(since),
        "until": iso(now),
        "events": examined,
        "complete": complete and len(items) <= MAX_ITEMS,
        "items": items[:MAX_ITEMS],
        "limits": (
            "facts are read as they are now; chains started by the automations' own actions are"
            " not followed; timers look at the conversations open now"
        ),
    }


async def _consider(
    store: Store,
    automation: Automation,
    subject: Subject,
    at: datetime,
    env: Env,
    items: list[dict[str, Any]],
) -> None:
    async with store.read() as conn:
        facts = await facts_if_fires(conn, automation, subject, at, env)
    if facts is None:
        return
    items.append(
        {
            "automation": automation.name,
            "trigger": subject.trigger,
            "at": iso(at),
            "conversation_id": subject.conversation_id,
            "customer_id": subject.customer_id,
            "customer": {k: facts["customer"].get(k) for k in ("name", "tier")},
            "actions": [
                {"action": a.kind, "value": round(a.value, 2) if isinstance(a.value, float) else a.value}
                for a in automation.actions
            ],
        }
    )


async def _timers(
    store: Store,
    automations: Automations,
    env: Env,
    now: datetime,
    items: list[dict[str, Any]],
    started: float,
    deadline_s: float,
) -> bool:
    """The timer triggers, on the conversations open now."""
    schedules = automations.on("schedule")
    if not (automations.triggers & {"waiting_on_us", "waiting_on_customer", "schedule"}):
        return True
    async with store.read() as conn:
        waiting = await repo.waiting(conn)
    for automation, subject, due in waits_due(automations, waiting, now):
        if time.monotonic() - started > deadline_s:
            return False
        await _consider(store, automation, subject, due, env, items)
    for w in waiting:
        if time.monotonic() - started > deadline_s:
            return False
        for automation in schedules:
            await _consider(
                store, automation, Subject("schedule", w.customer_id, w.conversation_id), now, env, items
            )
    return True
