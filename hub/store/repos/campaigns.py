"""Campaigns and their recipients (hub/outreach/campaigns.py): the repository."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.tables import campaign_recipients, campaigns, consents, messages, outbox
from hub.store.times import utc, utc_or_none

k = campaigns.c
r = campaign_recipients.c


@dataclass(frozen=True, slots=True, kw_only=True)
class Campaign:
    id: str
    name: str
    segment_id: str
    channel: str
    purpose: str
    department: str
    queue: str | None
    sender: str | None
    texts: Mapping[str, Mapping[str, Any]]
    rate_per_minute: int
    status: str
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    recipients: int | None


def _campaign(row: Any) -> Campaign:
    return Campaign(
        id=row.id,
        name=row.name,
        segment_id=row.segment_id,
        channel=row.channel,
        purpose=row.purpose,
        department=row.department,
        queue=row.queue,
        sender=row.sender,
        texts=row.texts or {},
        rate_per_minute=row.rate_per_minute,
        status=row.status,
        created_by=row.created_by,
        created_at=utc(row.created_at),
        started_at=utc_or_none(row.started_at),
        finished_at=utc_or_none(row.finished_at),
        recipients=row.recipients,
    )


async def create(conn: AsyncConnection, values: Mapping[str, Any]) -> None:
    await conn.execute(sa.insert(campaigns).values(**values))


async def get(conn: AsyncConnection, campaign_id: str, *, lock: bool = False) -> Campaign | None:
    query = sa.select(campaigns).where(k.id == campaign_id)
    row = (await conn.execute(query.with_for_update() if lock else query)).one_or_none()
    return None if row is None else _campaign(row)


async def listing(conn: AsyncConnection, limit: int) -> list[Campaign]:
    rows = await conn.execute(sa.select(campaigns).order_by(k.created_at.desc()).limit(limit))
    return [_campaign(row) for row in rows]


async def started_between(conn: AsyncConnection, start: datetime, end: datetime) -> list[Campaign]:
    """The campaigns started in [start, end), oldest first."""
    rows = await conn.execute(
        sa.select(campaigns).where(k.started_at >= start, k.started_at < end).order_by(k.started_at)
    )
    return [_campaign(row) for row in rows]


async def running(conn: AsyncConnection) -> list[Campaign]:
    rows = await conn.execute(sa.select(campaigns).where(k.status == "running").order_by(k.started_at))
    return [_campaign(row) for row in rows]


async def set_status(
    conn: AsyncConnection, campaign_id: str, status: str, now: datetime, **extra: Any
) -> None:
    stamp = {"started_at": now} if status == "running" else {"finished_at": now}
    await conn.execute(
        sa.update(campaigns).where(k.id == campaign_id).values(status=status, **stamp, **extra)
    )


async def add_recipients(
    conn: AsyncConnection, campaign_id: str, customer_ids: Sequence[str], now: datetime
) -> None:
    rows = [
        {"campaign_id": campaign_id, "customer_id": c, "status": "pending", "updated_at": now}
        for c in customer_ids
    ]
    for start in range(0, len(rows), 1000):
        await conn.execute(sa.insert(campaign_recipients), rows[start : start + 1000])


async def due(conn: AsyncConnection, campaign_id: str, now: datetime, limit: int) -> list[str]:
    """Pending recipients the runner may take now (locked against another runner)."""
    query = (
        sa.select(r.customer_id)
        .where(
            r.campaign_id == campaign_id,
            r.status == "pending",
            sa.or_(r.not_before.is_(None), r.not_before <= now),
        )
        .order_by(r.customer_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [row.customer_id for row in await conn.execute(query)]


async def pending_left(conn: AsyncConnection, campaign_id: str) -> int:
    return int(
        await conn.scalar(
            sa.select(sa.func.count()).where(r.campaign_id == campaign_id, r.status == "pending")
        )
        or 0
    )


async def settle(
    conn: AsyncConnection, campaign_id: str, customer_ids: Sequence[str], now: datetime, **values: Any
) -> None:
    """The same outcome for these recipients (at most one chunk's worth)."""
    await conn.execute(
        sa.update(campaign_recipients)
        .where(r.campaign_id == campaign_id, r.customer_id.in_(list(customer_ids)))
        .values(updated_at=now, **values)
    )


async def settle_sent(
    conn: AsyncConnection, campaign_id: str, sent: Sequence[Mapping[str, Any]], now: datetime
) -> None:
    """Recipients sent (each: customer_id, message_id, conversation_id, token_hash)."""
    if sent:
        await conn.execute(
            sa.update(campaign_recipients)
            .where(r.campaign_id == campaign_id, r.customer_id == sa.bindparam("who"))
            .values(
                status="sent",
                updated_at=now,
                message_id=sa.bindparam("message"),
                conversation_id=sa.bindparam("conversation"),
                token_hash=sa.bindparam("token"),
            ),
            [
                {
                    "who": s["customer_id"],
                    "message": s["message_id"],
                    "conversation": s["conversation_id"],
                    "token": s["token_hash"],
                }
                for s in sent
            ],
        )


async def counts(conn: AsyncConnection, campaign: Campaign) -> dict[str, Any]:
    """How the recipients stand: by status, the skipped by reason, and of those sent, how
    many the provider delivered, failed, answered, or opted out since."""
    by_status = {
        row.status: row.n
        for row in await conn.execute(
            sa.select(r.status, sa.func.count().label("n"))
            .where(r.campaign_id == campaign.id)
            .group_by(r.status)
        )
    }
    skipped = {
        row.reason: row.n
        for row in await conn.execute(
            sa.select(r.reason, sa.func.count().label("n"))
            .where(r.campaign_id == campaign.id, r.status == "skipped")
            .group_by(r.reason)
        )
    }
    sent = sa.and_(r.campaign_id == campaign.id, r.status == "sent")
    delivery = {
        row.status: row.n
        for row in await conn.execute(
            sa.select(outbox.c.status, sa.func.count().label("n"))
            .select_from(campaign_recipients.join(outbox, outbox.c.id == r.message_id))
            .where(sent)
            .group_by(outbox.c.status)
        )
    }
    opted = sa.exists().where(  # their consent for the purpose on the channel withdrawn since
        consents.c.customer_id == r.customer_id,
        consents.c.channel == campaign.channel,
        consents.c.purpose == campaign.purpose,
        consents.c.granted.is_(False),
        consents.c.updated_at > r.updated_at,
    )
    answer = messages.alias("answer")
    answered = sa.exists().where(
        answer.c.conversation_id == r.conversation_id,
        answer.c.direction == "in",
        answer.c.received_at > r.updated_at,
    )
    replied = await conn.scalar(sa.select(sa.func.count()).where(sent, answered, sa.not_(opted)))
    opted_out = await conn.scalar(sa.select(sa.func.count()).where(sent, opted))
    return {
        "recipients": sum(by_status.values()),
        "pending": by_status.get("pending", 0),
        "sent": by_status.get("sent", 0),
        "skipped": by_status.get("skipped", 0),
        "skipped_by_reason": dict(sorted(skipped.items())),
        "delivered": delivery.get("delivered", 0),
        "failed": delivery.get("failed", 0) + delivery.get("undelivered", 0),
        "replied": int(replied or 0),  # an answer that opted out counts as opted out only
        "opted_out": int(opted_out or 0),
    }


async def by_token(conn: AsyncConnection, token_hash: str) -> tuple[Campaign, str] | None:
    """The campaign and the customer an unsubscribe link was made for."""
    row = (
        await conn.execute(sa.select(r.campaign_id, r.customer_id).where(r.token_hash == token_hash))
    ).one_or_none()
    if row is None:
        return None
    campaign = await get(conn, row.campaign_id)
    return None if campaign is None else (campaign, row.customer_id)
