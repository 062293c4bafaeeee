"""The customer record: read, create, change, identities, tier pins, consent, search.

Every change that bears on the tier recomputes it (unless an admin pinned it) and keeps
the reason. Every read of a record is audited by the caller (``hub.web.customers``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.customers import audit, contracts
from hub.customers.tiers import TierRules
from hub.errors import Conflict, InputError, NotFound
from hub.model import AddressKind, Channel, Role
from hub.store import search_index
from hub.store.consents import replace_consent
from hub.store.repos import contracts as contract_repo
from hub.store.search_terms import prefix_match, replace_terms
from hub.store.tables import agents, consents, conversations, customers, identities, search_terms
from hub.store.times import iso
from hub.text.addresses import normalise_address
from hub.text.words import words_of_query

CHANNELS = tuple(c.value for c in Channel)
PURPOSES = ("service", "marketing")
# Fields in ``attributes`` (JSON); the rest of the record has columns of its own.
# ``revenue_trend`` and ``revenue_as_of`` are derived from revenue periods
# (hub/customers/revenue.py), never typed in
ATTRIBUTE_FIELDS = ("payment_terms", "revenue", "revenue_trend", "revenue_as_of", "custom", "time_zone")
# The key account and commercial fields: only supervisors and admins set them (and the
# contracts, which have routes of their own: hub/web/contracts.py).
SENSITIVE = frozenset({"key_account", "key_account_manager_id", "revenue", "payment_terms"})


def role_to_change(fields: Collection[str]) -> Role:
    """The least role that may set these fields of a record."""
    return Role.SUPERVISOR if SENSITIVE & set(fields) else Role.AGENT


async def load_customer(conn: AsyncConnection, customer_id: str) -> sa.Row[Any]:
    row = (await conn.execute(sa.select(customers).where(customers.c.id == customer_id))).one_or_none()
    if row is None or row.erased_at is not None:
        raise NotFound(f"no customer with id {customer_id}")
    return row


async def record_of(
    conn: AsyncConnection, customer_id: str, shown: sa.ColumnElement[bool] | None = None
) -> dict[str, Any]:
    """The whole record as the API shows it; of the recent conversations, those ``shown``
    allows (the caller's ``Scope.clause()``; all when None). The days to a contract's
    notice deadline count from today in UTC."""
    row = await load_customer(conn, customer_id)
    today = datetime.now(UTC).date()
    idents = (
        await conn.execute(
            sa.select(identities).where(identities.c.customer_id == customer_id).order_by(identities.c.id)
        )
    ).all()
    consent_rows = (
        await conn.execute(sa.select(consents).where(consents.c.customer_id == customer_id))
    ).all()
    recent = (
        await conn.execute(
            sa.select(conversations)
            .where(conversations.c.customer_id == customer_id, sa.true() if shown is None else shown)
            .order_by(conversations.c.last_message_at.desc())
            .limit(10)
        )
    ).all()
    return {
        "id": row.id,
        "name": row.name,
        "organisation": row.organisation,
        "language": row.language,
        "key_account": row.key_account,
        "key_account_manager_id": row.key_account_manager_id,
        "tier": row.tier,
        "tier_reason": row.tier_reason,
        "tier_pinned": row.tier_pinned,
        **{f: row.attributes.get(f) for f in ATTRIBUTE_FIELDS},
        "contracts": [contracts.public(c, today) for c in await contract_repo.of_customer(conn, customer_id)],
        "identities": [
            {"id": i.id, "kind": i.kind, "value": i.value, "undeliverable": i.undeliverable} for i in idents
        ],
        "consent": [
            {
                "channel": c.channel,
                "purpose": c.purpose,
                "granted": c.granted,
                "source": c.source,
                "updated_at": iso(c.updated_at),
            }
            for c in consent_rows
        ],
        "recent_conversations": [
            {
                "id": c.id,
                "channel": c.channel,
                "status": c.status,
                "message_count": c.message_count,
                "last_message_at": iso(c.last_message_at),
            }
            for c in recent
        ],
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


class CustomerRecords:
    def __init__(self, tiers: TierRules, default_region: str) -> None:
        self.tiers = tiers
        self.region = default_region

    def normalise(self, kind: str, value: str, field: str = "value") -> tuple[str, str]:
        try:
            address_kind = AddressKind(kind)
        except ValueError as exc:
            raise InputError(f"{field}: unknown identity kind {kind!r}", field=field) from exc
        if address_kind is AddressKind.API:
            raise InputError(f"{field}: use kind 'external' for ids of other systems", field=field)
        address = normalise_address(address_kind, value, default_region=self.region, field=field)
        return address.kind.value, address.value

    async def create(
        self, conn: AsyncConnection, fields: Mapping[str, Any], idents: list[tuple[str, str]], actor: str
    ) -> str:
        now = datetime.now(UTC)
        customer_id = str(uuid.uuid4())
        await conn.execute(
            sa.insert(customers).values(
                id=customer_id,
                name=None,
                tier=self.tiers.default,
                attributes={},
                created_at=now,
                updated_at=now,
            )
        )
        for kind, value in idents:
            await self.add_identity(conn, customer_id, kind, value, actor, audit_it=False)
        await audit.record(
            conn,
            actor=actor,
            action="customer.created",
            subject_type="customer",
            subject_id=customer_id,
            customer_id=customer_id,
        )
        await self.update(conn, customer_id, fields, actor)
        return customer_id

    async def update(
        self, conn: AsyncConnection, customer_id: str, changes: Mapping[str, Any], actor: str
    ) -> None:
        """Apply field changes (None clears a field); recompute the tier; record what changed."""
        row = await load_customer(conn, customer_id)
        values: dict[str, Any] = {}
        attributes = dict(row.attributes)
        for key, value in changes.items():
            if key in ATTRIBUTE_FIELDS:
                if value is None:
                    attributes.pop(key, None)
                else:
                    attributes[key] = value
            else:
                values[key] = value
        if "key_account_manager_id" in values and values["key_account_manager_id"] is not None:
            found = await conn.scalar(
                sa.select(agents.c.id).where(agents.c.id == values["key_account_manager_id"])
            )
            if found is None:
                raise InputError(
                    f"key_account_manager_id: no agent with id {values['key_account_manager_id']}",
                    field="key_account_manager_id",
                )
        values["attributes"] = attributes
        merged = {**row._mapping, **values}
        if not row.tier_pinned:
            try:
                inputs = self.tiers.inputs(
                    key_account=merged["key_account"],
                    attributes=attributes,
                    organisation=merged["organisation"],
                    language=merged["language"],
                )
            except InputError:
                if "revenue" in changes:
                    raise  # a figure given now, in a currency the rules cannot convert
                inputs = None  # stored before its rate was removed: the tier stays (as in retier)
            if inputs is not None:
                decision = self.tiers.decide(inputs)
                values["tier"] = decision.tier
                values["tier_reason"] = decision.reason
        values["updated_at"] = datetime.now(UTC)
        await conn.execute(sa.update(customers).where(customers.c.id == customer_id).values(**values))
        if "name" in values or "organisation" in values or "language" in values:
            await replace_terms(conn, customer_id, merged["name"], merged["organisation"])
            await search_index.refresh_customers(conn, [customer_id])
        changed = sorted(k for k in changes if changes[k] != _current(row, k))
        if changed:
            await audit.record(
                conn,
                actor=actor,
                action="customer.updated",
                subject_type="customer",
                subject_id=customer_id,
                customer_id=customer_id,
                data={"fields": changed},
            )
        if values.get("tier", row.tier) != row.tier:
            await audit.record(
                conn,
                actor=actor,
                action="tier.changed",
                subject_type="customer",
                subject_id=customer_id,
                customer_id=customer_id,
                data={"from": row.tier, "to": values["tier"], "reason": values["tier_reason"]},
            )

    async def add_identity(
        self,
        conn: AsyncConnection,
        customer_id: str,
        kind: str,
        value: str,
        actor: str,
        *,
        audit_it: bool = True,
    ) -> int:
        kind, value = self.normalise(kind, value)
        await load_customer(conn, customer_id)
        owner = await conn.scalar(
            sa.select(identities.c.customer_id).where(identities.c.kind == kind, identities.c.value == value)
        )
        if owner == customer_id:
            raise Conflict(f"this customer already has the {kind} identity")
        if owner is not None:
            raise Conflict(
                f"the {kind} identity belongs to customer {owner}; merge the two customers "
                f"(POST /api/v1/customers/{customer_id}/merge) to join them"
            )
        ident_id = (
            await conn.execute(
                sa.insert(identities)
                .values(customer_id=customer_id, kind=kind, value=value, created_at=datetime.now(UTC))
                .returning(identities.c.id)
            )
        ).scalar_one()
        await search_index.refresh_customers(conn, [customer_id])
        if audit_it:
            await audit.record(
                conn,
                actor=actor,
                action="identity.added",
                subject_type="identity",
                subject_id=str(ident_id),
                customer_id=customer_id,
                data={"kind": kind},
            )
        return int(ident_id)

    async def remove_identity(
        self, conn: AsyncConnection, customer_id: str, identity_id: int, actor: str
    ) -> None:
        result = await conn.execute(
            sa.delete(identities)
            .where(identities.c.id == identity_id, identities.c.customer_id == customer_id)
            .returning(identities.c.kind)
        )
        kind = result.scalar_one_or_none()
        if kind is None:
            raise NotFound(f"customer {customer_id} has no identity {identity_id}")
        await search_index.refresh_customers(conn, [customer_id])
        await audit.record(
            conn,
            actor=actor,
            action="identity.removed",
            subject_type="identity",
            subject_id=str(identity_id),
            customer_id=customer_id,
            data={"kind": kind},
        )

    async def pin_tier(
        self, conn: AsyncConnection, customer_id: str, tier: str | None, actor: str, reason: str | None
    ) -> None:
        row = await load_customer(conn, customer_id)
        if tier is not None and tier not in self.tiers.names:
            raise InputError(
                f"tier: unknown tier {tier!r}; known: {', '.join(self.tiers.names)}", field="tier"
            )
        if tier is None:  # unpin: the rules decide again
            await conn.execute(
                sa.update(customers).where(customers.c.id == customer_id).values(tier_pinned=False)
            )
            await self.update(conn, customer_id, {}, actor)
        else:
            await conn.execute(
                sa.update(customers)
                .where(customers.c.id == customer_id)
                .values(
                    tier=tier,
                    tier_pinned=True,
                    updated_at=datetime.now(UTC),
                    tier_reason={"pinned_by": actor, "why": reason},
                )
            )
        await audit.record(
            conn,
            actor=actor,
            action="tier.pinned" if tier else "tier.unpinned",
            subject_type="customer",
            subject_id=customer_id,
            customer_id=customer_id,
            data={"from": row.tier, "to": tier},
            reason=reason,
        )

    async def set_consent(
        self,
        conn: AsyncConnection,
        customer_id: str,
        channel: str,
        purpose: str,
        granted: bool,
        source: str,
        actor: str,
    ) -> None:
        """Record consent for a channel and purpose; an SMS STOP calls this with granted=False."""
        if channel not in CHANNELS:
            raise InputError(f"channel: one of {', '.join(CHANNELS)}", field="channel")
        if purpose not in PURPOSES:
            raise InputError(f"purpose: one of {', '.join(PURPOSES)}", field="purpose")
        await load_customer(conn, customer_id)
        now = datetime.now(UTC)
        await replace_consent(
            conn,
            customer_id=customer_id,
            channel=channel,
            purpose=purpose,
            granted=granted,
            source=source,
            now=now,
        )
        await audit.record(
            conn,
            actor=actor,
            action="consent.changed",
            subject_type="customer",
            subject_id=customer_id,
            customer_id=customer_id,
            data={"channel": channel, "purpose": purpose, "granted": granted, "source": source},
        )

    def _exact_identities(self, q: str) -> set[tuple[str, str]]:
        exact: set[tuple[str, str]] = {("external", q), ("chat_visitor", q)}
        if "@" in q:
            exact.add(("email", q.lower()))
        digits = sum(ch.isdigit() for ch in q)
        if digits >= 5 and digits >= len(q.replace(" ", "")) // 2:
            try:
                phone = normalise_address(AddressKind.PHONE, q, default_region=self.region).value
                exact |= {("phone", phone), ("fax", phone)}
            except InputError:
                pass
        return exact

    def matching(self, q: str, customer_id: Any) -> sa.ColumnElement[bool]:
        """A WHERE clause: the customer ``customer_id`` (a column) matches the search
        words ``q`` as ``search`` finds them (an identity or external id, or every word
        a prefix of their name or organisation), for the customer list's ``q``."""
        q = q.strip()
        if not q:
            raise InputError("q: give something to search for, or leave it out", field="q")
        ident = identities.alias("q_identity")
        exact = sa.or_(
            *[(ident.c.kind == k) & (ident.c.value == v) for k, v in sorted(self._exact_identities(q))]
        )
        parts: list[sa.ColumnElement[bool]] = [sa.exists().where(ident.c.customer_id == customer_id, exact)]
        words = words_of_query(q)
        if words:
            names = []
            for word in words:
                term = search_terms.alias()
                names.append(sa.exists().where(term.c.customer_id == customer_id, prefix_match(word, term)))
            parts.append(sa.and_(*names))
        return sa.or_(*parts)

    async def search(
        self,
        conn: AsyncConnection,
        q: str,
        limit: int,
        visible: Callable[[Any], sa.ColumnElement[bool]] | None = None,
    ) -> list[dict[str, Any]]:
        """By any identity (a phone number in any format), external id, or name and
        organisation word prefixes (every word of the query must match); only customers
        ``visible`` allows (given a customer id column: ``Scope.customer_clause``)."""
        shown = visible or (lambda _column: sa.true())
        q = q.strip()
        if not q:
            raise InputError("q: give something to search for", field="q")
        exact = self._exact_identities(q)
        # Each (kind, value) as its own equality: both databases answer from the unique index.
        match = sa.or_(*[(identities.c.kind == k) & (identities.c.value == v) for k, v in sorted(exact)])
        found: list[str] = list(
            (
                await conn.execute(
                    sa.select(identities.c.customer_id)
                    .where(match, shown(identities.c.customer_id))
                    .limit(limit)
                )
            ).scalars()
        )
        words = words_of_query(q)
        if words and not found:  # an exact identity hit is what was meant; else search names
            # Walk the longest word's prefix range and keep customers who also have every
            # other word: a correlated EXISTS per candidate (by customer_id) that stops at
            # `limit` hits, instead of materialising each word's whole range.
            first, *others = sorted(words, key=len, reverse=True)
            stmt = sa.select(search_terms.c.customer_id).where(
                prefix_match(first), shown(search_terms.c.customer_id)
            )
            for word in others:
                other = search_terms.alias()
                stmt = stmt.where(
                    sa.exists().where(
                        other.c.customer_id == search_terms.c.customer_id, prefix_match(word, other)
                    )
                )
            found = list(dict.fromkeys((await conn.execute(stmt.limit(limit * 4))).scalars()))
        found = found[:limit]
        if not found:
            return []
        rows = {
            r.id: r
            for r in await conn.execute(
                sa.select(customers.c.id, customers.c.name, customers.c.organisation, customers.c.tier).where(
                    customers.c.id.in_(found), customers.c.erased_at.is_(None)
                )
            )
        }
        return [
            {"id": r.id, "name": r.name, "organisation": r.organisation, "tier": r.tier}
            for cid in found
            if (r := rows.get(cid)) is not None
        ]


def _current(row: sa.Row[Any], key: str) -> Any:
    return row.attributes.get(key) if key in ATTRIBUTE_FIELDS else getattr(row, key)
