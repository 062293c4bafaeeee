"""Contract routes: a customer's contracts for whoever may see the customer; supervisors
and admins add, change and remove them; an ERP or CRM upserts them in batches by their
external reference with an API token of scope ``contracts:write``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from hub.customers import contracts as service
from hub.customers.inputs import ContractFields, ContractIn, ContractRecordIn
from hub.keys import STORE
from hub.request_body import json_response, read_json_object
from hub.routespec import RouteSpec
from hub.store.repos import contracts as repo
from hub.validation import validated
from hub.web.batches import CustomerItem, answer, read_items, schema
from hub.web.customers import visible_scope
from hub.web.middleware import AGENT, TOKEN


class UpsertItem(CustomerItem, ContractRecordIn):
    pass


def _fields(body: ContractFields) -> dict[str, Any]:
    return {name: getattr(body, name) for name in repo.WRITABLE if name in body.model_fields_set}


def _today() -> date:
    return datetime.now(UTC).date()


async def list_contracts(request: web.Request) -> web.Response:
    customer_id = request.match_info["id"]
    async with request.app[STORE].read() as conn:
        await visible_scope(conn, request, customer_id)
        found = await repo.of_customer(conn, customer_id)
    return json_response({"items": [service.public(c, _today()) for c in found]})


async def add_contract(request: web.Request) -> web.Response:
    body = validated(ContractIn, await read_json_object(request, 16_384))
    customer_id = request.match_info["id"]
    async with request.app[STORE].write() as conn:
        await visible_scope(conn, request, customer_id)
        fields = {**_fields(body), "name": body.name, "status": body.status}
        contract = await service.add(conn, customer_id, fields, request[AGENT].actor, datetime.now(UTC))
    return json_response(service.public(contract, _today()), status=201)


async def change_contract(request: web.Request) -> web.Response:
    body = validated(ContractFields, await read_json_object(request, 16_384))
    async with request.app[STORE].write() as conn:
        contract = await service.change(
            conn, request.match_info["id"], _fields(body), request[AGENT].actor, datetime.now(UTC)
        )
    return json_response(service.public(contract, _today()))


async def remove_contract(request: web.Request) -> web.Response:
    async with request.app[STORE].write() as conn:
        await service.remove(conn, request.match_info["id"], request[AGENT].actor)
    return web.Response(status=204)


async def upsert_contracts(request: web.Request) -> web.Response:
    count, valid, refused = await read_items(request, UpsertItem)
    items = [
        {
            **_fields(item),
            "name": item.name,
            "status": item.status,
            "external_ref": item.external_ref,
            "customer_id": item.customer_id,
            "customer_external_id": item.customer_external_id,
        }
        for _, item in valid
    ]
    async with request.app[STORE].write() as conn:
        done = await service.upsert(conn, items, f"token:{request[TOKEN].id}", datetime.now(UTC))
    return answer(count, [index for index, _ in valid], done, refused)


def contract_routes() -> list[RouteSpec]:
    common = {401: "Not signed in", 403: "Role too low"}
    one = "/api/v1/contracts/{id}"
    return [
        RouteSpec(
            "GET",
            "/api/v1/customers/{id}/contracts",
            list_contracts,
            "A customer's contracts, active first, with their notice deadlines",
            "agent",
            tag="customers",
            responses={200: "Contracts", 404: "No such customer", **common},
        ),
        RouteSpec(
            "POST",
            "/api/v1/customers/{id}/contracts",
            add_contract,
            "Add a contract to a customer",
            "supervisor",
            tag="customers",
            request_schema=ContractIn.model_json_schema(),
            responses={
                201: "Added",
                404: "No such customer",
                409: "External reference taken",
                422: "Invalid field",
                **common,
            },
        ),
        RouteSpec(
            "PATCH",
            one,
            change_contract,
            "Change a contract",
            "supervisor",
            tag="customers",
            request_schema=ContractFields.model_json_schema(),
            responses={
                200: "Changed",
                404: "No such contract",
                409: "External reference taken",
                422: "Invalid field",
                **common,
            },
        ),
        RouteSpec(
            "DELETE",
            one,
            remove_contract,
            "Remove a contract",
            "supervisor",
            tag="customers",
            responses={204: "Removed", 404: "No such contract", **common},
        ),
        RouteSpec(
            "PUT",
            "/api/v1/contracts",
            upsert_contracts,
            "Upsert up to 1,000 contracts by their external reference (API token, scope contracts:write);"
            " a result per item: created, updated, unchanged or error",
            "token",
            scope="contracts:write",
            tag="integration",
            request_schema=schema(UpsertItem),
            responses={
                200: "A result per item, in order, and the counts",
                401: "No valid token",
                403: "The token lacks the scope",
                422: "Not a list of 1 to 1,000 items",
            },
        ),
    ]
