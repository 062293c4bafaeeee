"""What an automation's actions do, through the services an agent's actions use (tags,
notes, transfer, snooze, close) or the outbox (replies), as the automation: its events
name it and the chain it acts in (``automation:NAME@CHAIN``), which is how the runner
knows that an event was caused by an automation and stops loops.

Each action ends as ``done``, ``skipped`` (with why: the conversation is closed, the
customer withdrew consent, the sender is automatic) or ``failed`` (with the error); one
that fails does not stop the ones after it, and nothing here raises to the runner but
an outage of the store.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from hub.auth.sessions import Principal
from hub.automation.facts import Subject
from hub.automation.rules import Action, Automation
from hub.clock import Clock
from hub.csat.surveys import Surveys
from hub.customers import audit
from hub.customers.health_digest import Mailer
from hub.dispatch import actions as agent_actions
from hub.dispatch import tags as tag_service
from hub.dispatch.inbox import Inbox, notify
from hub.errors import HubError
from hub.model import Role
from hub.outbox.system_reply import queue_hub_reply
from hub.outreach.feedback import record_mark
from hub.realtime.bus import InProcessBus
from hub.routing.rules import RuleSet
from hub.store import search_index
from hub.store.engine import Store
from hub.store.repos import automation as repo
from hub.store.repos import feedback as feedback_repo
from hub.store.repos import webhooks as webhooks_repo
from hub.text.placeholders import fill
from hub.transient import is_transient

log = logging.getLogger("contacthub.automation")
# what changes where a conversation waits or with whom: the router is told
ROUTING_ACTIONS = frozenset({"set_priority", "set_queue", "assign", "unassign", "close", "snooze"})
NEEDS_CONVERSATION = frozenset(
    {"reply", "tag", "untag", "set_priority", "set_queue", "set_department", "assign", "unassign", "note"}
    | {"snooze", "close", "csat"}
)


@dataclass(frozen=True, slots=True)
class AutomationPrincipal(Principal):
    """An automation acting: with an admin's reach, named on every event it causes."""

    acting_as: str = ""

    @property
    def actor(self) -> str:
        return self.acting_as


def actor_of(name: str, chain: str) -> str:
    return f"automation:{name}@{chain}"


def chain_of(actor: str) -> str | None:
    """The chain an event caused by an automation belongs to; None for anyone else's."""
    if not actor.startswith("automation:") or "@" not in actor:
        return None
    return actor.rsplit("@", 1)[1]


@dataclass
class Acting:
    """The services actions use, from the app."""

    store: Store
    rules: Callable[[], RuleSet]
    clock: Clock
    bus: InProcessBus
    inbox: Inbox
    sends: Callable[[], Collection[str]]  # the channels something sends on
    mailer: Mailer | None = None
    surveys: Surveys | None = None
    agents_touched: set[str] = field(default_factory=set)  # assigned to by a run: the router re-reads them


@dataclass(frozen=True, slots=True)
class Run:
    automation: Automation
    version: int
    chain: str
    subject: Subject
    facts: Mapping[str, Any]

    @property
    def who(self) -> AutomationPrincipal:
        return AutomationPrincipal(
            agent_id="automation",
            email="",
            name=f"Automation {self.automation.name}",
            role=Role.ADMIN,
            acting_as=actor_of(self.automation.name, self.chain),
        )


async def perform(acting: Acting, run: Run) -> list[dict[str, Any]]:
    """Every action of the run, in order; what became of each."""
    results = []
    for action in run.automation.actions:
        value = action.value if not isinstance(action.value, float) else round(action.value, 2)
        result: dict[str, Any] = {"action": action.kind, "value": value}
        if action.kind in NEEDS_CONVERSATION and run.subject.conversation_id is None:
            result |= {"result": "skipped", "detail": "no conversation to act on"}
        else:
            try:
                detail = await _ACTIONS[action.kind](acting, run, action)
                result |= {"result": "done"} if detail is None else {"result": "skipped", "detail": detail}
            except HubError as exc:  # closed meanwhile, a queue that is gone: said, not raised
                result |= {"result": "skipped", "detail": exc.detail}
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.exception("automation %r: action %s failed", run.automation.name, action.kind)
                result |= {"result": "failed", "detail": f"{type(exc).__name__}: {exc}"[:500]}
        results.append(result)
    return results


Perform = Callable[[Acting, Run, Action], Awaitable[str | None]]  # None: done; else why skipped


def _conv(run: Run) -> str:
    assert run.subject.conversation_id is not None
    return run.subject.conversation_id


async def _reply(acting: Acting, run: Run, action: Action) -> str | None:
    conv_id = _conv(run)
    async with acting.store.write() as conn:
        body = await repo.canned_body(conn, action.value)
        if body is None:
            return f"no shared canned response with the shortcut {action.value!r}"
        conv = await repo.conversation(conn, conv_id)
        if conv is None or conv.status != "open":
            return "the conversation is closed"
        customer = run.facts.get("customer") or {}
        text = fill(
            body,
            {
                "customer.name": str(customer.get("name") or ""),
                "customer.organisation": str(customer.get("organisation") or ""),
                "agent.name": conv.assignee_name or "",
                "conversation.id": conv_id,
            },
        )
        answering = None
        if run.subject.message_id is not None:
            msg = await repo.message(conn, run.subject.message_id)
            answering = msg.meta if msg is not None and isinstance(msg.meta, dict) else {}
        sent = await queue_hub_reply(
            conn, conv_id, text, acting.sends(), acting.clock(), reason="automation", answering=answering
        )
    return sent.skipped


async def _tags(acting: Acting, run: Run, action: Action) -> str | None:
    tag = tag_service.clean_tag(action.value)
    if action.kind == "tag":
        change = lambda tags: [*tags, tag]  # noqa: E731
    else:
        change = lambda tags: [t for t in tags if t != tag]  # noqa: E731
    result = await tag_service.set_tags(acting.store, acting.rules(), _conv(run), run.who, change)
    if not (result["added"] or result["removed"]):
        return (
            f"the conversation {'has' if action.kind == 'tag' else 'does not have'} the tag {tag!r} already"
        )
    acting.bus.publish("conversation.tagged", {"conversation_id": _conv(run), **result, "by": run.who.name})
    return None


async def _set_priority(acting: Acting, run: Run, action: Action) -> str | None:
    conv_id = _conv(run)
    async with acting.store.write() as conn:
        if not await repo.set_priority(conn, conv_id, action.value):
            return "the conversation is closed"
        await _event(conn, run, "conversation.prioritised", to=action.value)
    return None


async def _set_department(acting: Acting, run: Run, action: Action) -> str | None:
    conv_id = _conv(run)
    async with acting.store.write() as conn:
        before = await repo.set_department(conn, conv_id, action.value)
        if before is None:
            return "the conversation is closed"
        await search_index.refresh_conversations(conn, [conv_id])
        await _event(conn, run, "conversation.department_set", to=action.value, **{"from": before})
    return None


async def _set_queue(acting: Acting, run: Run, action: Action) -> str | None:
    await agent_actions.transfer(
        acting.store, acting.rules(), _conv(run), run.who, acting.clock, action.value, None
    )
    return None


async def _assign(acting: Acting, run: Run, action: Action) -> str | None:
    conv_id = _conv(run)
    now = acting.clock()
    async with acting.store.write() as conn:
        found = (await repo.agents_by_email(conn, [action.value])).get(action.value)
        if found is None:
            return f"no active agent {action.value}"
        conv = await repo.conversation(conn, conv_id)
        if conv is None or conv.status != "open":
            return "the conversation is closed"
        if conv.assignee_id == found.id:
            return f"assigned to {found.email} already"
        await repo.assign(conn, conv_id, found.id, now)
        await _event(
            conn, run, "conversation.assigned", agent_id=found.id, queue=conv.queue, via="automation"
        )
    acting.agents_touched.add(found.id)
    acting.bus.publish("conversation.assigned", {"conversation_id": conv_id, "agent_id": found.id})
    return None


async def _unassign(acting: Acting, run: Run, action: Action) -> str | None:
    async with acting.store.read() as conn:
        conv = await repo.conversation(conn, _conv(run))
    if conv is None or conv.assignee_id is None:
        return "the conversation is not assigned"
    await agent_actions.transfer(acting.store, acting.rules(), _conv(run), run.who, acting.clock, None, None)
    return None


async def _note(acting: Acting, run: Run, action: Action) -> str | None:
    await agent_actions.add_note(
        acting.store, acting.rules(), _conv(run), run.who, acting.clock, action.value, False
    )
    acting.bus.publish(
        "conversation.note",
        {"conversation_id": _conv(run), "callback": False, "text": action.value, "by": run.who.name},
    )
    return None


async def _snooze(acting: Acting, run: Run, action: Action) -> str | None:
    until = acting.clock() + timedelta(hours=float(action.value))
    result = await agent_actions.snooze(
        acting.store, acting.rules(), _conv(run), run.who, acting.clock, until
    )
    acting.bus.publish("conversation.snoozed", {"conversation_id": _conv(run), **result})
    return None


async def _close(acting: Acting, run: Run, action: Action) -> str | None:
    result = await agent_actions.close(acting.store, acting.rules(), _conv(run), run.who, acting.clock)
    acting.bus.publish(
        "conversation.closed", {"conversation_id": _conv(run), "by": run.who.agent_id, **result}
    )
    return None


async def _notify(acting: Acting, run: Run, action: Action) -> str | None:
    """A live notice in the console (as an @mention); by mail to whoever is not available."""
    to, text = action.value["to"], action.value["text"]
    async with acting.store.read() as conn:
        conv = (
            await repo.conversation(conn, run.subject.conversation_id)
            if run.subject.conversation_id
            else None
        )
        customer_id = conv.customer_id if conv is not None else run.subject.customer_id
        if to == "assignee":
            ids = [conv.assignee_id] if conv is not None and conv.assignee_id else []
            found = await repo.recipients(conn, ids=ids) if ids else []
        elif to == "kam":
            row = await repo.customer(conn, customer_id) if customer_id else None
            kam = row.key_account_manager_id if row is not None else None
            found = await repo.recipients(conn, ids=[kam]) if kam else []
        elif to == "supervisors":
            found = await repo.recipients(conn, supervisors=True)
        elif to.startswith("team:"):
            found = await repo.recipients(conn, team=to.removeprefix("team:"))
        else:
            agent = (await repo.agents_by_email(conn, [to.removeprefix("agent:")])).get(
                to.removeprefix("agent:").lower()
            )
            found = [agent] if agent is not None else []
    if not found:
        return f"nobody to notify ({to})"
    note = {
        "conversation_id": run.subject.conversation_id,
        "callback": False,
        "text": text,
        "by": run.who.name,
    }
    for agent in found:
        acting.bus.publish("conversation.mention", {**note, "agent_id": agent.id})
    away = [a for a in found if a.presence != "available"]
    if away and acting.mailer is not None:
        subject = f"ContactHub: {run.automation.name}"
        link = f"\n\nConversation: {run.subject.conversation_id}" if run.subject.conversation_id else ""
        for agent in away:
            await acting.mailer(agent.email, subject, f"{text}{link}")
    return None


async def _csat(acting: Acting, run: Run, action: Action) -> str | None:
    if acting.surveys is None:
        return "satisfaction surveys are not set up in this process"
    return await acting.surveys.send(_conv(run), run.who.actor)


async def tell_low_score(
    acting: Acting, conv_id: str, customer_id: str, score: int, data: Mapping[str, Any]
) -> None:
    """A low satisfaction score, live in the console of the customer's key account
    manager, else of every supervisor."""
    async with acting.store.read() as conn:
        row = await repo.customer(conn, customer_id)
        kam = row.key_account_manager_id if row is not None else None
        found = await repo.recipients(conn, ids=[kam]) if kam else []
        if not found:
            found = await repo.recipients(conn, supervisors=True)
    comment = str(data.get("comment") or "")
    text = f"Satisfaction {score}/5" + (f": {comment}" if comment else "")
    for agent in found:
        acting.bus.publish(
            "conversation.mention",
            {"conversation_id": conv_id, "callback": False, "text": text, "by": "CSAT", "agent_id": agent.id},
        )


async def _webhook(acting: Acting, run: Run, action: Action) -> str | None:
    """An event addressed to the webhook of that name: its delivery (signed, retried with
    growing pauses while the receiver fails) is the webhooks' (hub/webhooks)."""
    async with acting.store.write() as conn:
        hooks = [h for h in await webhooks_repo.all_webhooks(conn) if h.name == action.value and h.active]
        if not hooks:
            return f"no active webhook named {action.value!r}"
        for hook in hooks:
            await _event(
                conn,
                run,
                "automation.webhook",
                webhook=hook.id,
                trigger=run.subject.trigger,
                conversation=dict(run.facts.get("conversation") or {}),
            )
    return None


async def _event(conn: Any, run: Run, action: str, **data: Any) -> None:
    conv_id = run.subject.conversation_id
    await audit.record(
        conn,
        actor=run.who.actor,
        action=action,
        subject_type="conversation" if conv_id else "customer",
        subject_id=conv_id or str(run.subject.customer_id),
        customer_id=run.subject.customer_id,
        data={"name": run.automation.name, "version": run.version, **data},
    )


async def _feedback(acting: Acting, run: Run, action: Action) -> str | None:
    message_id = run.subject.message_id
    async with acting.store.write() as conn:
        message = await feedback_repo.message(conn, message_id) if message_id else None
        if message is None:
            return "no message to mark"
        await record_mark(
            conn, message, action.value["product"], action.value["theme"], run.who.actor, acting.clock()
        )
    return None


_ACTIONS: Mapping[str, Perform] = {
    "reply": _reply,
    "tag": _tags,
    "untag": _tags,
    "set_priority": _set_priority,
    "set_queue": _set_queue,
    "set_department": _set_department,
    "assign": _assign,
    "unassign": _unassign,
    "note": _note,
    "notify": _notify,
    "snooze": _snooze,
    "close": _close,
    "csat": _csat,
    "webhook": _webhook,
    "feedback": _feedback,
}


async def tell_router(acting: Acting, run: Run) -> None:
    """Capacity or a queue may have changed: the router re-reads what the run touched."""
    if run.subject.conversation_id and any(a.kind in ROUTING_ACTIONS for a in run.automation.actions):
        await notify(acting.inbox, conversations=[run.subject.conversation_id], agents=acting.agents_touched)
        acting.agents_touched.clear()
