"""Sending a satisfaction survey and taking its answer.

A survey goes after a conversation closes, on the conversation's channel: in the chat
widget, five stars inline (an item of the visitor's feed); by SMS, "reply 1 to 5"; by
email, a one-use link to a small page of the hub (``/csat/{token}``; only the token's
SHA-256 is stored). Never to a customer asked within ``quiet_days``, never on a channel
whose consent the customer withdrew, never to an automatic sender. The answer is stored
on the survey (so on the conversation and its agent) as a ``csat.received`` event, which
automations and the reports read; the automation runner tells the key account manager (or
the supervisors) of a low score.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock
from hub.csat.config import CsatConfig
from hub.customers import audit
from hub.errors import Conflict, InputError, NotFound
from hub.model import Channel, InboundMessage, message_id
from hub.outbox.replies import consent_withdrawn
from hub.outbox.system_reply import is_automatic, queue_hub_reply
from hub.realtime.bus import InProcessBus
from hub.store.engine import Store
from hub.store.ingest_batch import StoredMessage
from hub.store.repos import automation as automation_repo
from hub.store.repos import csat as repo
from hub.store.repos.csat import Survey
from hub.store.times import iso
from hub.widget import feed

ACTOR = "system:csat"
MAX_COMMENT = 2000


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Surveys:
    store: Store
    config: CsatConfig
    bus: InProcessBus
    clock: Clock
    sends: Callable[[], Collection[str]]
    public_url: str | None

    async def send(self, conv_id: str, actor: str, *, on_close: bool = False) -> str | None:
        """Send the conversation's survey; None when it went, else why it did not.
        ``on_close``: only if the settings survey its queue's closed conversations."""
        settings = self.config.settings
        now = self.clock()
        published = None
        async with self.store.write() as conn:
            conv = await repo.subject(conn, conv_id)
            if conv is None or conv.erased_at is not None:
                return "the conversation is gone"
            if on_close and not settings.on_close(conv.queue):
                return "its queue is not surveyed"
            if conv.channel not in settings.channels:
                return f"no survey on {conv.channel} (channels: {', '.join(sorted(settings.channels))})"
            if await repo.asked_since(conn, conv.customer_id, now - timedelta(days=settings.quiet_days)):
                return f"the customer was asked within {settings.quiet_days} days"
            language, words = settings.words(conv.language or "")
            survey_id, token = str(uuid.uuid4()), secrets.token_urlsafe(24)
            if conv.channel == "chat":
                why = await _why_not_chat(conn, conv)
                if why is not None:
                    return why
                item = {
                    "type": "csat",
                    "id": f"csat:{survey_id}",
                    "survey": survey_id,
                    "question": words["question"],
                    "comment": words["comment"],
                    "thanks": words["thanks"],
                    "at": iso(now),
                }
                published = await feed.append(conn, conv.customer_id, f"csat:{survey_id}", item, now)
            else:
                if conv.channel == "email":
                    if not self.public_url:
                        return "server.public_url is not set: the survey's link would lead nowhere"
                    text = words["email"].replace("{link}", f"{self.public_url.rstrip('/')}/csat/{token}")
                else:
                    text = words["sms"]
                queued = await queue_hub_reply(conn, conv_id, text, self.sends(), now, reason="csat")
                if queued.skipped is not None:
                    return queued.skipped
            await repo.add(
                conn,
                {
                    "id": survey_id,
                    "conversation_id": conv_id,
                    "customer_id": conv.customer_id,
                    "agent_id": conv.assignee_id,
                    "queue": conv.queue,
                    "channel": conv.channel,
                    "language": language,
                    "token_hash": token_hash(token),
                    "sent_at": now,
                    "expires_at": now + timedelta(days=settings.expires_days),
                },
            )
            await audit.record(
                conn,
                actor=actor,
                action="csat.sent",
                subject_type="conversation",
                subject_id=conv_id,
                customer_id=conv.customer_id,
                data={"survey": survey_id, "channel": conv.channel},
                at=now,
            )
        if published is not None:
            self.bus.publish(feed.TOPIC, {"customer_id": conv.customer_id, "event": published})
        return None

    async def by_token(self, token: str) -> Survey:
        async with self.store.read() as conn:
            found = await repo.by_token(conn, token_hash(token))
        if found is None:
            raise NotFound("this survey link is unknown")
        return found

    async def answer(self, survey: Survey, score: int | None, comment: str | None) -> Survey:
        """The score (once) and an optional comment (once, with the score or after it)."""
        async with self.store.write() as conn:
            return await record(conn, survey, score, comment, self.clock())

    async def answer_in_chat(
        self, survey_id: str, customer_id: str, score: int | None, comment: str | None
    ) -> None:
        """An answer in the widget, from the visitor the survey was put to: recorded, and
        a ``csat_done`` item in the visitor's feed (what they have answered)."""
        now = self.clock()
        async with self.store.write() as conn:
            survey = await repo.get(conn, survey_id)
            if survey is None or survey.customer_id != customer_id or survey.channel != "chat":
                raise NotFound("no such survey")
            survey = await record(conn, survey, score, comment, now)
            origin = f"csat-done:{survey.id}:{'comment' if score is None else 'score'}"
            item = {
                "type": "csat_done",
                "id": origin,
                "survey": survey.id,
                "score": survey.score,
                "commented": survey.comment is not None,
                "at": iso(now),
            }
            done = await feed.append(conn, customer_id, origin, item, now)
        self.bus.publish(feed.TOPIC, {"customer_id": customer_id, "event": done})


async def _why_not_chat(conn: AsyncConnection, conv: Any) -> str | None:
    withdrawn = await consent_withdrawn(conn, conv.customer_id, "chat")
    if withdrawn is not None:
        return f"the customer withdrew consent ({withdrawn})"
    if is_automatic(await automation_repo.first_inbound_meta(conn, conv.id)):
        return "the sender is automatic"
    return None


async def record(
    conn: AsyncConnection, survey: Survey, score: int | None, comment: str | None, now: datetime
) -> Survey:
    """Store an answer in the caller's transaction; Conflict for a second one."""
    if score is None and comment is None:
        raise Conflict("give a score from 1 to 5, or a comment")
    if score is not None and survey.answered_at is not None:
        raise Conflict("this survey was answered already; thank you")
    if score is None and survey.answered_at is None:
        raise Conflict("give the score first")
    if survey.expires_at <= now and score is not None:
        raise Conflict("this survey has expired")
    comment = comment.strip() if comment and comment.strip() else None
    if comment is not None and len(comment) > MAX_COMMENT:  # refused, not cut: nothing said is lost
        raise InputError(f"comment: at most {MAX_COMMENT} characters", field="comment")
    if score is None and comment is None:
        raise Conflict("the comment is empty")
    if not await repo.answer(conn, survey.id, score, comment, now):
        raise Conflict("this survey was answered already; thank you")
    action = "csat.received" if score is not None else "csat.commented"
    data: dict[str, Any] = {"survey": survey.id, "channel": survey.channel, "agent_id": survey.agent_id}
    if score is not None:
        data["score"] = score
    if comment is not None:
        data["comment"] = comment
    await audit.record(
        conn,
        actor=f"customer:{survey.customer_id}",
        action=action,
        subject_type="conversation",
        subject_id=survey.conversation_id,
        customer_id=survey.customer_id,
        data=data,
        at=now,
    )
    found = await repo.get(conn, survey.id)
    assert found is not None
    return found


def sms_score(text: str) -> int | None:
    """A reply that is a score: one digit from 1 to 5 (and nothing else but spaces)."""
    stripped = text.strip()
    return int(stripped) if len(stripped) == 1 and stripped in "12345" else None


async def apply_sms_answers(
    conn: AsyncConnection, batch: Sequence[InboundMessage], stored: Sequence[StoredMessage], now: datetime
) -> None:
    """In the ingest transaction: an SMS "1" to "5" from a customer with a survey waiting
    is its answer. The message is stored like any other; if it opened or reopened a
    conversation only to answer, that conversation is closed again (an answer is not a
    request), with the reason on the timeline."""
    sms = {message_id(m.channel, m.external_id): m for m in batch if m.channel is Channel.SMS}
    for s in stored:
        msg = sms.get(s.id)
        score = sms_score(msg.text) if msg is not None else None
        if score is None:
            continue
        survey = await repo.waiting_for_sms(conn, s.customer_id, now)
        if survey is None:
            continue
        await record(conn, survey, score, None, now)
        reopened = s.conversation_opened or s.conversation_id == survey.conversation_id
        if reopened and await repo.close_if_open(conn, s.conversation_id, now):
            await audit.record(
                conn,
                actor=ACTOR,
                action="conversation.closed",
                subject_type="conversation",
                subject_id=s.conversation_id,
                customer_id=s.customer_id,
                reason="the message answered a satisfaction survey",
                data={"agent_id": None, "survey": survey.id},
                at=now,
            )
