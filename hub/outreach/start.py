"""An agent starts a conversation: email (a subject, the mailbox to send from), SMS, the
API channel, fax (a PDF), or a callback task for phone (the number to call, in the
agent's inbox or on a queue).

In one transaction: the caller may see the customer (the one visibility rule); the
channel has a connector and an address of the customer; consent holds for the purpose
(service unless withdrawn; marketing only when granted); the contact policy lets it go,
or a supervisor sends despite it with a reason (audited); then the conversation (held by
the agent), its first message, the outbox row and the contact the policy counts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_zones
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth.sessions import Principal
from hub.auth.visibility import may_see_customer, no_customer, scope_of
from hub.clock import Clock
from hub.customers import audit
from hub.dispatch import actions as agent_actions
from hub.dispatch.inbox import Inbox, notify
from hub.errors import Conflict, Forbidden, InputError
from hub.model import Attachment, Role
from hub.outbox import whatsapp
from hub.outbox.replies import ADDRESS_KIND, InStore, Outgoing, check_channel, consent, store_outbound
from hub.outreach.config import ContactPolicyConfig
from hub.outreach.policy import (
    DEFAULT_DEPARTMENT,
    Block,
    Consented,
    ConversationFact,
    Proposed,
    Situation,
    judge,
)
from hub.routing.rules import RuleSet
from hub.store import search_index
from hub.store.engine import Store
from hub.store.ingest_batch import open_key
from hub.store.repos import outreach as repo
from hub.store.repos.outreach import PastConversation, Recipient
from hub.store.threads import conversation_ref
from hub.store.times import iso

CALLBACK = "voice"  # a callback task: nothing is sent; the agent calls


class PolicyBlocked(Conflict):
    """409 with every rule that blocks (``errors``: its name, kind, words, the conversation
    it conflicts with and when it ends by itself)."""

    slug = "contact-policy"
    title = "Blocked by the contact policy"

    def __init__(self, blocks: Sequence[Block]) -> None:
        super().__init__("; ".join(b.message for b in blocks))
        self.errors = [b.as_dict() for b in blocks]


@dataclass(frozen=True, slots=True, kw_only=True)
class Start:
    customer_id: str
    channel: str
    purpose: str = "service"
    department: str | None = None  # default: the agent's first department
    text: str = ""
    subject: str | None = None
    sender: str | None = None  # our address to send from (email: a mailbox's), checked by the caller
    to: str | None = None  # which of the customer's addresses; default: the first one
    queue: str | None = None  # a callback task: the queue it waits on (default: the agent's inbox)
    override: str | None = None  # a supervisor's reason for sending despite the policy
    files: Sequence[Attachment] = field(default_factory=tuple)
    template: whatsapp.Filled | None = None  # WhatsApp: a registered template, filled


@dataclass(slots=True)
class Outreach:
    store: Store
    policy: ContactPolicyConfig
    clock: Clock
    rules: Callable[[], RuleSet]
    inbox: Inbox
    zone: ZoneInfo  # the hub's: quiet hours for a customer whose own zone is unknown
    senders: Callable[[], Collection[str]]  # the channels a connector sends on
    file_channels: Callable[[], Collection[str]]
    in_store: Mapping[str, InStore] = field(default_factory=dict)

    async def check(self, who: Principal, start: Start) -> list[Block]:
        """What the contact policy says to this contact now (for the composer, before writing)."""
        async with self.store.read() as conn:
            await may_see_customer(conn, await scope_of(conn, who, self.rules()), start.customer_id)
            customer = await _recipient(conn, start.customer_id)
            department = await _department(conn, who, start.department)
            return await self._judge(conn, who, customer, start, department, self.clock())

    async def start(self, who: Principal, start: Start) -> dict[str, Any]:
        callback = start.channel == CALLBACK
        if not callback:
            check_channel("messages", start.channel, self.senders(), bool(start.files), self.file_channels())
            start = _with_template(start)
            if not start.text.strip() and not start.files:
                raise InputError("text: write something to send", field="text")
        if start.channel == "email" and not (start.subject or "").strip():
            raise InputError("subject: an email needs a subject", field="subject")
        if start.override is not None and who.role == Role.AGENT:
            raise Forbidden("only a supervisor may send despite the contact policy")
        now = self.clock()
        async with self.store.write() as conn:
            await may_see_customer(conn, await scope_of(conn, who, self.rules()), start.customer_id)
            customer = await _recipient(conn, start.customer_id)
            department = await _department(conn, who, start.department)
            recipient = _address(customer, start.channel, start.to)
            await _check_consent(conn, customer.id, start.channel, start.purpose)
            if start.channel == whatsapp.CHANNEL:
                whatsapp.check_window(await whatsapp.last_message(conn, customer.id), now, start.template)
            blocks = await self._judge(conn, who, customer, start, department, now)
            if blocks and start.override is None:
                raise PolicyBlocked(blocks)
            conv_id = str(uuid.uuid4())
            thread = _thread_key(start.channel, conv_id)
            key = open_key(customer.id, start.channel, thread)
            if (taken := await repo.open_conversation(conn, key)) is not None:
                ref = conversation_ref(taken[0])
                raise Conflict(
                    f"a {start.channel} conversation with this customer is open (#{ref} since"
                    f" {taken[1]:%Y-%m-%d %H:%M} UTC): write there"
                )
            route = {"department": department, "outbound": {"purpose": start.purpose, "by": who.agent_id}}
            opened = await repo.open_started(
                conn,
                [
                    {
                        "id": conv_id,
                        "customer_id": customer.id,
                        "channel": start.channel,
                        "thread_key": thread,
                        "status": "open",
                        "open_key": key,
                        "needs_routing": False,
                        "message_count": 0 if callback else 1,
                        "opened_at": now,
                        "last_message_at": now,
                        "assignee_id": who.agent_id,
                        "assigned_at": now,
                        "route": route,
                        "first_response_at": None if callback else now,  # we spoke first
                    }
                ],
                [
                    {
                        "id": str(uuid.uuid4()),
                        "customer_id": customer.id,
                        "channel": start.channel,
                        "purpose": start.purpose,
                        "department": department,
                        "actor": who.actor,
                        "at": now,
                        "overridden": start.override if blocks else None,
                    }
                ],
            )
            if conv_id not in opened:  # another start on the thread, a moment ago
                raise Conflict(
                    f"a {start.channel} conversation with this customer was opened just now: write there"
                )
            message_id, delivered = None, None
            if not callback:
                item = Outgoing(
                    conversation_id=conv_id,
                    customer_id=customer.id,
                    channel=start.channel,
                    text=start.text,
                    sender=start.sender,
                    recipient=recipient,
                    subject=start.subject.strip() if start.subject else None,
                    meta={"purpose": start.purpose, "department": department}
                    | ({"template": start.template.name} if start.template else {}),
                    details={"purpose": start.purpose}
                    | ({"template": start.template.details()} if start.template else {}),
                )
                message_id, delivered = await store_outbound(conn, item, who, now, start.files, self.in_store)
            await search_index.refresh_conversations(conn, [conv_id])
            data = {
                "channel": start.channel,
                "department": department,
                "purpose": start.purpose,
                "agent_id": who.agent_id,
            }
            await audit.record(
                conn,
                actor=who.actor,
                action="conversation.callback_task" if callback else "conversation.started",
                subject_type="conversation",
                subject_id=conv_id,
                customer_id=customer.id,
                data={**data, "to": recipient, "text": start.text.strip()}
                if callback
                else {**data, "message_id": message_id},
                at=now,
            )
            if blocks:
                await audit.record(
                    conn,
                    actor=who.actor,
                    action="contact_policy.overridden",
                    subject_type="conversation",
                    subject_id=conv_id,
                    customer_id=customer.id,
                    data={
                        **data,
                        "rules": [b.rule for b in blocks],
                        "blocks": [b.message for b in blocks],
                        "text": start.override,
                    },
                    reason=start.override,
                    at=now,
                )
        if delivered is not None:
            delivered[1]()
        await notify(self.inbox, conversations=[conv_id], agents=[who.agent_id])
        if callback and start.queue:
            await agent_actions.transfer(
                self.store, self.rules(), conv_id, who, self.clock, start.queue, None
            )
        return {
            "id": conv_id,
            "channel": start.channel,
            "message_id": message_id,
            "to": recipient,
            "department": department,
            "purpose": start.purpose,
            "overridden": [b.as_dict() for b in blocks],
            "at": iso(now),
        }

    async def _judge(
        self,
        conn: AsyncConnection,
        who: Principal,
        customer: Recipient,
        start: Start,
        department: str,
        now: datetime,
    ) -> list[Block]:
        policy = self.policy.policy
        since = now - timedelta(days=policy.lookback_days())
        past = (await repo.conversations_since(conn, [customer.id], since)).get(customer.id, [])
        contacts = (await repo.contacts_since(conn, [customer.id], since)).get(customer.id, [])
        approvals = (await repo.approvals_in_force(conn, [customer.id], now)).get(customer.id, [])
        situation = situation_of(customer, past, contacts, self.zone, approvals)
        proposed = Proposed(
            channel=start.channel,
            purpose=start.purpose,
            department=department,
            sender_id=who.agent_id,
            at=now,
        )
        return judge(policy, proposed, situation)


def situation_of(
    customer: Recipient,
    past: Sequence[PastConversation],
    contacts: Sequence[tuple[datetime, str]],
    zone: ZoneInfo,
    approvals: Sequence[repo.Approval] = (),
) -> Situation:
    """What the contact policy judges a contact with ``customer`` by (``zone``: the hub's;
    ``approvals``: their key account manager's, in force)."""
    return Situation(
        zone=customer_zone(customer, zone),
        key_account=customer.key_account,
        manager_id=customer.manager_id,
        manager_name=customer.manager_name,
        open=[_fact(p) for p in past if p.closed_at is None],
        closed=[_fact(p) for p in past if p.closed_at is not None],
        contacts=contacts,
        consented=[Consented(a.department, a.purpose, a.until) for a in approvals],
    )


def customer_zone(customer: Recipient, default: ZoneInfo) -> ZoneInfo:
    """The customer's time zone: the one their record names (``time_zone``), else
    the one their phone numbers share (a number of one country with one zone), else ``default``."""
    named = customer.attributes.get("time_zone")
    if isinstance(named, str):
        try:
            return ZoneInfo(named)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    zones: set[str] = set()
    for number, _ in customer.addresses.get("phone", []):
        try:
            zones.update(phone_zones.time_zones_for_number(phonenumbers.parse(number)))
        except phonenumbers.NumberParseException:
            continue
    zones.discard(phone_zones.UNKNOWN_TIMEZONE)
    if len(zones) == 1:
        try:
            return ZoneInfo(zones.pop())
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return default


def _fact(conv: PastConversation) -> ConversationFact:
    tags = conv.route.get("tags")
    return ConversationFact(
        id=conv.id,
        department=str(conv.route.get("department") or DEFAULT_DEPARTMENT),
        tags=frozenset(str(t) for t in tags) if isinstance(tags, list) else frozenset(),
        opened_at=conv.opened_at,
        closed_at=conv.closed_at,
    )


def _thread_key(channel: str, conv_id: str) -> str:
    """Email threads by our Message-ID (the customer's answer references it), a callback
    is a task of its own; other channels have one open conversation per customer."""
    return f"started:{conv_id}" if channel in ("email", CALLBACK) else "default"


async def _recipient(conn: AsyncConnection, customer_id: str) -> Recipient:
    customer = await repo.recipient(conn, customer_id)
    if customer is None:  # unknown (a supervisor's scope lets any id through) or erased
        raise no_customer(customer_id)
    return customer


async def _department(conn: AsyncConnection, who: Principal, asked: str | None) -> str:
    """The department the contact is made for: one of the agent's (any, for a supervisor)."""
    mine = await repo.agent_departments(conn, who.agent_id)
    if asked is None:
        return mine[0] if mine else DEFAULT_DEPARTMENT
    if who.role == Role.AGENT and mine and asked not in mine:
        raise InputError(f"department: you speak for {', '.join(mine)}, not {asked}", field="department")
    return asked


def _address(customer: Recipient, channel: str, wanted: str | None) -> str:
    kind = ADDRESS_KIND.get(channel, channel)
    known = customer.addresses.get(kind, [])
    if wanted is not None:
        found = next((a for a in known if a[0] == wanted), None)
        if found is None:
            raise InputError(f"to: {wanted} is not one of the customer's {kind} addresses", field="to")
    elif not known:
        raise InputError(f"channel: the customer has no {kind} address for {channel}", field="channel")
    else:
        found = next((a for a in known if a[1] is None), known[0])
    if found[1] is not None and channel == "email":
        raise Conflict(f"mail to {found[0]} cannot be delivered ({found[1]}); use another address or channel")
    return found[0]


def _with_template(start: Start) -> Start:
    """A WhatsApp template's text becomes the message's; InputError where it does not fit."""
    if start.template is None:
        return start
    if start.channel != whatsapp.CHANNEL:
        raise InputError(f"template: templates are WhatsApp's, not {start.channel}'s", field="template")
    if start.text.strip():
        raise InputError("text: send either text or a template, not both", field="text")
    if start.template.purpose == "marketing" and start.purpose != "marketing":
        raise InputError(
            f"template: {start.template.name} is a marketing template; send it with purpose marketing",
            field="template",
        )
    return replace(start, text=start.template.text)


async def _check_consent(conn: AsyncConnection, customer_id: str, channel: str, purpose: str) -> None:
    """Service goes unless withdrawn; marketing, and anything the hub starts on WhatsApp
    (which delivers only to those who opted in), needs consent on record."""
    state = await consent(conn, customer_id, channel, purpose)
    if state is not None and not state[0]:
        raise Conflict(f"the customer withdrew consent for {purpose} on {channel} ({state[1]})")
    if (purpose != "service" or channel == whatsapp.CHANNEL) and state is None:
        raise Conflict(
            f"the customer has not consented to {purpose} on {channel}; record their consent first"
        )
