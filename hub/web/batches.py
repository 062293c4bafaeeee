"""What the integration's batch routes share (PUT /api/v1/contracts, /api/v1/revenue):
the body (1 to BATCH objects), each item validated alone so that one bad item is one
error in the results, and the answer: a result per item, in order, and the counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from aiohttp import web
from pydantic import ConfigDict, Field

from hub.customers.batches import BATCH, Upserted
from hub.errors import InputError
from hub.request_body import json_response, read_json_object
from hub.validation import RequestModel, validated

STATUSES = ("created", "updated", "unchanged", "error")
BODY_LIMIT = 4 * 1024 * 1024
M = TypeVar("M", bound="CustomerItem")


class BatchIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    items: list[dict[str, Any]] = Field(min_length=1, max_length=BATCH)


class CustomerItem(RequestModel):
    """An item of a customer's, named by its id or by its external identity."""

    model_config = ConfigDict(extra="forbid")
    external_ref: str = Field(min_length=1, max_length=200, description="the ERP's or CRM's key")
    customer_id: str | None = Field(None, max_length=36)
    customer_external_id: str | None = Field(
        None, min_length=1, max_length=320, description="the customer's external identity"
    )


def schema(item: type[CustomerItem]) -> dict[str, Any]:
    """The OpenAPI schema of a batch of ``item``."""
    return {
        "type": "object",
        "properties": {
            "items": {"type": "array", "minItems": 1, "maxItems": BATCH, "items": item.model_json_schema()}
        },
        "required": ["items"],
        "additionalProperties": False,
    }


async def read_items(
    request: web.Request, model: type[M]
) -> tuple[int, list[tuple[int, M]], dict[int, dict[str, Any]]]:
    """The number of items, the valid ones by position, and the invalid ones' results."""
    body = validated(BatchIn, await read_json_object(request, BODY_LIMIT))
    valid: list[tuple[int, M]] = []
    refused: dict[int, dict[str, Any]] = {}
    for index, raw in enumerate(body.items):
        try:
            item = validated(model, raw)
            if (item.customer_id is None) == (item.customer_external_id is None):
                raise InputError(
                    "customer_id: name the customer by customer_id or by customer_external_id (one of them)",
                    field="customer_id",
                )
        except InputError as exc:
            refused[index] = _result(Upserted(index, "error", error=str(exc), field=exc.field))
            continue
        valid.append((index, item))
    return len(body.items), valid, refused


def answer(
    count: int, positions: Sequence[int], done: Sequence[Upserted], refused: dict[int, dict[str, Any]]
) -> web.Response:
    """The results in the items' order (``done`` in the order of ``positions``)."""
    results = {**refused, **{index: _result(r) for index, r in zip(positions, done, strict=True)}}
    items = [{**results[i], "index": i} for i in range(count)]
    return json_response({"items": items, **{s: sum(1 for r in items if r["status"] == s) for s in STATUSES}})


def _result(r: Upserted) -> dict[str, Any]:
    return {
        "index": r.index,
        "status": r.status,
        **({"id": r.id} if r.id else {}),
        **({"error": r.error, "field": r.field} if r.error else {}),
    }
