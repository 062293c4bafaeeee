"""Merging two customer records into one, and undoing it from the audit record.

Conflict rule (documented in the README): the surviving record (the one merged into)
keeps each value it has; the other record fills only the gaps. ``key_account`` is true if
either was. The other's contracts move to the survivor. For consent, a withdrawal on either side wins. Every
value the other record loses is kept in the ``customer.merged`` event, with the ids of
everything moved, so ``unmerge`` can put both records back as they were.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.customers import audit, revenue
from hub.customers.records import CustomerRecords, load_customer
from hub.errors import Conflict, InputError, NotFound
from hub.store import search_index
from hub.store.repos import contracts as contract_repo
from hub.store.repos import health as health_repo
from hub.store.repos import outreach as outreach_repo
from hub.store.repos import revenue as revenue_repo
from hub.store.search_terms import replace_terms
from hub.store.tables import (
    consents,
    conversations,
    customers,
    events,
    identities,
    messages,
    search_terms,
    widget_feed,
)

SCALARS = ("name", "organisation", "language", "key_account_manager_id")


def _row(row: sa.Row[Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row._mapping.items()}


def merged_values(target: dict[str, Any], other: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """What the surviving record becomes, and the fields where the other's value lost. Pure."""
    changes: dict[str, Any] = {}
    conflicts: list[str] = []
    for key in SCALARS:
        if target[key] is None and other[key] is not None:
            changes[key] = other[key]
        elif other[key] is not None and other[key] != target[key]:
            conflicts.append(key)
    if other["key_account"] and not target["key_account"]:
        changes["key_account"] = True
    t_attr, o_attr = target["attributes"], other["attributes"]
    for key in ("revenue", "custom"):
        mine, theirs = dict(t_attr.get(key) or {}), dict(o_attr.get(key) or {})
        conflicts += [f"{key}.{k}" for k in theirs if k in mine and mine[k] != theirs[k]]
        if any(k not in mine for k in theirs):
            changes[key] = {**theirs, **mine}
    if t_attr.get("payment_terms") is None and o_attr.get("payment_terms") is not None:
        changes["payment_terms"] = o_attr["payment_terms"]
    elif o_attr.get("payment_terms") not in (None, t_attr.get("payment_terms")):
        conflicts.append("payment_terms")
    return changes, sorted(conflicts)


async def merge(
    conn: AsyncConnection,
    records: CustomerRecords,
    target_id: str,
    other_id: str,
    actor: str,
    reason: str | None = None,
) -> int:
    if target_id == other_id:
        raise InputError("other_id: a customer cannot be merged with itself", field="other_id")
    target = _row(await load_customer(conn, target_id))
    other_row = await load_customer(conn, other_id)
    other = _row(other_row)
    moved_identities = [
        {"id": r.id, "kind": r.kind, "value": r.value}
        for r in await conn.execute(sa.select(identities).where(identities.c.customer_id == other_id))
    ]
    moved_convs = [
        {"id": r.id, "open_key": r.open_key}
        for r in await conn.execute(
            sa.select(conversations.c.id, conversations.c.open_key).where(
                conversations.c.customer_id == other_id
            )
        )
    ]
    moved_events = list(
        (await conn.execute(sa.select(events.c.id).where(events.c.customer_id == other_id))).scalars()
    )
    moved_contracts = [c.id for c in await contract_repo.of_customer(conn, other_id)]
    target_consents = [
        _row(r) for r in await conn.execute(sa.select(consents).where(consents.c.customer_id == target_id))
    ]
    other_consents = [
        _row(r) for r in await conn.execute(sa.select(consents).where(consents.c.customer_id == other_id))
    ]

    await conn.execute(
        sa.update(identities).where(identities.c.customer_id == other_id).values(customer_id=target_id)
    )
    for conv in moved_convs:
        open_key = None
        if conv["open_key"] is not None:
            candidate = target_id + conv["open_key"][len(other_id) :]
            taken = await conn.scalar(
                sa.select(conversations.c.id).where(conversations.c.open_key == candidate)
            )
            # the survivor's own open thread stays the one new messages join
            open_key = None if taken else candidate
        await conn.execute(
            sa.update(conversations)
            .where(conversations.c.id == conv["id"])
            .values(customer_id=target_id, open_key=open_key)
        )
    await conn.execute(
        sa.update(messages).where(messages.c.customer_id == other_id).values(customer_id=target_id)
    )
    await conn.execute(
        sa.update(events).where(events.c.customer_id == other_id).values(customer_id=target_id)
    )
    await outreach_repo.move_contacts(conn, other_id, target_id)  # the policy counts them for the survivor
    await conn.execute(  # the chat widget shows the survivor's history on either browser
        sa.update(widget_feed).where(widget_feed.c.customer_id == other_id).values(customer_id=target_id)
    )
    for consent in other_consents:
        mine = next(
            (
                c
                for c in target_consents
                if (c["channel"], c["purpose"]) == (consent["channel"], consent["purpose"])
            ),
            None,
        )
        if mine is None:
            await conn.execute(
                sa.update(consents)
                .where(
                    consents.c.customer_id == other_id,
                    consents.c.channel == consent["channel"],
                    consents.c.purpose == consent["purpose"],
                )
                .values(customer_id=target_id)
            )
        elif mine["granted"] and not consent["granted"]:  # a withdrawal wins
            await conn.execute(
                sa.update(consents)
                .where(
                    consents.c.customer_id == target_id,
                    consents.c.channel == consent["channel"],
                    consents.c.purpose == consent["purpose"],
                )
                .values(granted=False, source=consent["source"])
            )
    await contract_repo.move(conn, moved_contracts, target_id)
    moved_revenue = await revenue_repo.move(conn, other_id, target_id)
    await conn.execute(sa.delete(consents).where(consents.c.customer_id == other_id))
    await conn.execute(sa.delete(search_terms).where(search_terms.c.customer_id == other_id))
    await health_repo.forget_customer(conn, other_id)  # the survivor's is computed again (its events)
    await conn.execute(sa.delete(customers).where(customers.c.id == other_id))
    await search_index.move_documents(conn, target_id, customer_id=other_id)

    changes, conflicts = merged_values(target, other)
    await records.update(conn, target_id, changes, actor)
    if moved_revenue:  # the survivor's figures now count the other's periods too
        await revenue.rederive(conn, records, [target_id], datetime.now(UTC).date())
    await search_index.refresh_customers(conn, [target_id, other_id])
    return await audit.record(
        conn,
        actor=actor,
        action="customer.merged",
        subject_type="customer",
        subject_id=target_id,
        customer_id=target_id,
        reason=reason,
        data={
            "other_id": other_id,
            "rule": "survivor keeps its values; the other fills gaps",
            "conflicts": conflicts,
            "target_before": target,
            "other": other,
            "identities": moved_identities,
            "conversations": moved_convs,
            "events": moved_events,
            "contracts": moved_contracts,
            "revenue_periods": moved_revenue,
            "target_consents": target_consents,
            "other_consents": other_consents,
        },
    )


async def unmerge(
    conn: AsyncConnection,
    records: CustomerRecords,
    target_id: str,
    merge_event_id: int,
    actor: str,
    reason: str | None = None,
) -> str:
    event = (await conn.execute(sa.select(events).where(events.c.id == merge_event_id))).one_or_none()
    if event is None or event.action != "customer.merged" or event.customer_id != target_id:
        raise NotFound(f"customer {target_id} has no merge event {merge_event_id}")
    undone = await conn.scalar(
        sa.select(events.c.id).where(
            events.c.action == "customer.unmerged", events.c.subject_id == str(merge_event_id)
        )
    )
    if undone is not None:
        raise Conflict(f"merge {merge_event_id} was already undone (event {undone})")
    data = event.data
    other = dict(data["other"])
    other_id = other["id"]
    for key in ("created_at", "updated_at", "erased_at"):
        if other.get(key):
            other[key] = datetime.fromisoformat(other[key])
    await conn.execute(sa.insert(customers).values(**other))
    await conn.execute(
        sa.update(identities)
        .where(
            identities.c.id.in_([i["id"] for i in data["identities"]]), identities.c.customer_id == target_id
        )
        .values(customer_id=other_id)
    )
    conv_ids = [c["id"] for c in data["conversations"]]
    for conv in data["conversations"]:
        taken = conv["open_key"] and await conn.scalar(
            sa.select(conversations.c.id).where(conversations.c.open_key == conv["open_key"])
        )
        await conn.execute(
            sa.update(conversations)
            .where(conversations.c.id == conv["id"])
            .values(customer_id=other_id, open_key=None if taken else conv["open_key"])
        )
    await conn.execute(
        sa.update(messages).where(messages.c.conversation_id.in_(conv_ids)).values(customer_id=other_id)
    )
    await conn.execute(sa.update(events).where(events.c.id.in_(data["events"])).values(customer_id=other_id))
    await outreach_repo.return_contacts(conn, conv_ids, other_id)
    await contract_repo.move(conn, data.get("contracts", []), other_id)  # none in merges before 0022
    await revenue_repo.reassign(conn, data.get("revenue_periods", []), other_id)  # nor before 0023
    await conn.execute(sa.delete(consents).where(consents.c.customer_id.in_([target_id, other_id])))
    for consent in [*data["target_consents"], *data["other_consents"]]:
        await conn.execute(
            sa.insert(consents).values(
                **{**consent, "updated_at": datetime.fromisoformat(consent["updated_at"])}
            )
        )
    before = data["target_before"]
    await conn.execute(
        sa.update(customers)
        .where(customers.c.id == target_id)
        .values(
            **{
                k: before[k]
                for k in (
                    *("name", "organisation", "language", "key_account_manager_id"),
                    "key_account",
                    "attributes",
                    "tier",
                    "tier_reason",
                    "tier_pinned",
                )
            },
            updated_at=datetime.now(UTC),
        )
    )
    if data.get("revenue_periods"):  # both records' figures from their own periods again
        await revenue.rederive(conn, records, [target_id, other_id], datetime.now(UTC).date())
    await replace_terms(conn, target_id, before["name"], before["organisation"])
    await replace_terms(conn, other_id, other["name"], other["organisation"])
    await search_index.move_documents(conn, other_id, conversation_ids=conv_ids)
    await search_index.refresh_customers(conn, [target_id, other_id])
    for customer_id, details in ((target_id, {"other_id": other_id}), (other_id, {"from_id": target_id})):
        await audit.record(
            conn,
            actor=actor,
            action="customer.unmerged",
            subject_type="merge",
            subject_id=str(merge_event_id),
            customer_id=customer_id,
            reason=reason,
            data=details,
        )
    return str(other_id)
