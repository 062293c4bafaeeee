"""One conversation record into the router's view, and what the router writes back for it
(its route, queue, priority and due times). No I/O: ``now``, the first message and the
customer's last agent are passed in.

A malformed record raises one of ``ROW_ERRORS`` here, before the view changes; the
caller skips it (``hub/dispatch/bad_rows.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from hub.dispatch.facts import message_facts, waiting_conversation
from hub.dispatch.view import DispatchView
from hub.model import ConversationStatus
from hub.routing.decide import routed
from hub.routing.hours import BusinessHours
from hub.store.repos.routing import FirstMessage, RoutingConversation
from hub.store.tables import PRIORITIES
from hub.store.times import iso, utc, utc_or_none


def is_newcomer(row: RoutingConversation, view: DispatchView) -> bool:
    """Open, neither offered nor assigned, and not waiting in the view yet."""
    return (
        row.status == ConversationStatus.OPEN
        and row.assignee_id is None
        and row.offered_to is None
        and row.id not in view.line
    )


def take_in(
    view: DispatchView,
    row: RoutingConversation,
    now: datetime,
    first: FirstMessage | None,
    last_agent: str | None,
) -> dict[str, Any]:
    """The view in line with this record (closed: gone; assigned or offered: a hold;
    waiting: admitted); the changes to write are returned."""
    if row.status != ConversationStatus.OPEN:
        view.forget(row.id, now)
    elif row.assignee_id is not None:
        view.hold(row.id, row.assignee_id, row.channel)
        if row.needs_routing:  # a new message on an assigned conversation
            return _next_due(view, row)
    elif row.offered_to is not None:
        view.hold(row.id, row.offered_to, row.channel, utc_or_none(row.offer_expires_at))
    elif row.id not in view.line and (not unrouted(row.route) or row.needs_routing):
        # (a conversation of call events only, never routed, is no work for anyone)
        return _admit(view, row, first, last_agent)
    return {}


def _admit(
    view: DispatchView, row: RoutingConversation, first: FirstMessage | None, last_agent: str | None
) -> dict[str, Any]:
    """A conversation waits. A newcomer gets its route (facts, rule actions), its
    queue and its first-response due time; the changes to write are returned."""
    rules = view.rules
    fresh = unrouted(row.route)
    route = dict(row.route) if not fresh else {**_new_route(row, first), **(row.route or {})}
    conv = waiting_conversation(row, route, last_agent)
    rule, _index, target = routed(conv, rules)
    if fresh and "set_department" in rule.actions:
        route["department"] = rule.actions["set_department"]
        conv = replace(conv, department=route["department"])
    if fresh and "tag" in rule.actions:
        route["tags"] = list(dict.fromkeys([*(route.get("tags") or []), rule.actions["tag"]]))
    update: dict[str, Any] = {}
    if fresh and "set_priority" in rule.actions:
        update["priority"] = PRIORITIES[rule.actions["set_priority"]]
        conv = replace(conv, priority=rule.actions["set_priority"])
    view.admit(conv)
    if fresh:
        update |= {"route": route, "queue": target.queue}
    if row.first_response_due is None and row.first_response_at is None:
        seconds = rules.first_response_s(row.tier, row.channel)
        update["first_response_due"] = _due(rules.queues[target.queue].hours, utc(row.opened_at), seconds)
    return update


def changed_since(row: RoutingConversation, now: Mapping[str, Any] | None) -> bool:
    """Whether someone changed the conversation after the router read it as ``row`` (an
    agent's or an automation's tag, transfer or assignment): ``now`` is it as it stands,
    under its lock. The router then writes nothing of what it worked out, and reads it
    again."""
    if now is None:
        return True
    read = {
        "status": row.status,
        "queue": row.queue,
        "assignee_id": row.assignee_id,
        "offered_to": row.offered_to,
        "route": row.route if isinstance(row.route, dict) else None,
    }
    return read != {**now, "route": now["route"] if isinstance(now["route"], dict) else None}


def unrouted(route: Mapping[str, Any] | None) -> bool:
    """Whether a conversation is still to be routed: no route yet, or only the tags a
    reopen kept (``hub.store.ingest_batch``)."""
    return route is None or "waiting_since" not in route


def _next_due(view: DispatchView, row: RoutingConversation) -> dict[str, Any]:
    """A customer wrote again after an agent answered: the next response falls due."""
    if row.first_response_at is None or row.next_response_due is not None or not row.queue:
        return {}
    queue = view.rules.queues.get(row.queue)
    if queue is None:
        return {}
    seconds = view.rules.next_response_s(row.tier, row.channel)
    return {"next_response_due": _due(queue.hours, utc(row.last_message_at), seconds)}


def _new_route(row: RoutingConversation, first: FirstMessage | None) -> dict[str, Any]:
    opened = iso(row.opened_at)
    return {
        **message_facts(
            subject=first.subject if first else None,
            text=first.text if first else None,
            recipient=first.recipient if first else None,
            meta=(first.meta if first else None) or {},
            customer_language=row.customer_language,
        ),
        "waiting_since": opened,
        "target_index": 0,
        "target_since": opened,
        "rejected_by": [],
    }


def _due(hours: BusinessHours, start: datetime, seconds: float) -> datetime | None:
    try:
        return hours.add_open_time(start, seconds)
    except ValueError:  # hours that never open: no due time rather than a wrong one
        return None
