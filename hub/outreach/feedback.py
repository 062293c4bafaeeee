"""Product feedback: what customers say about a product, marked by an agent or a rule, for
the R&D department to read across channels without reading the inboxes.

A mark names a product and a theme (free words, as a team uses them). Marking a message
shares it with the R&D view on purpose: the visibility rule says who reads it
(``hub.auth.visibility.reads_feedback``). The view lists the marked messages, newest
first, and counts them by product, theme and channel and per week in the hub's time zone;
reading it is audited like any read of customers' words.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth.sessions import Principal
from hub.auth.visibility import reads_feedback, scope_of
from hub.clock import Clock
from hub.customers import audit
from hub.errors import Forbidden, InputError, NotFound
from hub.routing.rules import RuleSet
from hub.store.engine import Store
from hub.store.repos import feedback as repo
from hub.store.repos import outreach as outreach_repo
from hub.store.repos.feedback import Filters
from hub.store.times import iso

EXCERPT = 500  # characters of a message the view shows


async def record_mark(
    conn: AsyncConnection, message: Any, product: str, theme: str, actor: str, now: datetime
) -> None:
    """Mark a customer's message (an agent's, or a rule's), on its conversation's timeline."""
    if message.direction != "in":
        raise InputError("only what a customer wrote is product feedback", field="message")
    await repo.mark(conn, message, product, theme, actor, now)
    await audit.record(
        conn,
        actor=actor,
        action="message.feedback",
        subject_type="conversation",
        subject_id=message.conversation_id,
        customer_id=message.customer_id,
        data={"message_id": message.id, "product": product, "theme": theme},
        at=now,
    )


@dataclass(slots=True)
class ProductFeedback:
    store: Store
    rules: Callable[[], RuleSet]
    clock: Clock
    zone: ZoneInfo  # the hub's: the weeks are counted in it
    departments: Collection[str]  # whose agents read the view

    async def mark(self, who: Principal, message_id: str, product: str, theme: str | None) -> dict[str, Any]:
        """An agent marks a message of a conversation they may see."""
        now = self.clock()
        async with self.store.write() as conn:
            message = await self._visible(conn, who, message_id)
            await record_mark(conn, message, product, theme or "", who.actor, now)
        return {"message_id": message_id, "product": product, "theme": theme or "", "at": iso(now)}

    async def unmark(self, who: Principal, message_id: str) -> None:
        async with self.store.write() as conn:
            message = await self._visible(conn, who, message_id)
            if not await repo.unmark(conn, message_id):
                raise NotFound(f"message {message_id} is not marked as feedback")
            await audit.record(
                conn,
                actor=who.actor,
                action="message.feedback_removed",
                subject_type="conversation",
                subject_id=message.conversation_id,
                customer_id=message.customer_id,
                data={"message_id": message_id},
            )

    async def may_read(self, who: Principal) -> bool:
        async with self.store.read() as conn:
            departments = await outreach_repo.agent_departments(conn, who.agent_id)
        return reads_feedback(who, departments, self.departments)

    async def view(
        self, who: Principal, filters: Filters, limit: int, before: tuple[datetime, str] | None
    ) -> dict[str, Any]:
        if not await self.may_read(who):
            who_reads = ", ".join(sorted(self.departments))
            raise Forbidden(f"product feedback is read by supervisors and the {who_reads} department")
        async with self.store.write() as conn:
            items = await repo.page(conn, filters, limit + 1, before)
            counted = {by: await repo.counts(conn, filters, by) for by in ("product", "theme", "channel")}
            weeks = Counter(_week(t, self.zone) for t in await repo.times(conn, filters))
            await audit.record(
                conn,
                actor=who.actor,
                action="audit.read",
                subject_type="feedback",
                subject_id="view",
                customer_id=None,
                data={"items": min(len(items), limit)},
            )
        more = len(items) > limit
        items = items[:limit]
        return {
            "items": [
                {
                    "message_id": i.message_id,
                    "conversation_id": i.conversation_id,
                    "customer": {"id": i.customer_id, "name": i.customer_name},
                    "channel": i.channel,
                    "at": iso(i.message_at),
                    "product": i.product,
                    "theme": i.theme,
                    "text": i.text[:EXCERPT],
                    "marked_by": i.marked_by,
                }
                for i in items
            ],
            "counts": {by: [{"value": v, "count": n} for v, n in rows] for by, rows in counted.items()},
            "weeks": [{"week": w, "count": n} for w, n in sorted(weeks.items())],
            "next": f"{iso(items[-1].message_at)}|{items[-1].message_id}" if more and items else None,
        }

    async def _visible(self, conn: AsyncConnection, who: Principal, message_id: str) -> Any:
        message = await repo.message(conn, message_id) if len(message_id) <= 36 else None
        if message is None or not (await scope_of(conn, who, self.rules())).allows(message):
            raise NotFound(f"no message {message_id[:40]} for you")
        return message


def _week(at: datetime, zone: ZoneInfo) -> str:
    """The Monday of the week ``at`` falls in, in ``zone``."""
    local = at.astimezone(zone).date()
    return (local - timedelta(days=local.weekday())).isoformat()
