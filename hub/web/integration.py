"""The integration API for an ERP or CRM, with API tokens by scope: customers upserted by
their external id (``customers:write``), a customer read by it (``customers:read``), and
the events since a cursor (``events:read``). Contracts and revenue have their own
modules (hub/web/contracts.py, hub/web/revenue.py). Every read is audited as the token's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import ConfigDict, Field

from hub.customers import audit
from hub.customers.importer import BATCH, CustomerImporter
from hub.customers.records import record_of
from hub.errors import InputError, NotFound
from hub.keys import RECORDS, STORE
from hub.request_body import int_query, json_response, read_json_object
from hub.routespec import TEXT, RouteSpec, limit
from hub.store.repos import customers as customer_repo
from hub.store.repos import event_feed
from hub.validation import RequestModel, validated
from hub.web.middleware import TOKEN


class UpsertIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    items: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=BATCH,
        description="customers as the JSON-lines import takes them, each with its external_id",
    )


def _actor(request: web.Request) -> str:
    return f"token:{request[TOKEN].id}"


async def upsert_customers(request: web.Request) -> web.Response:
    body = validated(UpsertIn, await read_json_object(request, 4 * 1024 * 1024))
    rows: list[tuple[int, dict[str, Any] | str]] = [
        (i, item if str(item.get("external_id") or "").strip() else "external_id: each customer needs it")
        for i, item in enumerate(body.items)
    ]
    importer = CustomerImporter(request.app[STORE], request.app[RECORDS])
    report = await importer.rows(rows, _actor(request), one_external_id=True)
    refused = {r["line"]: r["reason"] for r in report.rejected}
    items = []
    for index in range(len(body.items)):
        if index in refused:
            items.append({"index": index, "status": "error", "error": refused[index]})
        else:
            status, customer_id = report.outcomes[index]
            items.append({"index": index, "status": status, "id": customer_id})
    statuses = ("created", "updated", "unchanged", "error")
    return json_response({"items": items, **{s: sum(1 for r in items if r["status"] == s) for s in statuses}})


async def read_customer(request: web.Request) -> web.Response:
    external_id = request.match_info["external_id"].strip()
    async with request.app[STORE].write() as conn:
        found = await customer_repo.by_external_id(conn, [external_id])
        if external_id not in found:
            raise NotFound(f"no customer has the external id {external_id!r}")
        record = await record_of(conn, found[external_id])
        await audit.record(
            conn,
            actor=_actor(request),
            action="audit.read",
            subject_type="customer",
            subject_id=record["id"],
            customer_id=record["id"],
        )
    return json_response(record)


async def read_events(request: web.Request) -> web.Response:
    after = int_query(request, "after", 0, low=0)
    count = int_query(request, "limit", 100, top=1000)
    kinds = [k.strip() for k in request.query.get("actions", "").split(",") if k.strip()]
    if unknown := [k for k in kinds if k not in event_feed.FEED]:
        raise InputError(
            f"actions: {unknown[0]!r} is not one of {', '.join(event_feed.FEED)}", field="actions"
        )
    async with request.app[STORE].write() as conn:
        found = await event_feed.after(conn, after, datetime.now(UTC) - event_feed.SETTLE, count, kinds)
        if found:
            await audit.record(
                conn,
                actor=_actor(request),
                action="audit.read",
                subject_type="events",
                subject_id=f"{found[0].id}-{found[-1].id}",
                customer_id=None,
            )
    return json_response(
        {
            "items": [
                {
                    "id": ev.id,
                    "at": ev.at.isoformat(),
                    "action": ev.action,
                    "actor": ev.actor,
                    "subject_type": ev.subject_type,
                    "subject_id": ev.subject_id,
                    "customer_id": ev.customer_id,
                    "data": ev.data,
                }
                for ev in found
            ],
            "next_after": found[-1].id if found else after,
        }
    )


def integration_routes() -> list[RouteSpec]:
    refused = {401: "No valid token", 403: "The token lacks the scope"}
    return [
        RouteSpec(
            "PUT",
            "/api/v1/customers",
            upsert_customers,
            "Upsert up to 1,000 customers by their external id (API token, scope customers:write),"
            " with the fields and identities the JSON-lines import takes; a result per item",
            "token",
            scope="customers:write",
            tag="integration",
            request_schema=UpsertIn.model_json_schema(),
            responses={
                200: "A result per item, in order, and the counts",
                422: "Not 1 to 1,000 objects",
                **refused,
            },
        ),
        RouteSpec(
            "GET",
            "/api/v1/integration/customers/{external_id}",
            read_customer,
            "A customer's whole record, found by its external id (API token, scope customers:read)",
            "token",
            scope="customers:read",
            tag="integration",
            responses={200: "The record", 404: "No customer has it", **refused},
        ),
        RouteSpec(
            "GET",
            "/api/v1/integration/events",
            read_events,
            "What happened to conversations, messages and customers after an event id, oldest first"
            " (API token, scope events:read); an event appears once it is 10 s old",
            "token",
            scope="events:read",
            tag="integration",
            query={"after": {"type": "integer", "minimum": 0}, "limit": limit(1000), "actions": TEXT},
            responses={
                200: "Events and the cursor for the next call",
                400: "Bad number",
                422: "Bad actions",
                **refused,
            },
        ),
    ]
