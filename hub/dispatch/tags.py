"""A conversation's tags: set by routing rules (``route.tags``), added and removed by agents.

The tags live in the conversation's routing state beside the department, so the rules'
tags and the agents' are one list. A change is one locked read-modify-write of that
state (the router writes it too), audited on the customer's timeline, and re-indexed
for search in the same transaction (``search_index.refresh_conversations``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth.sessions import Principal
from hub.auth.visibility import hidden, scope_of
from hub.customers import audit
from hub.errors import InputError
from hub.routing.rules import RuleSet
from hub.store import search_index
from hub.store.engine import Store
from hub.store.tables import conversations

c = conversations.c
MAX_TAG = 40
MAX_TAGS = 20


def clean_tag(raw: str) -> str:
    """A tag as stored: trimmed, NFC, 1 to 40 characters, no control or format characters."""
    tag = unicodedata.normalize("NFC", raw).strip()
    if not tag:
        raise InputError("tag: give some text", field="tag")
    if len(tag) > MAX_TAG:
        raise InputError(f"tag: at most {MAX_TAG} characters", field="tag")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in tag):
        raise InputError("tag: no control characters or line breaks", field="tag")
    return tag


async def set_tags(
    store: Store,
    rules: RuleSet,
    conv_id: str,
    who: Principal,
    change: Callable[[list[str]], list[str]],
) -> dict[str, Any]:
    """Apply ``change`` to the conversation's tags; audit what was added and removed. A
    conversation ``who`` may not see is NotFound (``hub.auth.visibility``)."""
    async with store.write() as conn:
        row = (
            await conn.execute(
                sa.select(c.id, c.customer_id, c.assignee_id, c.offered_to, c.queue, c.route)
                .where(c.id == conv_id)
                .with_for_update(key_share=True)
            )
        ).one_or_none()
        if row is None or not (await scope_of(conn, who, rules)).allows(row):
            raise hidden(conv_id)
        route = dict(row.route or {})
        before = list(route.get("tags") or [])
        after = list(dict.fromkeys(change(before)))
        if len(after) > MAX_TAGS:
            raise InputError(f"tags: at most {MAX_TAGS} on one conversation", field="tags")
        added = [t for t in after if t not in before]
        removed = [t for t in before if t not in after]
        if added or removed:
            route["tags"] = after
            await conn.execute(sa.update(conversations).where(c.id == conv_id).values(route=route))
            await search_index.refresh_conversations(conn, [conv_id])
            await audit.record(
                conn,
                actor=who.actor,
                action="conversation.tagged",
                subject_type="conversation",
                subject_id=conv_id,
                customer_id=row.customer_id,
                data={"added": added, "removed": removed, "by": who.name},
            )
    return {"id": conv_id, "tags": after, "added": added, "removed": removed}


async def tags_in_use(
    conn: AsyncConnection, rules: RuleSet, visible: sa.ColumnElement[bool], limit: int = 2000
) -> list[str]:
    """The tags the rules set and those on the latest conversations the caller may see."""
    query = (
        sa.select(c.route)
        .where(c.route.is_not(None), visible)
        .order_by(c.last_message_at.desc())
        .limit(limit)
    )
    found: dict[str, None] = {}
    for rule in rules.rules:
        tag = rule.actions.get("tag")
        if isinstance(tag, str):
            found[tag] = None
    for (route,) in await conn.execute(query):
        for tag in _tags(route):
            found[tag] = None
    return sorted(found, key=str.casefold)


def _tags(route: Any) -> Iterable[str]:
    tags = route.get("tags") if isinstance(route, dict) else None
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []
