"""What the integration's batch upserts share (contracts, revenue periods): at most BATCH
items, each by its ``external_ref`` (once per batch), its customer named by
``customer_id`` or by an ``external`` identity (``customer_external_id``), and a result
per item, an item that cannot be stored being an error of its own while the others are
stored."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import HubError, InputError
from hub.store.repos import customers as customer_repo

BATCH = 1000
# stores one item of its customer: its status (created, updated, unchanged) and its id
StoreOne = Callable[[Mapping[str, Any], str], Awaitable[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class Upserted:
    """One item of a batch: ``created``, ``updated``, ``unchanged`` or ``error``."""

    index: int
    status: str
    id: str | None = None
    error: str | None = None
    field: str | None = None


async def upsert_each(
    conn: AsyncConnection, items: Sequence[Mapping[str, Any]], store_one: StoreOne
) -> list[Upserted]:
    if len(items) > BATCH:
        raise InputError(f"items: at most {BATCH} per request", field="items")
    owners = await customer_repo.by_external_id(
        conn, [str(item["customer_external_id"]) for item in items if item.get("customer_external_id")]
    )
    seen: set[str] = set()
    results = []
    for index, item in enumerate(items):
        try:
            ref = str(item["external_ref"])
            if ref in seen:
                raise InputError("external_ref: given twice in this batch", field="external_ref")
            seen.add(ref)
            status, row_id = await store_one(item, await _customer(conn, item, owners))
            results.append(Upserted(index, status, row_id))
        except HubError as exc:  # this item's own: the batch goes on
            results.append(Upserted(index, "error", error=str(exc), field=exc.field))
    return results


async def _customer(conn: AsyncConnection, item: Mapping[str, Any], owners: Mapping[str, str]) -> str:
    if item.get("customer_external_id"):
        found = owners.get(str(item["customer_external_id"]))
        if found is None:
            raise InputError(
                f"customer_external_id: no customer has the external id {item['customer_external_id']!r}",
                field="customer_external_id",
            )
        return found
    customer_id = str(item["customer_id"])
    if not await customer_repo.is_live(conn, customer_id):
        raise InputError(f"customer_id: no customer with id {customer_id}", field="customer_id")
    return customer_id


def another_customers(ref: str, what: str) -> InputError:
    return InputError(f"external_ref: {ref!r} is {what} of another customer", field="external_ref")
