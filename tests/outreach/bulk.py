"""A campaign of many recipients straight into a database, as ``Campaigns.start`` leaves
it (for the crash test and ``bench/campaign.py``): customers on the API channel (their
CRM id), of every ten some with marketing consent, some who withdrew it, the rest who
never said, interleaved."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hub.settings import Settings
from hub.store.engine import Store
from hub.store.tables import agents, campaign_recipients, campaigns, consents, customers, identities

BATCH = 5000


@dataclass(frozen=True)
class Population:
    total: int  # a multiple of ten
    consenting_tenths: int
    withdrawn_tenths: int

    def consent(self, n: int) -> bool | None:
        """The n-th customer's marketing consent on the API channel (None: never said)."""
        tenth = n % 10
        if tenth < self.consenting_tenths:
            return True
        return False if tenth < self.consenting_tenths + self.withdrawn_tenths else None

    @property
    def consenting(self) -> int:
        return self.total // 10 * self.consenting_tenths

    @property
    def withdrawn(self) -> int:
        return self.total // 10 * self.withdrawn_tenths

    @property
    def silent(self) -> int:
        return self.total - self.consenting - self.withdrawn


async def running_campaign(settings: Settings, people: Population, rate_per_minute: int = 600_000) -> str:
    """The customers and a running campaign to all of them; the campaign's id."""
    now = datetime.now(UTC)
    store = Store(settings.database)
    await store.migrate()
    campaign_id, agent_id = str(uuid.uuid4()), str(uuid.uuid4())
    try:
        async with store.write() as conn:
            await conn.execute(
                sa.insert(agents).values(
                    id=agent_id,
                    email=f"lead-{agent_id[:8]}@example.com",
                    name="Lea Lead",
                    role="supervisor",
                    password_hash=None,
                    presence="offline",
                    languages=["de"],
                    departments=["marketing"],
                    capacity={},
                    active=True,
                    created_at=now,
                )
            )
            await conn.execute(
                sa.insert(campaigns).values(
                    id=campaign_id,
                    name="Winter",
                    segment_id="seg",
                    channel="api",
                    purpose="marketing",
                    department="marketing",
                    texts={"de": {"text": "Unser Winterangebot."}},
                    rate_per_minute=rate_per_minute,
                    status="running",
                    created_by=agent_id,
                    created_at=now,
                    started_at=now,
                    recipients=people.total,
                )
            )
        for start in range(0, people.total, BATCH):
            rows: dict[Any, list[dict[str, Any]]] = {
                customers: [],
                identities: [],
                consents: [],
                campaign_recipients: [],
            }
            for n in range(start, min(start + BATCH, people.total)):
                cid = str(uuid.uuid4())
                rows[customers].append(
                    {
                        "id": cid,
                        "name": f"K{n}",
                        "tier": "standard",
                        "attributes": {},
                        "language": "de",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                rows[identities].append(
                    {
                        "customer_id": cid,
                        "kind": "external",
                        "value": f"crm-{campaign_id[:8]}-{n:06d}",
                        "created_at": now,
                    }
                )
                granted = people.consent(n)
                if granted is not None:
                    rows[consents].append(
                        {
                            "customer_id": cid,
                            "channel": "api",
                            "purpose": "marketing",
                            "granted": granted,
                            "source": "crm",
                            "updated_at": now - timedelta(days=1),
                        }
                    )
                rows[campaign_recipients].append(
                    {"campaign_id": campaign_id, "customer_id": cid, "status": "pending", "updated_at": now}
                )
            async with store.write() as conn:
                for table, values in rows.items():
                    await conn.execute(sa.insert(table), values)
    finally:
        await store.close()
    return campaign_id
