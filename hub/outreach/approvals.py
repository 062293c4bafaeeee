"""A key account manager's consent to others contacting their account.

The contact policy's ``key_accounts: manager`` leaves a key account to its manager. The
manager (or a supervisor, for them) may let others in: for one department, or any, for
one purpose, or any, for a number of days; and take it back. While an approval holds,
the rule lets those contacts pass (hub/outreach/policy.py, ``Consented``), from an agent
or a campaign alike. Granting and revoking are on the customer's timeline.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from hub.auth.sessions import Principal
from hub.auth.visibility import may_see_customer, scope_of
from hub.clock import Clock
from hub.customers import audit
from hub.errors import Conflict, Forbidden, NotFound
from hub.model import Role
from hub.routing.rules import RuleSet
from hub.store.engine import Store
from hub.store.repos import outreach as repo
from hub.store.times import iso

MAX_DAYS = 365


@dataclass(frozen=True, slots=True, kw_only=True)
class Grant:
    department: str | None  # None: any department
    purpose: str | None  # None: any purpose
    days: int
    note: str | None = None


@dataclass(slots=True)
class Approvals:
    store: Store
    clock: Clock
    rules: Callable[[], RuleSet]

    async def listing(self, who: Principal, customer_id: str) -> dict[str, Any]:
        now = self.clock()
        async with self.store.read() as conn:
            customer = await self._visible(conn, who, customer_id)
            found = await repo.approvals_of(conn, customer_id)
        return {
            "key_account": customer.key_account,
            "manager_id": customer.manager_id,
            "may_grant": _may_grant(who, customer),
            "items": [as_dict(a, now) for a in found],
        }

    async def grant(self, who: Principal, customer_id: str, grant: Grant) -> dict[str, Any]:
        now = self.clock()
        async with self.store.write() as conn:
            customer = await self._visible(conn, who, customer_id)
            if not customer.key_account:
                raise Conflict("the customer is not a key account: anyone may contact them already")
            if not _may_grant(who, customer):
                raise Forbidden("only the customer's key account manager (or a supervisor) consents for them")
            approval = repo.Approval(
                id=str(uuid.uuid4()),
                customer_id=customer_id,
                department=grant.department,
                purpose=grant.purpose,
                note=grant.note,
                granted_by=who.agent_id,
                granted_at=now,
                until=now + timedelta(days=grant.days),
                revoked_at=None,
            )
            await repo.add_approval(conn, asdict(approval))
            await audit.record(
                conn,
                actor=who.actor,
                action="contact_approval.granted",
                subject_type="customer",
                subject_id=customer_id,
                customer_id=customer_id,
                data={
                    "id": approval.id,
                    "department": grant.department,
                    "purpose": grant.purpose,
                    "until": iso(approval.until),
                },
                reason=grant.note,
                at=now,
            )
        return as_dict(approval, now)

    async def revoke(self, who: Principal, customer_id: str, approval_id: str) -> None:
        now = self.clock()
        async with self.store.write() as conn:
            customer = await self._visible(conn, who, customer_id)
            if not _may_grant(who, customer):
                raise Forbidden("only the customer's key account manager (or a supervisor) takes it back")
            if not await repo.revoke_approval(conn, customer_id, approval_id, now):
                raise NotFound(f"no approval {approval_id} in force for this customer")
            await audit.record(
                conn,
                actor=who.actor,
                action="contact_approval.revoked",
                subject_type="customer",
                subject_id=customer_id,
                customer_id=customer_id,
                data={"id": approval_id},
                at=now,
            )

    async def _visible(self, conn: Any, who: Principal, customer_id: str) -> repo.Recipient:
        await may_see_customer(conn, await scope_of(conn, who, self.rules()), customer_id)
        customer = await repo.recipient(conn, customer_id)
        if customer is None:
            raise NotFound(f"no customer {customer_id}")
        return customer


def _may_grant(who: Principal, customer: repo.Recipient) -> bool:
    return who.role != Role.AGENT or (customer.manager_id is not None and customer.manager_id == who.agent_id)


def as_dict(a: repo.Approval, now: Any) -> dict[str, Any]:
    return {
        "id": a.id,
        "department": a.department,
        "purpose": a.purpose,
        "note": a.note,
        "granted_by": a.granted_by,
        "granted_at": iso(a.granted_at),
        "until": iso(a.until),
        "revoked_at": iso(a.revoked_at) if a.revoked_at else None,
        "in_force": a.revoked_at is None and now < a.until,
    }
