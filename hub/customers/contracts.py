"""A customer's contracts: added, changed and removed by supervisors in the console, and
upserted in batches by an ERP or CRM through its external reference. Every change is an
event on the customer's timeline.

The notice deadline is the last day notice can be given: the end minus the notice
period. The customer panel shows the days left until it (negative once it passed).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.customers import audit
from hub.customers.batches import Upserted, another_customers, upsert_each
from hub.errors import Conflict, InputError, NotFound
from hub.store.repos import contracts as repo
from hub.store.repos import customers as customer_repo
from hub.store.repos.contracts import Contract


def notice_by(contract: Contract) -> date | None:
    """The last day notice can be given, when the contract has an end and a notice period."""
    if contract.ends_on is None or contract.notice_days is None:
        return None
    return contract.ends_on - timedelta(days=contract.notice_days)


def public(contract: Contract, today: date) -> dict[str, Any]:
    """A contract as the API shows it, with its notice deadline and the days left to it
    (while it is active)."""
    deadline = notice_by(contract)
    return {
        "id": contract.id,
        "customer_id": contract.customer_id,
        **{
            name: value.isoformat() if isinstance(value, date) else value
            for name, value in contract.fields().items()
        },
        "notice_by": deadline.isoformat() if deadline else None,
        "days_to_notice": (deadline - today).days if deadline and contract.status == "active" else None,
        "created_at": contract.created_at.isoformat(),
        "updated_at": contract.updated_at.isoformat(),
    }


def check(fields: Mapping[str, Any]) -> None:
    """What one field alone cannot say: the end is not before the start; a value has its
    currency."""
    starts, ends = fields.get("starts_on"), fields.get("ends_on")
    if starts is not None and ends is not None and ends < starts:
        raise InputError("ends_on: the contract ends before it starts", field="ends_on")
    if (fields.get("value") is None) != (fields.get("currency") is None):
        field = "currency" if fields.get("value") is not None else "value"
        raise InputError(f"{field}: a value needs its currency, and a currency its value", field=field)


async def add(
    conn: AsyncConnection, customer_id: str, fields: Mapping[str, Any], actor: str, now: datetime
) -> Contract:
    if not await customer_repo.is_live(conn, customer_id):
        raise NotFound(f"no customer with id {customer_id}")
    check(fields)
    await _refuse_taken(conn, fields.get("external_ref"))
    contract_id = str(uuid.uuid4())
    await repo.insert(conn, contract_id, customer_id, fields, now)
    contract = await _get(conn, contract_id)
    await _record(conn, "contract.added", contract, actor, _dated(fields))
    return contract


async def change(
    conn: AsyncConnection, contract_id: str, changes: Mapping[str, Any], actor: str, now: datetime
) -> Contract:
    before = await _get(conn, contract_id)
    check({**before.fields(), **changes})
    if changes.get("external_ref") is not None:
        await _refuse_taken(conn, changes["external_ref"], contract_id)
    changed = {name: value for name, value in changes.items() if getattr(before, name) != value}
    if not changed:
        return before
    await repo.update(conn, contract_id, changed, now)
    contract = await _get(conn, contract_id)
    await _record(conn, "contract.changed", contract, actor, _dated(changed))
    return contract


async def remove(conn: AsyncConnection, contract_id: str, actor: str) -> None:
    contract = await _get(conn, contract_id)
    await repo.delete(conn, contract_id)
    await _record(conn, "contract.removed", contract, actor, {"name": contract.name})


async def upsert(
    conn: AsyncConnection, items: Sequence[Mapping[str, Any]], actor: str, now: datetime
) -> list[Upserted]:
    """Each item by its ``external_ref`` (``hub.customers.batches``): created, changed
    where it differs, or left as it is."""
    known = await repo.by_refs(conn, [item["external_ref"] for item in items])

    async def store_one(item: Mapping[str, Any], customer_id: str) -> tuple[str, str]:
        ref = item["external_ref"]
        fields = {name: item[name] for name in repo.WRITABLE if name in item}
        existing = known.get(ref)
        if existing is None:
            contract = await add(conn, customer_id, {"status": "active", **fields}, actor, now)
            status = "created"
        elif existing.customer_id != customer_id:
            raise another_customers(ref, "a contract")
        else:
            contract = await change(conn, existing.id, fields, actor, now)
            status = "updated" if contract != existing else "unchanged"
        return status, contract.id

    return await upsert_each(conn, items, store_one)


async def _get(conn: AsyncConnection, contract_id: str) -> Contract:
    contract = await repo.get(conn, contract_id)
    if contract is None:
        raise NotFound(f"no contract with id {contract_id}")
    return contract


async def _refuse_taken(conn: AsyncConnection, ref: str | None, other_than: str | None = None) -> None:
    if ref is not None and await repo.ref_taken(conn, ref, other_than):
        raise Conflict(f"external_ref: another contract has the reference {ref!r}")


def _dated(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in fields.items()}


async def _record(
    conn: AsyncConnection, action: str, contract: Contract, actor: str, data: Mapping[str, Any]
) -> None:
    await audit.record(
        conn,
        actor=actor,
        action=action,
        subject_type="contract",
        subject_id=contract.id,
        customer_id=contract.customer_id,
        data={"name": contract.name, **data},
    )
