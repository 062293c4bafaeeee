"""A small fixed set of customers for the customer list, segment and KAM tests, written
straight into the tables (as the record service, ingest and agents leave them).

| id | name        | tier     | key acct (KAM) | lang  | revenue_12m | contracts        | terms   | created |
|----|-------------|----------|----------------|-------|-------------|------------------|---------|---------|
| k1 | Anna Adler  | gold     | yes (agent)    | de    | 120000 EUR  | Premium, Support | 30 days | 01-10 |
| k2 | bernd Bauer | silver   | no             | en    | 50000 EUR   | Support          | 14 days | 02-01 |
| k3 | Carla Conti | standard | no             | de    | 9000 USD    | –                | –       | 03-01   |
| k4 | Dora Dietz  | standard | no             | de-AT | –           | –                | –       | 03-02   |
| k5 | (erased)    | standard | no             | de    | –           | –                | –       | 01-01   |

Contracts: k1 Premium ends 2026-06-30, Support has no end; k2 Support ends 2027-03-31,
and k2 also has a cancelled Premium (ended 2026-05-31).

Conversations (all held by an agent nobody else is teamed with, on a queue no target
serves, so the plain agent sees none of them: only k1, as its key account manager):

| conv | customer | status | opened → last message      | tags               | first response (due)  |
|------|----------|--------|----------------------------|--------------------|-----------------------|
| v1   | k1       | open   | 03-05 09:00 → 03-05 09:00  | complaint          | 09:10 (due 09:30) met |
| v2   | k1       | closed | 02-01 09:00 → 02-01 09:00  | –                  | 10:00 (due 09:30) late|
| v3   | k2       | closed | 02-20 09:00 → 02-20 09:00  | billing            | 09:05 (due 09:30) met |
| v4   | k4       | open   | 03-06 09:00 → 03-06 09:00  | complaint, billing | none                  |
| v5   | k4       | closed | 03-06 10:00 → 03-06 10:00  | –                  | 10:20 (due 10:30) met |

Consent: k1 email:marketing granted; k2 email:marketing refused, sms:service granted.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.search_terms import replace_terms
from hub.store.tables import agents, consents, contracts, conversations, customers, events

HOLDER = "agent-holder"


def day(month: int, dd: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(2026, month, dd, hh, mm, tzinfo=UTC)


def _customer(cid: str, name: str | None, tier: str, created: datetime, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": cid,
        "name": name,
        "organisation": None,
        "tier": tier,
        "attributes": {},
        "created_at": created,
        "updated_at": created,
        "key_account": False,
        "key_account_manager_id": None,
        "language": "de",
        "erased_at": None,
    }
    return {**row, **extra}


def _contract(cid: str, customer: str, name: str, status: str, ends: date | None) -> dict[str, Any]:
    return {
        "id": cid,
        "customer_id": customer,
        "name": name,
        "status": status,
        "ends_on": ends,
        "created_at": day(1, 1),
        "updated_at": day(1, 1),
    }


def _conversation(
    conv: str, cid: str, status: str, opened: datetime, tags: list[str], **extra: Any
) -> dict[str, Any]:
    return {
        "id": conv,
        "customer_id": cid,
        "channel": "email",
        "thread_key": conv,
        "status": status,
        "open_key": f"{cid}|email|{conv}" if status == "open" else None,
        "needs_routing": False,
        "message_count": 1,
        "opened_at": opened,
        "last_message_at": opened,
        "queue": "nowhere",
        "assignee_id": HOLDER,
        "route": {"tags": tags},
        **extra,
    }


async def write_population(conn: AsyncConnection, kam_id: str) -> None:
    await conn.execute(
        sa.insert(agents).values(
            id=HOLDER,
            email="holder@test.example",
            name="Holder",
            role="agent",
            presence="offline",
            languages=["de"],
            departments=[],
            capacity={},
            active=True,
            created_at=day(1, 1),
            teams=["holders"],
        )
    )
    rows = [
        _customer(
            "k1",
            "Anna Adler",
            "gold",
            day(1, 10),
            key_account=True,
            key_account_manager_id=kam_id,
            attributes={
                "revenue": {"revenue_12m": {"amount": 120000, "currency": "EUR"}},
                "payment_terms": "30 days",
            },
        ),
        _customer(
            "k2",
            "bernd Bauer",
            "silver",
            day(2, 1),
            language="en",
            attributes={
                "revenue": {"revenue_12m": {"amount": 50000, "currency": "EUR"}},
                "payment_terms": "14 days",
            },
        ),
        _customer(
            "k3",
            "Carla Conti",
            "standard",
            day(3, 1),
            attributes={"revenue": {"revenue_12m": {"amount": 9000, "currency": "USD"}}},
        ),
        _customer("k4", "Dora Dietz", "standard", day(3, 2), language="de-AT"),
        _customer("k5", None, "standard", day(1, 1), erased_at=day(3, 3)),
    ]
    await conn.execute(sa.insert(customers), rows)
    await conn.execute(
        sa.insert(contracts),
        [
            _contract("c1", "k1", "Premium", "active", date(2026, 6, 30)),
            _contract("c2", "k1", "Support", "active", None),
            _contract("c3", "k2", "Support", "active", date(2027, 3, 31)),
            _contract("c4", "k2", "Premium", "cancelled", date(2026, 5, 31)),
        ],
    )
    for row in rows[:4]:  # the name search's words
        await replace_terms(conn, row["id"], row["name"], None)
    convs = [
        _conversation(
            "v1",
            "k1",
            "open",
            day(3, 5, 9),
            ["complaint"],
            first_response_at=day(3, 5, 9, 10),
            first_response_due=day(3, 5, 9, 30),
        ),
        _conversation(
            "v2",
            "k1",
            "closed",
            day(2, 1, 9),
            [],
            first_response_at=day(2, 1, 10),
            first_response_due=day(2, 1, 9, 30),
            closed_at=day(2, 1, 11),
        ),
        _conversation(
            "v3",
            "k2",
            "closed",
            day(2, 20, 9),
            ["billing"],
            first_response_at=day(2, 20, 9, 5),
            first_response_due=day(2, 20, 9, 30),
            closed_at=day(2, 20, 10),
        ),
        _conversation("v4", "k4", "open", day(3, 6, 9), ["complaint", "billing"]),
        _conversation(
            "v5",
            "k4",
            "closed",
            day(3, 6, 10),
            [],
            first_response_at=day(3, 6, 10, 20),
            first_response_due=day(3, 6, 10, 30),
            closed_at=day(3, 6, 11),
        ),
    ]
    for row in convs:
        await conn.execute(sa.insert(conversations).values(**row))
    await conn.execute(
        sa.insert(consents),
        [
            {
                "customer_id": "k1",
                "channel": "email",
                "purpose": "marketing",
                "granted": True,
                "source": "t",
                "updated_at": day(1, 10),
            },
            {
                "customer_id": "k2",
                "channel": "email",
                "purpose": "marketing",
                "granted": False,
                "source": "t",
                "updated_at": day(2, 1),
            },
            {
                "customer_id": "k2",
                "channel": "sms",
                "purpose": "service",
                "granted": True,
                "source": "t",
                "updated_at": day(2, 1),
            },
        ],
    )
    # what the reports count of them: each conversation opened, and its first response
    for conv in convs:
        await conn.execute(
            sa.insert(events).values(
                at=conv["opened_at"],
                actor="system:ingest",
                action="conversation.opened",
                subject_type="conversation",
                subject_id=conv["id"],
                customer_id=conv["customer_id"],
                reason=None,
                data={},
            )
        )
        if conv.get("first_response_at"):
            await conn.execute(
                sa.insert(events).values(
                    at=conv["first_response_at"],
                    actor=f"agent:{HOLDER}",
                    action="message.replied",
                    subject_type="conversation",
                    subject_id=conv["id"],
                    customer_id=conv["customer_id"],
                    reason=None,
                    data={},
                )
            )
