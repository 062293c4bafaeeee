"""Recompute every customer's tier after the tier rules changed (``contacthub retier``).

Pinned tiers stay. Each change is recorded as a ``tier.changed`` event with its reason.
A customer with a revenue figure in a currency the rules have no rate for keeps their
tier, and the run logs how many did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa

from hub.customers.tiers import TierRules
from hub.errors import InputError
from hub.store.bulk import insert_rows
from hub.store.engine import Store
from hub.store.tables import customers, events

BATCH = 2000
log = logging.getLogger("contacthub.tiers")


async def retier_all(store: Store, tiers: TierRules, progress: Callable[[int], None] | None = None) -> int:
    """Return how many customers changed tier."""
    changed = 0
    seen = 0
    unconverted: dict[str, str] = {}  # customer id -> why their revenue cannot be compared
    after = ""
    while True:
        async with store.write() as conn:
            rows = (
                await conn.execute(
                    sa.select(customers)
                    .where(customers.c.id > after, customers.c.erased_at.is_(None))
                    .order_by(customers.c.id)
                    .limit(BATCH)
                )
            ).all()
            if not rows:
                if unconverted:
                    first, why = next(iter(unconverted.items()))
                    log.warning(
                        "retier: %d customers keep their tier, their revenue cannot be converted"
                        " (customer %s: %s)",
                        len(unconverted),
                        first,
                        why,
                    )
                return changed
            after = rows[-1].id
            now = datetime.now(UTC)
            updates, notes = [], []
            for row in rows:
                if row.tier_pinned:
                    continue
                try:
                    inputs = tiers.inputs(
                        key_account=row.key_account,
                        attributes=row.attributes,
                        organisation=row.organisation,
                        language=row.language,
                    )
                except InputError as exc:
                    unconverted[row.id] = exc.detail
                    continue
                decision = tiers.decide(inputs)
                if decision.tier != row.tier:
                    updates.append({"cid": row.id, "tier": decision.tier, "tier_reason": decision.reason})
                    notes.append(
                        {
                            "at": now,
                            "actor": "system:retier",
                            "action": "tier.changed",
                            "subject_type": "customer",
                            "subject_id": row.id,
                            "customer_id": row.id,
                            "reason": "the tier rules changed",
                            "data": {"from": row.tier, "to": decision.tier, "reason": decision.reason},
                        }
                    )
            if updates:
                await conn.execute(
                    sa.update(customers)
                    .where(customers.c.id == sa.bindparam("cid"))
                    .values(tier=sa.bindparam("tier"), tier_reason=sa.bindparam("tier_reason")),
                    updates,
                )
                await insert_rows(conn, events, notes)
            changed += len(updates)
            seen += len(rows)
            if progress:
                progress(seen)
