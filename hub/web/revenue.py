"""Revenue routes: a customer's revenue of the last 24 months (the panel's sparkline), and
the ERP's upsert of revenue periods by external reference with an API token of scope
``revenue:write``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import ConfigDict, Field

from hub.customers import revenue as service
from hub.errors import InputError
from hub.keys import RECORDS, STORE
from hub.request_body import json_response, read_json_object
from hub.routespec import RouteSpec
from hub.validation import RequestModel, validated
from hub.web.customers import visible_scope

_MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


class PeriodIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    external_ref: str = Field(min_length=1, max_length=200, description="the ERP's key of this booking")
    customer_id: str | None = Field(None, max_length=36)
    customer_external_id: str | None = Field(
        None, min_length=1, max_length=320, description="the customer's external identity"
    )
    month: str = Field(pattern=_MONTH, description="YYYY-MM")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    amount: Annotated[float, Field(strict=True, ge=-1e15, le=1e15, allow_inf_nan=False)] = Field(
        description="booked in that month; a credit note is negative"
    )


class UpsertIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    items: list[dict[str, Any]] = Field(min_length=1, max_length=service.BATCH)


async def customer_revenue(request: web.Request) -> web.Response:
    customer_id = request.match_info["id"]
    async with request.app[STORE].read() as conn:
        await visible_scope(conn, request, customer_id)
        found = await service.history(conn, customer_id, datetime.now(UTC).date(), request.app[RECORDS].tiers)
    return json_response(found or {"currency": None, "trend": None, "months": []})


async def upsert_revenue(request: web.Request) -> web.Response:
    """Each item validated alone, so that one bad item is one error in the results."""
    body = validated(UpsertIn, await read_json_object(request, 4 * 1024 * 1024))
    valid: list[tuple[int, dict[str, Any]]] = []
    results: dict[int, dict[str, Any]] = {}
    for index, raw in enumerate(body.items):
        try:
            item = validated(PeriodIn, raw)
            if (item.customer_id is None) == (item.customer_external_id is None):
                raise InputError(
                    "customer_id: name the customer by customer_id or by customer_external_id (one of them)",
                    field="customer_id",
                )
        except InputError as exc:
            results[index] = {"index": index, "status": "error", "error": str(exc), "field": exc.field}
            continue
        month = datetime.strptime(item.month, "%Y-%m").date()
        valid.append((index, {**item.model_dump(), "month": month}))
    async with request.app[STORE].write() as conn:
        done = await service.upsert(
            conn, request.app[RECORDS], [item for _, item in valid], datetime.now(UTC)
        )
    for (index, _), result in zip(valid, done, strict=True):
        results[index] = {
            "index": index,
            "status": result.status,
            **({"id": result.id} if result.id else {}),
            **({"error": result.error, "field": result.field} if result.error else {}),
        }
    items = [results[i] for i in range(len(body.items))]
    statuses = ("created", "updated", "unchanged", "error")
    return json_response({"items": items, **{s: sum(1 for r in items if r["status"] == s) for s in statuses}})


def revenue_routes() -> list[RouteSpec]:
    return [
        RouteSpec(
            "GET",
            "/api/v1/customers/{id}/revenue",
            customer_revenue,
            "A customer's revenue per month over the last 24 complete months, with the trend",
            "agent",
            tag="customers",
            responses={200: "Months, oldest first", 401: "Not signed in", 404: "No such customer"},
        ),
        RouteSpec(
            "PUT",
            "/api/v1/revenue",
            upsert_revenue,
            "Upsert up to 1,000 revenue periods (customer, month, currency, amount) by their external"
            " reference (API token, scope revenue:write); a result per item",
            "token",
            scope="revenue:write",
            tag="integration",
            request_schema=UpsertIn.model_json_schema(),
            responses={
                200: "A result per item, in order, and the counts",
                401: "No valid token",
                403: "The token lacks the scope",
                422: "Not a list of 1 to 1,000 objects",
            },
        ),
    ]
