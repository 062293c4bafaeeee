"""Routing rules routes: read, replace (YAML or JSON), validate a draft, versions with
their diffs, rollback, simulate."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import yaml
from aiohttp import web
from pydantic import ConfigDict, Field

from hub.customers.records import load_customer
from hub.dispatch.facts import customer_facts, load_floor, message_facts
from hub.keys import CLOCK, ROUTING, STORE
from hub.request_body import json_response, read_json_object
from hub.routespec import TEXT, RouteSpec
from hub.routing.decide import explain
from hub.routing.types import WaitingConversation
from hub.validation import NULLABLE, RequestModel, validated
from hub.web.versions import MAX_RULES_BYTES, diff, draft_errors, rules_text, save_version, version_routes


async def get_rules(request: web.Request) -> web.Response:
    config = request.app[ROUTING]
    if "yaml" in request.headers.get("Accept", ""):
        return web.Response(text=config.text, content_type="application/yaml")
    return json_response(
        {"version": config.version, "text": config.text, "rules": yaml.safe_load(config.text)}
    )


async def put_rules(request: web.Request) -> web.Response:
    text = await rules_text(request)
    comment = request.headers.get("X-Change-Comment")
    config = request.app[ROUTING]
    version = await save_version(request, config, text, "routing.rules_saved", "routing_rules", comment)
    return json_response({"version": version})


async def validate_draft(request: web.Request) -> web.Response:
    """Check a draft without saving it: 200 with ``valid`` and, if not, the errors with
    the path and position an editor marks; the diff against the live rules either way."""
    text = await rules_text(request)
    config = request.app[ROUTING]
    errors = draft_errors(lambda draft: config.parse(draft, "draft"), text)
    return json_response(
        {
            "valid": not errors,
            "errors": errors,
            "live_version": config.version,
            "diff": diff(config.text, text, f"version {config.version} (live)", "draft"),
        }
    )


class SimCustomer(RequestModel):
    model_config = ConfigDict(extra="forbid")
    id: Annotated[str | None, NULLABLE] = Field(
        None, description="an existing customer; the other fields are then ignored"
    )
    tier: str = "standard"
    key_account: bool = False
    revenue_12m: float = 0
    organisation: str = ""
    language: str = ""


class SimulateIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    customer: SimCustomer = Field(default_factory=SimCustomer)
    channel: Literal["email", "sms", "whatsapp", "voice", "fax", "chat", "api"]
    text: str = ""
    subject: str = ""
    language: str = ""
    department: str = ""
    priority: Literal["high", "normal", "low"] = "normal"
    rules: Annotated[str | None, NULLABLE] = Field(
        None, description="draft rules (YAML) to try instead of the live ones"
    )
    at: Annotated[datetime | None, NULLABLE] = Field(None, description="when to simulate (default: now)")


async def simulate(request: web.Request) -> web.Response:
    body = validated(SimulateIn, await read_json_object(request, MAX_RULES_BYTES))
    config = request.app[ROUTING]
    rules = config.parse(body.rules, "draft") if body.rules is not None else config.rules
    customer: dict[str, Any] = body.customer.model_dump(exclude={"id"})
    kam = None
    today = request.app[CLOCK]()
    async with request.app[STORE].read() as conn:
        if body.customer.id:
            row = await load_customer(conn, body.customer.id)
            customer = {"tier": row.tier, **customer_facts(row)}
            kam = row.key_account_manager_id
        floor = await load_floor(conn, today)  # the load now, whenever ``at`` is
    now = body.at or today
    # what live routing reads of a first message, built by the same function
    facts = message_facts(
        subject=body.subject,
        text=body.text,
        recipient=None,
        meta={"language": body.language, "department": body.department},
        customer_language=str(customer.get("language", "")),
    )
    conv = WaitingConversation(
        id="simulation",
        channel=body.channel,
        tier=str(customer.pop("tier")),
        arrived_at=now,
        customer=customer,
        priority=body.priority,
        key_account_manager_id=kam,
        **facts,
    )
    return json_response(
        {
            "rules_version": None if body.rules is not None else config.version,
            **explain(conv, floor, rules, now),
        }
    )


def routing_routes() -> list[RouteSpec]:
    r = "/api/v1/routing"
    common = {401: "Not signed in", 403: "Role too low"}
    return [
        RouteSpec(
            "GET",
            f"{r}/rules",
            get_rules,
            "The live rules (JSON, or YAML with Accept: application/yaml)",
            "supervisor",
            tag="routing",
            responses={200: "The rules and their version", **common},
        ),
        RouteSpec(
            "PUT",
            f"{r}/rules",
            put_rules,
            "Replace the rules (YAML or JSON); a new version goes live (X-Change-Comment or ?comment=)",
            "admin",
            tag="routing",
            query={"comment": TEXT},
            request_media="application/yaml",
            request_schema={"type": "string"},
            responses={
                200: "Saved",
                415: "Not YAML or JSON",
                422: "Invalid: the detail names the rule, field and position",
                **common,
            },
        ),
        RouteSpec(
            "POST",
            f"{r}/rules/validate",
            validate_draft,
            "Check draft rules without saving: errors with path and position, and the diff",
            "admin",
            tag="routing",
            request_media="application/yaml",
            request_schema={"type": "string"},
            responses={
                200: "The verdict (valid or the errors) and the diff",
                415: "Not YAML or JSON",
                **common,
            },
        ),
        RouteSpec(
            "POST",
            f"{r}/simulate",
            simulate,
            "The decision and its trace for a hypothetical message (live or draft rules)",
            "supervisor",
            tag="routing",
            request_schema=SimulateIn.model_json_schema(),
            responses={
                200: "Decision and trace",
                404: "No such customer",
                422: "Invalid input or draft",
                **common,
            },
        ),
        *version_routes(f"{r}/rules", ROUTING, "routing rules", "routing", parsed="rules"),
    ]
