"""Export, erasure and retention of personal data.

Erasure removes the identities, names, message bodies and attachments of one customer,
scrubs the values out of the event log (and the caller out of queued or dead-lettered
payloads, ``IngestQueue.scrub``), takes their documents out of the search index
(``search_index.forget_customer``), and keeps
anonymised rows (channel, direction, kind, times) so reports still count. On SQLite,
``secure_delete`` is on and the WAL is checkpointed afterwards, so the erased values are
gone from the database file too, not only from its live rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth.visibility import Scope, everything
from hub.customers import audit
from hub.customers.records import load_customer, record_of
from hub.customers.timeline import timeline
from hub.model import ConversationStatus
from hub.store import search_index
from hub.store.repos import automation as automation_repo
from hub.store.repos import contracts as contract_repo
from hub.store.repos import health as health_repo
from hub.store.repos import outreach as outreach_repo
from hub.store.repos import revenue as revenue_repo
from hub.store.tables import (
    attachments,
    consents,
    conversations,
    customers,
    events,
    identities,
    messages,
    search_terms,
    widget_feed,
    widget_uploads,
    widget_visitors,
)
from hub.store.times import iso

log = logging.getLogger("contacthub.privacy")
# message meta that holds body text (an email's full text with its quoted history):
# retention blanks it with the body
BODY_META = frozenset({"full_text"})


async def export(conn: AsyncConnection, customer_id: str, scope: Scope | None = None) -> dict[str, Any]:
    """Every piece of personal data and message content held about one customer, as
    ``scope`` may see it (``hub.auth.visibility``; everything when None)."""
    scope = scope or everything("system:export")
    record = await record_of(conn, customer_id, scope.clause())
    convs = (
        await conn.execute(
            sa.select(conversations)
            .where(conversations.c.customer_id == customer_id, scope.clause())
            .order_by(conversations.c.opened_at)
        )
    ).all()
    msgs = (
        await conn.execute(
            sa.select(messages)
            .where(messages.c.customer_id == customer_id, scope.message_clause(customer_id))
            .order_by(messages.c.received_at, messages.c.id)
        )
    ).all()
    files = (
        await conn.execute(
            sa.select(attachments)
            .join(messages, messages.c.id == attachments.c.message_id)
            .where(messages.c.customer_id == customer_id, scope.message_clause(customer_id))
        )
    ).all()
    by_message: dict[str, list[dict[str, Any]]] = {}
    for f in files:
        by_message.setdefault(f.message_id, []).append(
            {"filename": f.filename, "content_type": f.content_type, "size": f.size, "sha256": f.sha256}
        )
    history = await timeline(conn, customer_id, before=None, limit=100_000, scope=scope)
    return {
        "exported_at": datetime.now(UTC).isoformat(),
        "customer": record,
        "conversations": [
            {
                "id": c.id,
                "channel": c.channel,
                "status": c.status,
                "opened_at": iso(c.opened_at),
                "closed_at": iso(c.closed_at),
            }
            for c in convs
        ],
        "messages": [
            {
                "id": m.id,
                "conversation_id": m.conversation_id,
                "channel": m.channel,
                "direction": m.direction,
                "kind": m.kind,
                "received_at": iso(m.received_at),
                "sender": {"kind": m.sender_kind, "value": m.sender_value, "name": m.sender_name},
                "recipient": m.recipient,
                "subject": m.subject,
                "text": m.text,
                "full_text": (m.meta or {}).get("full_text") or None,
                "html": m.html,
                "attachments": by_message.get(m.id, []),
            }
            for m in msgs
        ],
        "events": [item for item in history["items"] if item["type"] == "event"],
        # what the customer's chat visitors typed about themselves (claims, not identities)
        "chat_visitors": [
            {"id": v.id, "site": v.site_key, "contact": v.contact, "identified": v.identified}
            for v in await conn.execute(
                sa.select(widget_visitors)
                .where(widget_visitors.c.id.in_(_visitor_ids(customer_id)))
                .order_by(widget_visitors.c.created_at, widget_visitors.c.id)
            )
        ],
    }


def _visitor_ids(customer_id: str) -> sa.Select[tuple[str]]:
    return sa.select(identities.c.value).where(
        identities.c.customer_id == customer_id, identities.c.kind == "chat_visitor"
    )


@dataclass(frozen=True, slots=True)
class Erased:
    """What the caller removes after the commit: blobs no other message uses, and queue
    entries (waiting or dead-lettered) that carry one of the erased values."""

    unused_blobs: list[str]
    values: list[str]


async def erase(conn: AsyncConnection, customer_id: str, actor: str, reason: str | None) -> Erased:
    """Erase one customer's personal data from the database."""
    row = await load_customer(conn, customer_id)
    values = [
        v
        for (v,) in await conn.execute(
            sa.select(identities.c.value).where(identities.c.customer_id == customer_id)
        )
    ]
    values += [v for v in (row.name, row.organisation) if v]
    message_ids = sa.select(messages.c.id).where(messages.c.customer_id == customer_id)
    hashes = set(
        (
            await conn.execute(
                sa.select(attachments.c.sha256).where(attachments.c.message_id.in_(message_ids))
            )
        ).scalars()
    )
    await conn.execute(sa.delete(attachments).where(attachments.c.message_id.in_(message_ids)))
    hashes |= await _erase_widget_data(conn, customer_id)
    still_used = set(
        (
            await conn.execute(sa.select(attachments.c.sha256).where(attachments.c.sha256.in_(hashes)))
        ).scalars()
    ) | set(
        (
            await conn.execute(sa.select(widget_uploads.c.sha256).where(widget_uploads.c.sha256.in_(hashes)))
        ).scalars()
    )
    await conn.execute(
        sa.update(messages)
        .where(messages.c.customer_id == customer_id)
        .values(
            external_id=sa.literal("erased:") + messages.c.id,
            sender_value="erased",
            sender_name=None,
            recipient=None,
            subject=None,
            text="",
            html=None,
            meta={},
        )
    )
    await conn.execute(
        sa.update(conversations)
        .where(conversations.c.customer_id == customer_id)
        .values(thread_key="erased", open_key=None, status=ConversationStatus.CLOSED, needs_routing=False)
    )
    await _erase_route_facts(conn, customer_id)
    await conn.execute(sa.delete(identities).where(identities.c.customer_id == customer_id))
    await conn.execute(sa.delete(search_terms).where(search_terms.c.customer_id == customer_id))
    await search_index.forget_customer(conn, customer_id)
    await conn.execute(sa.delete(consents).where(consents.c.customer_id == customer_id))
    await contract_repo.forget_customer(conn, customer_id)
    await revenue_repo.forget_customer(conn, customer_id)
    await health_repo.forget_customer(conn, customer_id)
    await automation_repo.forget_customer(conn, customer_id)
    await outreach_repo.forget_customer(conn, customer_id)
    await conn.execute(
        sa.update(events).where(events.c.customer_id == customer_id).values(data={}, reason=None)
    )
    now = datetime.now(UTC)
    await conn.execute(
        sa.update(customers)
        .where(customers.c.id == customer_id)
        .values(
            name=None,
            organisation=None,
            language=None,
            attributes={},
            tier_reason=None,
            key_account_manager_id=None,
            erased_at=now,
            updated_at=now,
        )
    )
    await audit.record(
        conn,
        actor=actor,
        action="customer.erased",
        subject_type="customer",
        subject_id=customer_id,
        customer_id=customer_id,
        reason=reason,
        data={"identities": len(values), "attachments": len(hashes)},
    )
    return Erased(sorted(hashes - still_used), values)


# what the routing state copied from the first message; tags, department and the queue
# stay for the statistics
_ROUTE_PERSONAL = ("subject", "text", "recipient")


async def _erase_route_facts(conn: AsyncConnection, customer_id: str) -> None:
    await _drop_route_facts(conn, conversations.c.customer_id == customer_id)


async def _drop_route_facts(conn: AsyncConnection, where: sa.ColumnElement[bool]) -> list[str]:
    """Take the first message's copies out of the routing state of the conversations
    ``where`` selects; returns the ids of those that had any."""
    route = conversations.c.route
    rows = await conn.execute(
        sa.select(conversations.c.id, route).where(
            where,
            route.is_not(None),
            sa.or_(*(route[key].as_string().is_not(None) for key in _ROUTE_PERSONAL)),
        )
    )
    changed: list[str] = []
    for conv_id, facts in rows.all():
        if isinstance(facts, dict) and any(key in facts for key in _ROUTE_PERSONAL):
            kept = {k: v for k, v in facts.items() if k not in _ROUTE_PERSONAL}
            await conn.execute(
                sa.update(conversations).where(conversations.c.id == conv_id).values(route=kept)
            )
            changed.append(conv_id)
    return changed


async def _erase_widget_data(conn: AsyncConnection, customer_id: str) -> set[str]:
    """The chat widget's copies: the customer's feed, and what their browsers' visitors
    told us or uploaded. Returns the uploads' hashes."""
    visitors = sa.select(identities.c.value).where(
        identities.c.customer_id == customer_id, identities.c.kind == "chat_visitor"
    )
    uploaded = set(
        (
            await conn.execute(
                sa.select(widget_uploads.c.sha256).where(widget_uploads.c.visitor_id.in_(visitors))
            )
        ).scalars()
    )
    await conn.execute(sa.delete(widget_uploads).where(widget_uploads.c.visitor_id.in_(visitors)))
    await conn.execute(
        sa.update(widget_visitors)
        .where(widget_visitors.c.id.in_(visitors))
        .values(contact={}, identified=None)
    )
    await conn.execute(sa.delete(widget_feed).where(widget_feed.c.customer_id == customer_id))
    return uploaded


async def apply_retention(conn: AsyncConnection, now: datetime, days: int) -> tuple[int, list[str]]:
    """Blank the bodies of messages older than ``days`` (and the routing state's copy of
    a conversation's first message); return how many, and the attachment hashes no
    longer used by any message."""
    cutoff = now - timedelta(days=days)
    old = sa.select(messages.c.id).where(messages.c.received_at < cutoff)
    hashes = set(
        (
            await conn.execute(sa.select(attachments.c.sha256).where(attachments.c.message_id.in_(old)))
        ).scalars()
    )
    await conn.execute(sa.delete(attachments).where(attachments.c.message_id.in_(old)))
    await conn.execute(sa.delete(widget_feed).where(widget_feed.c.at < cutoff))  # the widget's copies
    unblanked = (
        messages.c.received_at < cutoff,
        sa.or_(messages.c.text != "", messages.c.html.is_not(None), messages.c.subject.is_not(None)),
    )
    await _blank_body_meta(conn, unblanked)
    await search_index.forget_messages(conn, old)
    # the routing state's copy of a conversation's first message (its subject, which
    # search finds where no message carries it any more) goes with that message's body
    await search_index.refresh_conversations(
        conn, await _drop_route_facts(conn, conversations.c.opened_at < cutoff)
    )
    result = await conn.execute(
        sa.update(messages).where(*unblanked).values(text="", html=None, subject=None)
    )
    still_used = set(
        (
            await conn.execute(sa.select(attachments.c.sha256).where(attachments.c.sha256.in_(hashes)))
        ).scalars()
    )
    if result.rowcount:
        await audit.record(
            conn,
            actor="system:retention",
            action="retention.applied",
            subject_type="messages",
            subject_id=cutoff.date().isoformat(),
            customer_id=None,
            data={"messages": result.rowcount, "older_than_days": days},
        )
    log.info(
        "retention: blanked %d message bodies older than %d days",
        result.rowcount,
        days,
        extra={"messages": result.rowcount, "older_than_days": days},
    )
    return result.rowcount, sorted(hashes - still_used)


async def _blank_body_meta(conn: AsyncConnection, where: tuple[sa.ColumnElement[bool], ...]) -> None:
    """Remove the ``BODY_META`` keys from the meta of the messages ``where`` selects."""
    rows = (await conn.execute(sa.select(messages.c.id, messages.c.meta).where(*where))).all()
    changed = [
        {"mid": r.id, "kept": {k: v for k, v in r.meta.items() if k not in BODY_META}}
        for r in rows
        if isinstance(r.meta, dict) and BODY_META & r.meta.keys()
    ]
    if changed:
        await conn.execute(
            sa.update(messages)
            .where(messages.c.id == sa.bindparam("mid"))
            .values(meta=sa.bindparam("kept", type_=messages.c.meta.type)),
            changed,
        )
