"""Campaigns: one templated message (per language) to the members of a saved segment, on
one channel, under consent and the contact policy, throttled, resumable, cancellable.

Starting a campaign takes the segment's members as they are at that moment (the
recipients are fixed, so the counts add up). The runner (one process, under a lease)
then takes ``rate_per_minute`` recipients a minute; each chunk is one transaction: per
recipient the consent for the purpose on the channel, an address, the contact policy,
and then either a skip with its reason, a wait (quiet hours: ``not_before``), or the
message — a closed conversation of the campaign with it, the outbox row, the contact
the policy counts — and the recipient marked sent. A crash loses the chunk's
transaction whole: nobody is sent twice, nobody is lost. The outbox sends (retried).

Every message can be opted out of: an SMS or WhatsApp reply STOP (the keyword withdraws
consent; a WhatsApp campaign's approved template must say so); an
email carries a one-use unsubscribe link and ``List-Unsubscribe`` (one click, RFC 8058)
that withdraw the purpose's consent on email. A reply reopens the campaign's
conversation on the campaign's queue (within ``ingest.reopen_days``).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.auth.sessions import Principal
from hub.auth.visibility import everything
from hub.clock import Clock
from hub.customers import audit
from hub.customers.listing import segment_members
from hub.customers.records import CustomerRecords
from hub.customers.segment_access import visible_segment
from hub.errors import Conflict, InputError, NotFound
from hub.model import Role
from hub.outbox.replies import ADDRESS_KIND, Outgoing, store_outbound_many
from hub.outreach.config import ContactPolicyConfig
from hub.outreach.policy import Proposed, judge
from hub.outreach.start import situation_of
from hub.store import search_index
from hub.store.engine import Store
from hub.store.repos import campaigns as repo
from hub.store.repos import outreach as outreach_repo
from hub.store.repos import segments as segments_repo
from hub.store.repos.campaigns import Campaign
from hub.store.repos.outreach import Recipient
from hub.store.times import iso

OPT_OUT = {  # appended to every message, in the recipient's language
    "sms": {"de": "Keine Nachrichten mehr? Antworten Sie STOP.", "en": "No more messages? Reply STOP."},
    "email": {"de": "Abmelden: {link}", "en": "Unsubscribe: {link}"},
    "api": {"de": "", "en": ""},
    "whatsapp": {"de": "", "en": ""},  # an approved template says it itself (hub/web/campaigns.py)
}
CHUNK = 200  # recipients per transaction
SUMMED = ("recipients", "sent", "skipped", "delivered", "failed", "replied", "opted_out")  # per segment


@dataclass(frozen=True, slots=True)
class Draft:
    name: str
    segment_id: str
    channel: str
    texts: Mapping[str, Mapping[str, Any]]  # language -> {"subject"?, "text", "template"? (WhatsApp)}
    purpose: str = "marketing"
    department: str = "marketing"
    queue: str | None = None
    sender: str | None = None
    rate_per_minute: int = 600


@dataclass(slots=True)
class Campaigns:
    store: Store
    records: CustomerRecords
    policy: ContactPolicyConfig
    clock: Clock
    zone: ZoneInfo
    senders: Callable[[], Collection[str]]
    public_url: str | None
    _credit: dict[str, float] = field(default_factory=dict)  # per campaign: a part recipient not yet taken

    async def create(self, who: Principal, draft: Draft) -> dict[str, Any]:
        if draft.channel not in self.senders():
            raise InputError(f"channel: no connector sends on {draft.channel}", field="channel")
        if draft.channel == "email" and not self.public_url:
            raise InputError(
                "channel: an email campaign needs server.public_url for its unsubscribe link", field="channel"
            )
        for language, words in draft.texts.items():
            if not words["text"].strip():  # else only the opt-out line would go
                raise InputError(f"texts.{language}.text: write the message", field=f"texts.{language}")
            if draft.channel == "email" and not (words.get("subject") or "").strip():
                raise InputError(
                    f"texts.{language}.subject: an email needs a subject", field=f"texts.{language}"
                )
        now = self.clock()
        campaign_id = str(uuid.uuid4())
        async with self.store.write() as conn:
            await visible_segment(conn, who, draft.segment_id)
            await repo.create(
                conn,
                {
                    "id": campaign_id,
                    "name": draft.name,
                    "segment_id": draft.segment_id,
                    "channel": draft.channel,
                    "purpose": draft.purpose,
                    "department": draft.department,
                    "queue": draft.queue,
                    "sender": draft.sender,
                    "texts": {lang: dict(words) for lang, words in draft.texts.items()},
                    "rate_per_minute": draft.rate_per_minute,
                    "status": "draft",
                    "created_by": who.agent_id,
                    "created_at": now,
                },
            )
            await self._audit(conn, who, "campaign.created", campaign_id, {"name": draft.name})
        return await self.show(campaign_id)

    async def start(self, who: Principal, campaign_id: str) -> dict[str, Any]:
        """The segment's members, now, become the recipients; the runner takes it from here."""
        now = self.clock()
        async with self.store.write() as conn:
            campaign = await self._get(conn, campaign_id, lock=True)
            if campaign.status != "draft":
                raise Conflict(f"the campaign is {campaign.status}; only a draft starts")
            segment = await visible_segment(conn, who, campaign.segment_id)
            members = await segment_members(conn, self.records, everything(who.agent_id), segment.filters)
            await repo.add_recipients(conn, campaign_id, members, now)
            await repo.set_status(conn, campaign_id, "running", now, recipients=len(members))
            await self._audit(conn, who, "campaign.started", campaign_id, {"recipients": len(members)})
        return await self.show(campaign_id)

    async def cancel(self, who: Principal, campaign_id: str) -> dict[str, Any]:
        """No more recipients are taken; what is queued already goes out."""
        async with self.store.write() as conn:
            campaign = await self._get(conn, campaign_id, lock=True)
            if campaign.status not in ("draft", "running"):
                raise Conflict(f"the campaign is {campaign.status} already")
            await repo.set_status(conn, campaign_id, "cancelled", self.clock())
            await self._audit(conn, who, "campaign.cancelled", campaign_id, {})
        return await self.show(campaign_id)

    async def show(self, campaign_id: str) -> dict[str, Any]:
        async with self.store.read() as conn:
            campaign = await self._get(conn, campaign_id)
            counts = await repo.counts(conn, campaign)
        return as_dict(campaign) | {"results": counts}

    async def report(self, start: datetime, end: datetime) -> dict[str, Any]:
        """The campaigns started in the range with their results, and the results summed
        per segment (a segment several campaigns went to: all of them)."""
        async with self.store.read() as conn:
            found = [(c, await repo.counts(conn, c)) for c in await repo.started_between(conn, start, end)]
            names = {s.id: s.name for s in await segments_repo.every(conn)}
        per_segment: dict[str, dict[str, Any]] = {}
        for campaign, results in found:
            total = per_segment.setdefault(
                campaign.segment_id,
                {"segment_id": campaign.segment_id, "segment": names.get(campaign.segment_id), "campaigns": 0}
                | dict.fromkeys(SUMMED, 0),
            )
            total["campaigns"] += 1
            for key in SUMMED:
                total[key] += results[key]
        return {
            "campaigns": [
                as_dict(c) | {"segment": names.get(c.segment_id), "results": results} for c, results in found
            ],
            "segments": sorted(per_segment.values(), key=lambda t: (t["segment"] or "", t["segment_id"])),
        }

    async def listing(self, limit: int) -> list[dict[str, Any]]:
        async with self.store.read() as conn:
            return [as_dict(c) for c in await repo.listing(conn, limit)]

    # --- the runner ---------------------------------------------------------------------

    async def step(self, seconds: float) -> int:
        """One round: each running campaign takes the recipients its rate allows in
        ``seconds``; a campaign with none left is done. How many were taken."""
        async with self.store.read() as conn:
            running = await repo.running(conn)
        taken = 0
        for campaign in running:
            # the rate's share of these seconds, fractions carried over to the next round
            credit = self._credit.get(campaign.id, 0.0) + campaign.rate_per_minute * seconds / 60
            budget = math.floor(credit)
            self._credit[campaign.id] = credit - budget
            while budget > 0:
                done = await self._chunk(campaign, min(budget, CHUNK))
                taken += done
                budget -= CHUNK
                if done < CHUNK:
                    break
        return taken

    async def _chunk(self, campaign: Campaign, size: int) -> int:
        now = self.clock()
        policy = self.policy.policy
        async with self.store.write() as conn:
            fresh = await repo.get(conn, campaign.id, lock=True)
            if fresh is None or fresh.status != "running":  # cancelled meanwhile
                return 0
            ids = await repo.due(conn, campaign.id, now, size)
            if not ids:
                if not await repo.pending_left(conn, campaign.id):
                    await repo.set_status(conn, campaign.id, "done", now)
                return 0
            since = now - timedelta(days=policy.lookback_days())
            people = await outreach_repo.recipients(conn, ids)
            consent = await outreach_repo.consent_states(conn, ids, campaign.channel, campaign.purpose)
            past = await outreach_repo.conversations_since(conn, ids, since)
            contacts = await outreach_repo.contacts_since(conn, ids, since)
            approvals = await outreach_repo.approvals_in_force(conn, ids, now)
            skipped: dict[str, list[str]] = {}  # reason -> customers: one UPDATE per reason
            chosen: list[tuple[Recipient, str]] = []
            for customer_id in ids:
                customer = people.get(customer_id)
                reason, address = _addressable(campaign, customer, consent.get(customer_id))
                if customer is not None and address is not None:
                    situation = situation_of(
                        customer,
                        past.get(customer_id, []),
                        contacts.get(customer_id, []),
                        self.zone,
                        approvals.get(customer_id, []),
                    )
                    proposed = Proposed(campaign.channel, campaign.purpose, campaign.department, None, now)
                    blocks = judge(policy, proposed, situation)
                    if blocks and all(b.kind == "quiet_hours" for b in blocks):
                        later = max(b.until for b in blocks if b.until is not None)
                        await repo.settle(conn, campaign.id, [customer_id], now, not_before=later)
                        continue
                    if not blocks:
                        chosen.append((customer, address))
                        continue
                    reason = f"policy: {blocks[0].rule}"
                skipped.setdefault(reason or "erased", []).append(customer_id)
            for reason, who in skipped.items():
                await repo.settle(conn, campaign.id, who, now, status="skipped", reason=reason)
            await self._send(conn, campaign, chosen, now)
        return len(ids)

    async def _send(
        self, conn: Any, campaign: Campaign, chosen: list[tuple[Recipient, str]], now: datetime
    ) -> None:
        """The campaign's message to each chosen recipient at their address: a closed
        conversation of the campaign with it (an answer reopens it), the outbox row, the
        contact the policy counts, the timeline's event; in bulk, in the chunk's transaction."""
        started: list[dict[str, Any]] = []
        contacts: list[dict[str, Any]] = []
        items: list[Outgoing] = []
        extras: list[tuple[str, str | None]] = []  # each one's language and unsubscribe token
        sent: list[dict[str, Any]] = []
        for customer, address in chosen:
            conv_id = str(uuid.uuid4())
            language, words = _words(campaign, customer)
            token = secrets.token_urlsafe(24) if campaign.channel == "email" else None
            link = f"{(self.public_url or '').rstrip('/')}/u/{token}" if token else None
            started.append(
                {
                    "id": conv_id,
                    "customer_id": customer.id,
                    "channel": campaign.channel,
                    "thread_key": f"started:{conv_id}" if campaign.channel == "email" else "default",
                    "status": "closed",  # nothing to do until the customer answers: then it reopens
                    "open_key": None,
                    "needs_routing": False,
                    "message_count": 1,
                    "opened_at": now,
                    "last_message_at": now,
                    "closed_at": now,
                    "first_response_at": now,
                    "route": {
                        "department": campaign.department,
                        "tags": ["campaign"],
                        "campaign": {"id": campaign.id, "name": campaign.name},
                        **({"transfer_queue": campaign.queue} if campaign.queue else {}),
                    },
                }
            )
            contacts.append(
                {
                    "id": str(uuid.uuid4()),
                    "customer_id": customer.id,
                    "channel": campaign.channel,
                    "purpose": campaign.purpose,
                    "department": campaign.department,
                    "actor": f"campaign:{campaign.id}",
                    "at": now,
                }
            )
            items.append(
                Outgoing(
                    conversation_id=conv_id,
                    customer_id=customer.id,
                    channel=campaign.channel,
                    text=_with_opt_out(words["text"], campaign.channel, language, link),
                    sender=campaign.sender,
                    recipient=address,
                    subject=words.get("subject"),
                    meta={
                        "purpose": campaign.purpose,
                        "department": campaign.department,
                        "campaign": campaign.id,
                    },
                    details={
                        "purpose": campaign.purpose,
                        **({"unsubscribe": link} if link else {}),
                        **({"template": words["template"]} if "template" in words else {}),
                    },
                )
            )
            extras.append((language, token))
        await outreach_repo.open_started(conn, started, contacts)
        message_ids = await store_outbound_many(conn, items, _sender(campaign), now)
        await search_index.refresh_conversations(conn, [str(c["id"]) for c in started])
        for conv, item, message_id, (_, token) in zip(started, items, message_ids, extras, strict=True):
            sent.append(
                {
                    "customer_id": item.customer_id,
                    "message_id": message_id,
                    "conversation_id": conv["id"],
                    "token_hash": hashlib.sha256(token.encode()).hexdigest() if token else None,
                }
            )
        await audit.record_many(
            conn,
            [
                {
                    "at": now,
                    "actor": f"campaign:{campaign.id}",
                    "action": "campaign.sent",
                    "subject_type": "conversation",
                    "subject_id": s["conversation_id"],
                    "customer_id": s["customer_id"],
                    "data": {
                        "name": campaign.name,
                        "channel": campaign.channel,
                        "purpose": campaign.purpose,
                        "message_id": s["message_id"],
                        "language": language,
                    },
                }
                for s, (language, _) in zip(sent, extras, strict=True)
            ],
        )
        await repo.settle_sent(conn, campaign.id, sent, now)

    async def unsubscribe(self, token: str) -> tuple[Campaign, str] | None:
        """The link's campaign and customer, their consent for its purpose on email
        withdrawn (once; again is harmless); None for an unknown link."""
        async with self.store.write() as conn:
            found = await repo.by_token(conn, hashlib.sha256(token.encode()).hexdigest())
            if found is None:
                return None
            campaign, customer_id = found
            await self.records.set_consent(
                conn,
                customer_id,
                campaign.channel,
                campaign.purpose,
                False,
                f"email:unsubscribe:{campaign.id}"[:100],
                f"campaign:{campaign.id}",
            )
        return found

    async def _get(self, conn: Any, campaign_id: str, lock: bool = False) -> Campaign:
        campaign = await repo.get(conn, campaign_id, lock=lock) if len(campaign_id) <= 36 else None
        if campaign is None:
            raise NotFound(f"no campaign with id {campaign_id[:40]}")
        return campaign

    async def _audit(
        self, conn: Any, who: Principal, action: str, campaign_id: str, data: dict[str, Any]
    ) -> None:
        await audit.record(
            conn,
            actor=who.actor,
            action=action,
            subject_type="campaign",
            subject_id=campaign_id,
            customer_id=None,
            data=data,
        )


def as_dict(c: Campaign) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "segment_id": c.segment_id,
        "channel": c.channel,
        "purpose": c.purpose,
        "department": c.department,
        "queue": c.queue,
        "texts": c.texts,
        "rate_per_minute": c.rate_per_minute,
        "status": c.status,
        "created_by": c.created_by,
        "created_at": iso(c.created_at),
        "started_at": iso(c.started_at) if c.started_at else None,
        "finished_at": iso(c.finished_at) if c.finished_at else None,
        "recipients": c.recipients,
    }


def _sender(campaign: Campaign) -> Principal:
    """Whom the messages are from on the record: the agent who made the campaign."""
    return Principal(
        agent_id=campaign.created_by, email="", name=f"Campaign: {campaign.name}", role=Role.SUPERVISOR
    )


def _addressable(
    campaign: Campaign, customer: Recipient | None, consent: tuple[bool, str] | None
) -> tuple[str | None, str | None]:
    """Why the customer cannot get the campaign (None: they can), and their address."""
    if customer is None:
        return "erased", None
    if consent is not None and not consent[0]:
        return "consent withdrawn", None
    if consent is None and (campaign.purpose != "service" or campaign.channel == "whatsapp"):
        return "no consent", None  # WhatsApp delivers only to those who opted in
    known = customer.addresses.get(ADDRESS_KIND.get(campaign.channel, campaign.channel), [])
    usable = [value for value, bounced in known if bounced is None]
    if not known:
        return "no address", None
    if not usable:
        return "address bounced", None
    return None, usable[0]


def _words(campaign: Campaign, customer: Recipient) -> tuple[str, Mapping[str, Any]]:
    """The recipient's language if the campaign has it, else the first one it has."""
    language = (customer.language or "")[:2]
    chosen = language if language in campaign.texts else next(iter(campaign.texts))
    return chosen, campaign.texts[chosen]


def _with_opt_out(text: str, channel: str, language: str, link: str | None) -> str:
    words = OPT_OUT[channel].get(language) or OPT_OUT[channel]["en"]
    return f"{text.rstrip()}\n\n{words.format(link=link)}" if words else text
