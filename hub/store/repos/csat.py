"""Satisfaction surveys: the repository."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.tables import agents, conversations, csat_surveys, customers
from hub.store.times import utc, utc_or_none

s = csat_surveys.c


@dataclass(frozen=True, slots=True, kw_only=True)
class Survey:
    id: str
    conversation_id: str
    customer_id: str
    agent_id: str | None
    queue: str | None
    channel: str
    language: str
    sent_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    score: int | None
    comment: str | None


def _survey(row: Any) -> Survey:
    return Survey(
        id=row.id,
        conversation_id=row.conversation_id,
        customer_id=row.customer_id,
        agent_id=row.agent_id,
        queue=row.queue,
        channel=row.channel,
        language=row.language,
        sent_at=utc(row.sent_at),
        expires_at=utc(row.expires_at),
        answered_at=utc_or_none(row.answered_at),
        score=row.score,
        comment=row.comment,
    )


async def subject(conn: AsyncConnection, conv_id: str) -> Any:
    """What a survey is sent about: the conversation, its customer's language and whether
    the customer is erased."""
    return (
        await conn.execute(
            sa.select(
                conversations.c.id,
                conversations.c.customer_id,
                conversations.c.channel,
                conversations.c.queue,
                conversations.c.assignee_id,
                customers.c.language,
                customers.c.erased_at,
            )
            .join(customers, customers.c.id == conversations.c.customer_id)
            .where(conversations.c.id == conv_id)
        )
    ).one_or_none()


async def asked_since(conn: AsyncConnection, customer_id: str, since: datetime) -> bool:
    found = await conn.scalar(
        sa.select(s.id).where(s.customer_id == customer_id, s.sent_at >= since).limit(1)
    )
    return found is not None


async def add(conn: AsyncConnection, row: Mapping[str, Any]) -> None:
    await conn.execute(sa.insert(csat_surveys).values(**row))


async def by_token(conn: AsyncConnection, token_hash: str) -> Survey | None:
    row = (await conn.execute(sa.select(csat_surveys).where(s.token_hash == token_hash))).one_or_none()
    return None if row is None else _survey(row)


async def get(conn: AsyncConnection, survey_id: str) -> Survey | None:
    row = (await conn.execute(sa.select(csat_surveys).where(s.id == survey_id))).one_or_none()
    return None if row is None else _survey(row)


async def waiting_for_sms(conn: AsyncConnection, customer_id: str, now: datetime) -> Survey | None:
    """The customer's latest SMS survey still waiting for its answer."""
    row = (
        await conn.execute(
            sa.select(csat_surveys)
            .where(
                s.customer_id == customer_id,
                s.channel == "sms",
                s.answered_at.is_(None),
                s.expires_at > now,
            )
            .order_by(s.sent_at.desc())
            .limit(1)
        )
    ).one_or_none()
    return None if row is None else _survey(row)


async def answer(
    conn: AsyncConnection, survey_id: str, score: int | None, comment: str | None, now: datetime
) -> bool:
    """Record the score (once) and a comment (once); False if either was there already."""
    values: dict[str, Any] = {}
    where = [s.id == survey_id]
    if score is not None:
        values |= {"score": score, "answered_at": now}
        where.append(s.answered_at.is_(None))
    if comment is not None:
        values["comment"] = comment
        where.append(s.comment.is_(None))
    result = await conn.execute(sa.update(csat_surveys).where(*where).values(**values))
    return bool(result.rowcount)


@dataclass(frozen=True, slots=True)
class Figure:
    agent_id: str | None
    agent_name: str | None
    teams: tuple[str, ...]
    queue: str | None
    channel: str
    tier: str
    score: int | None


async def in_range(
    conn: AsyncConnection, since: datetime, until: datetime, customer_ids: Any = None
) -> list[Figure]:
    """Every survey sent in [since, until), with what the report groups it by."""
    query = (
        sa.select(
            s.agent_id,
            agents.c.name.label("agent_name"),
            agents.c.teams,
            s.queue,
            s.channel,
            customers.c.tier,
            s.score,
        )
        .join(customers, customers.c.id == s.customer_id)
        .outerjoin(agents, agents.c.id == s.agent_id)
        .where(s.sent_at >= since, s.sent_at < until)
    )
    if customer_ids is not None:
        query = query.where(s.customer_id.in_(customer_ids))
    return [
        Figure(
            r.agent_id,
            r.agent_name,
            tuple(r.teams) if isinstance(r.teams, list) else (),
            r.queue,
            r.channel,
            r.tier,
            r.score,
        )
        for r in await conn.execute(query)
    ]


async def close_if_open(conn: AsyncConnection, conv_id: str, now: datetime) -> bool:
    """Close the conversation if it is open (an SMS answer to a survey reopened it)."""
    result = await conn.execute(
        sa.update(conversations)
        .where(conversations.c.id == conv_id, conversations.c.status == "open")
        .values(
            status="closed",
            closed_at=now,
            open_key=None,
            offered_to=None,
            offer_expires_at=None,
            needs_routing=False,
        )
    )
    return bool(result.rowcount)


async def forget_customer(conn: AsyncConnection, customer_id: str) -> None:
    """Erasure: what the customer wrote in a survey goes; the score stays, for the figures."""
    await conn.execute(sa.update(csat_surveys).where(s.customer_id == customer_id).values(comment=None))
