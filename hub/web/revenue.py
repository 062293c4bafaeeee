"""Revenue routes: a customer's revenue of the last 24 months (the panel's sparkline), and
the ERP's upsert of revenue periods by external reference with an API token of scope
``revenue:write``."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from hub.customers import revenue as service
from hub.customers.inputs import BookingIn
from hub.keys import RECORDS, STORE
from hub.request_body import json_response
from hub.routespec import RouteSpec
from hub.web.batches import CustomerItem, answer, read_items, schema
from hub.web.customers import visible_scope


class PeriodIn(CustomerItem, BookingIn):
    pass


async def customer_revenue(request: web.Request) -> web.Response:
    customer_id = request.match_info["id"]
    async with request.app[STORE].read() as conn:
        await visible_scope(conn, request, customer_id)
        found = await service.history(conn, customer_id, datetime.now(UTC).date(), request.app[RECORDS].tiers)
    return json_response(found or {"currency": None, "trend": None, "months": []})


async def upsert_revenue(request: web.Request) -> web.Response:
    count, valid, refused = await read_items(request, PeriodIn)
    items = [
        {**item.model_dump(), "month": datetime.strptime(item.month, "%Y-%m").date()} for _, item in valid
    ]
    async with request.app[STORE].write() as conn:
        done = await service.upsert(conn, request.app[RECORDS], items, datetime.now(UTC))
    return answer(count, [index for index, _ in valid], done, refused)


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
            request_schema=schema(PeriodIn),
            responses={
                200: "A result per item, in order, and the counts",
                401: "No valid token",
                403: "The token lacks the scope",
                422: "Not a list of 1 to 1,000 objects",
            },
        ),
    ]
