"""What the widget socket asks of the hub: open a session, take the pre-chat form, take a
message, mark replies read, and deliver agents' replies into the feed.

A visitor's message is written to the feed, then appended to the ingest queue, and only
then acknowledged, so an ``ack`` means both are durable; a resend of the same client id
writes neither twice (the feed's ``origin`` and the queue's external id dedupe it). Raises
``FrameRejected`` for what the visitor got wrong; never trusts a conversation id from
the client: a visitor reads only their own customer's feed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from hub.customers.records import CustomerRecords
from hub.errors import InputError
from hub.model import Attachment, ConversationStatus, InboundMessage, message_id
from hub.queue.base import IngestQueue
from hub.realtime.bus import InProcessBus
from hub.routing.hours import BusinessHours
from hub.store.engine import Store
from hub.store.repos import widget_sites as site_repo
from hub.store.repos.widget_sites import WidgetSite
from hub.store.tables import (
    agents,
    conversations,
    messages,
    widget_feed,
    widget_sites,
    widget_uploads,
    widget_visitors,
)
from hub.widget import feed
from hub.widget.availability import Availability
from hub.widget.frames import ChatMessage, Contact, FrameRejected, Hello, LeaveMessage, inbound_message
from hub.widget.sites import SiteSettings, hours_of, identifier_valid, public_settings
from hub.widget.visitors import (
    Claim,
    Visitor,
    claim_contact,
    claims_of,
    ensure_customer,
    find_visitor,
    identity_of,
    link_verified,
    new_visitor,
)

ACTOR = "widget"


@dataclass(slots=True)
class Session:
    """One open widget: its site, and its visitor once there is one."""

    site_key: str
    site_name: str
    secret: str
    settings: SiteSettings
    hours: BusinessHours
    visitor: Visitor | None = None
    token: str | None = None  # set when the hub issued a new one the browser must keep
    language: str = ""
    page: dict[str, str] = field(default_factory=dict)

    @property
    def customer_id(self) -> str | None:
        return self.visitor.customer_id if self.visitor else None


@dataclass(frozen=True, slots=True)
class Welcome:
    session: Session
    frame: dict[str, Any]
    bad_identity: bool
    after: int  # the frame's events are the customer's feed after this seq


class UnknownSite(Exception):
    pass


class WidgetService:
    def __init__(
        self,
        *,
        store: Store,
        records: CustomerRecords,
        bus: InProcessBus,
        availability: Availability,
        queue: Callable[[], IngestQueue[InboundMessage]],
        region: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._records = records
        self._bus = bus
        self.availability = availability
        self._queue = queue
        self._region = region
        self._clock = clock
        # delivery(reply id, provider id, status, code): the outbox's reports, once it runs
        self._sites: dict[str, tuple[datetime, tuple[SiteSettings, BusinessHours, dict[str, Any]]]] = {}
        self.delivery: Callable[[str, str, str, str | None], Awaitable[bool]] | None = None

    async def site(self, key: str) -> WidgetSite | None:
        """The active site with this key, or None."""
        async with self._store.read() as conn:
            return await site_repo.get(conn, key, active_only=True)

    async def hello(self, site: WidgetSite, frame: Hello) -> Welcome:
        now = self._clock()
        settings, hours, shown = self._parsed(site)
        session = Session(
            site.key,
            site.name,
            site.secret,
            settings,
            hours,
            language=frame.language,
            page={"url": frame.page.url, "title": frame.page.title},
        )
        bad_identity = False
        last_seq = frame.last_seq
        if not frame.visitor and not frame.identifier:  # a first visit: nothing to look up
            reason = await self.availability.reason(hours, now)
            welcome = self._welcome(session, shown, reason, [], None, frame.last_seq)
            return Welcome(session, welcome, False, frame.last_seq)
        async with self._store.write() as conn:
            if frame.visitor:
                session.visitor = await find_visitor(conn, site.key, frame.visitor, now)
            if frame.identifier and frame.identifier_hash is not None:
                if identifier_valid(site.secret, frame.identifier, frame.identifier_hash):
                    identity = identity_of(site.key, frame.identifier, self._region)
                    if session.visitor is not None and session.visitor.identified not in (None, identity[1]):
                        # the browser's token is someone else's the site verified (a shared
                        # computer): this person gets a visitor of their own, not that record
                        session.visitor, last_seq = None, 0
                    if session.visitor is None:
                        session.visitor, session.token = await new_visitor(conn, site.key, now)
                    await link_verified(conn, self._records, session.visitor, identity, ACTOR)
                    if frame.name or frame.email:
                        session.visitor.contact = {
                            **session.visitor.contact,
                            **{k: v for k, v in (("name", frame.name), ("email", frame.email)) if v},
                        }
                else:
                    bad_identity = True
            customer = session.customer_id
            events = await feed.since(conn, customer, last_seq) if customer else []
            agent = await self._agent_of(conn, customer) if customer else None
        reason = await self.availability.reason(hours, now)
        welcome = self._welcome(session, shown, reason, events, agent, last_seq, frame.visitor)
        return Welcome(session, welcome, bad_identity, last_seq)

    def _parsed(self, site: WidgetSite) -> tuple[SiteSettings, BusinessHours, dict[str, Any]]:
        """A site's settings, parsed once per version (thousands of widgets share them)."""
        cached = self._sites.get(site.key)
        if cached is None or cached[0] != site.updated_at:
            settings = SiteSettings.model_validate(site.settings)
            parsed = (settings, hours_of(settings.hours), public_settings(site.name, site.settings))
            self._sites[site.key] = cached = (site.updated_at, parsed)
        return cached[1]

    @staticmethod
    def _welcome(
        session: Session,
        shown: dict[str, Any],
        reason: str | None,
        events: list[dict[str, Any]],
        agent: str | None,
        last_seq: int,
        token: str | None = None,
    ) -> dict[str, Any]:
        visitor = session.visitor
        welcome = {
            "type": "welcome",
            "visitor": (session.token or token) if visitor else None,
            "identified": bool(visitor and visitor.identified),
            "settings": shown,
            "offline": reason is not None,
            "offline_reason": reason,
            "agent": {"name": agent} if agent else None,
            "events": events,
            "seq": max([last_seq, *(e["seq"] for e in events)]),
            "prechat_done": bool(visitor and (visitor.contact or events or visitor.identified)),
        }
        session.token = None  # it is in the welcome
        return welcome

    async def start(self, session: Session, form: Contact) -> None:
        """The pre-chat form: what the visitor says of themselves (claims, not identities)."""
        asked = session.settings.prechat
        for name in ("name", "email", "phone"):
            if getattr(asked, name) == "required" and not getattr(form, name):
                raise FrameRejected("contact_required", f"{name}: the site asks for it")
        self._check_department(session, form.department)
        await self._claim(session, form)

    async def message(self, session: Session, frame: ChatMessage | LeaveMessage) -> dict[str, Any]:
        """Take a message durably; returns the ``ack`` frame and publishes the event."""
        now = self._clock()
        if isinstance(frame, LeaveMessage):
            if not (frame.email or frame.phone):
                raise FrameRejected("contact_required", "email or phone: say how we can reach you", frame.id)
            self._check_department(session, frame.department)
            await self._claim(session, frame)
        async with self._store.write() as conn:
            visitor = await self._visitor(conn, session, now)
            customer_id = await ensure_customer(conn, self._records, visitor, ACTOR)
            files = await self._uploads(conn, visitor.id, frame)
            claims = await claims_of(conn, self._records, visitor)
            message = inbound_message(
                visitor_id=visitor.id,
                frame=frame,
                name=visitor.contact.get("name"),
                files=files,
                meta=self._meta(session, frame, claims),
                received_at=now,
            )
            event = await feed.append(
                conn,
                customer_id,
                f"in:{message.external_id}",
                feed.visitor_message(
                    message_id(message.channel, message.external_id),
                    frame.id,
                    visitor.contact.get("name"),
                    message.text,
                    feed.file_refs(session.site_key, session.secret, files),
                    now,
                ),
                now,
            )
        await self._queue().append(message)
        self._bus.publish(feed.TOPIC, {"customer_id": customer_id, "event": event})
        return {"type": "ack", "id": frame.id, "message_id": event["id"], "seq": event["seq"]}

    async def feed_after(self, customer_id: str | None, seq: int) -> list[dict[str, Any]]:
        """The customer's feed after ``seq`` (none for a visitor who has written nothing)."""
        if customer_id is None:
            return []
        async with self._store.read() as conn:
            return await feed.since(conn, customer_id, seq)

    async def read(self, session: Session, upto: int, after: int) -> int:
        """The visitor saw the feed up to ``upto``: the agents' replies in (after, upto]
        are delivered. Returns how many."""
        if session.customer_id is None or upto <= after or self.delivery is None:
            return 0
        async with self._store.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(widget_feed.c.seq, widget_feed.c.origin).where(
                        widget_feed.c.customer_id == session.customer_id,
                        widget_feed.c.seq > after,
                        widget_feed.c.seq <= upto,
                        widget_feed.c.origin.like("out:%"),
                    )
                )
            ).all()
        for row in rows:  # the chat sender named each reply's part "feed:<seq>"
            await self.delivery(row.origin.removeprefix("out:"), f"feed:{row.seq}", "delivered", None)
        return len(rows)

    async def deliver(self, reply_id: str, attachments: Sequence[Attachment]) -> int | None:
        """An agent's reply into the visitor's feed (the chat connector's send)."""
        now = self._clock()
        async with self._store.write() as conn:
            files = await self._reply_files(conn, reply_id, tuple(attachments))
            placed = await feed.agent_reply(conn, reply_id, files, now)
        if placed is None:
            return None
        customer_id, event = placed
        self._bus.publish(feed.TOPIC, {"customer_id": customer_id, "event": event})
        return int(event["seq"])

    async def place_reply(
        self, conn: Any, reply_id: str, files: Sequence[Attachment], now: datetime
    ) -> tuple[str, Callable[[], None]]:
        """An agent's chat reply into the feed, inside the reply's own transaction
        (``replies.reply`` in_store): the provider id, and the publish for after the commit."""
        refs = await self._reply_files(conn, reply_id, tuple(files))
        placed = await feed.agent_reply(conn, reply_id, refs, now)
        assert placed is not None  # the reply's message was written in this transaction
        customer_id, event = placed
        return f"feed:{event['seq']}", lambda: self._bus.publish(
            feed.TOPIC, {"customer_id": customer_id, "event": event}
        )

    async def conversation_of(self, customer_id: str) -> str | None:
        """The customer's open chat conversation, if ingest has opened one."""
        async with self._store.read() as conn:
            found: str | None = await conn.scalar(
                _latest_open_chat(sa.select(conversations.c.id), customer_id)
            )
            return found

    # -- helpers -------------------------------------------------------------------------

    async def _visitor(self, conn: Any, session: Session, now: datetime) -> Visitor:
        if session.visitor is None:
            session.visitor, session.token = await new_visitor(conn, session.site_key, now)
        return session.visitor

    async def _claim(self, session: Session, form: Contact) -> None:
        contact = {k: getattr(form, k) for k in ("name", "email", "phone", "department", "language")}
        now = self._clock()
        try:
            async with self._store.write() as conn:
                visitor = await self._visitor(conn, session, now)
                await claim_contact(conn, self._records, visitor, contact, ACTOR)
        except InputError as exc:
            raise FrameRejected("bad_frame", str(exc), getattr(form, "id", None)) from exc

    def _check_department(self, session: Session, department: str | None) -> None:
        offered = {d.id for d in session.settings.departments}
        if department and department not in offered:
            raise FrameRejected("bad_frame", f"department: {department!r} is not offered on this site")

    def _meta(
        self, session: Session, frame: ChatMessage | LeaveMessage, claims: list[Claim]
    ) -> dict[str, str]:
        contact = session.visitor.contact if session.visitor else {}
        meta = {
            "site": session.site_key,
            "department": str(contact.get("department") or ""),
            "language": str(contact.get("language") or session.language or ""),
            "page_url": session.page.get("url", ""),
            "page_title": session.page.get("title", ""),
        }
        if isinstance(frame, LeaveMessage):
            meta.update(offline="1", reply_email=frame.email or "", reply_phone=frame.phone or "")
        for claim in claims:  # what the visitor typed: for the agent to see, and to confirm
            meta[f"claimed_{claim.kind}"] = claim.shown()
        return meta

    async def _uploads(
        self, conn: Any, visitor_id: str, frame: ChatMessage | LeaveMessage
    ) -> tuple[Attachment, ...]:
        wanted = [ref.upload for ref in frame.attachments]
        if not wanted:
            return ()
        rows = {
            r.id: r
            for r in await conn.execute(
                sa.select(widget_uploads).where(
                    widget_uploads.c.id.in_(wanted), widget_uploads.c.visitor_id == visitor_id
                )
            )
        }
        missing = [u for u in wanted if u not in rows]
        if missing:
            raise FrameRejected("bad_upload", f"attachments: no upload {missing[0]} of yours", frame.id)
        return tuple(
            Attachment(sha256=r.sha256, filename=r.filename, content_type=r.content_type, size=int(r.size))
            for r in (rows[u] for u in wanted)
        )

    async def _reply_files(
        self, conn: Any, reply_id: str, files: tuple[Attachment, ...]
    ) -> list[dict[str, Any]]:
        """The reply's files as links signed for the site of the visitor it goes to."""
        if not files:
            return []
        site = (
            await conn.execute(
                sa.select(widget_sites.c.key, widget_sites.c.secret)
                .select_from(
                    widget_visitors.join(widget_sites, widget_sites.c.key == widget_visitors.c.site_key)
                )
                .join(messages, messages.c.recipient == widget_visitors.c.id)
                .where(messages.c.id == reply_id)
            )
        ).one_or_none()
        return feed.file_refs(site.key, site.secret, files) if site else []

    async def _agent_of(self, conn: Any, customer_id: str) -> str | None:
        query = sa.select(agents.c.name).select_from(
            conversations.join(agents, agents.c.id == conversations.c.assignee_id)
        )
        name: str | None = await conn.scalar(_latest_open_chat(query, customer_id))
        return name


def _latest_open_chat(query: sa.Select[Any], customer_id: str) -> sa.Select[Any]:
    """``query`` narrowed to the customer's most recent open chat conversation."""
    return (
        query.where(
            conversations.c.customer_id == customer_id,
            conversations.c.channel == "chat",
            conversations.c.status == ConversationStatus.OPEN,
        )
        .order_by(conversations.c.last_message_at.desc())
        .limit(1)
    )
