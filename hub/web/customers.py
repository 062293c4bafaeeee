"""Customer record routes. Handlers validate, call the customer services, and audit reads.

What an agent may see of a customer is the visibility rule's (hub/auth/visibility.py):
search finds only customers they may see, a record, its timeline and the agent-level
changes (fields, identities, consent) of any other customer are a 404, and the record
and timeline show only the conversations they may see. Export and erasure are for
supervisors and admins.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, field_validator

from hub.auth.visibility import Scope, may_see_customer, scope_of
from hub.customers import audit, listing, merge, privacy, revenue
from hub.customers.importer import CustomerImporter
from hub.customers.records import CustomerRecords, record_of, role_to_change
from hub.customers.timeline import timeline
from hub.errors import HubError, InputError, UnsupportedMediaType
from hub.keys import BLOBS, QUEUE, RECORDS, ROUTING, SETTINGS, STORE
from hub.request_body import int_path, int_query, json_response, read_json_object, read_limited
from hub.routespec import TEXT, TIME, RouteSpec, limit
from hub.store.engine import Connection
from hub.untrusted import INT64_MAX
from hub.validation import NULLABLE, RequestModel, validated
from hub.web.middleware import AGENT

_ID = "{id}"


class Money(RequestModel):
    model_config = ConfigDict(extra="forbid")
    amount: FiniteFloat  # "nan" and "1e400" parse as floats and cannot be stored
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class CustomerFields(RequestModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str | None, NULLABLE] = Field(None, max_length=300)
    organisation: Annotated[str | None, NULLABLE] = Field(None, max_length=300)
    language: Annotated[str | None, NULLABLE] = Field(None, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    key_account: bool | None = None
    key_account_manager_id: Annotated[str | None, NULLABLE] = None
    payment_terms: Annotated[str | None, NULLABLE] = Field(None, max_length=200)
    revenue: Annotated[dict[str, Money] | None, NULLABLE] = Field(
        None, description="e.g. {'revenue_12m': {amount, currency}}"
    )
    custom: Annotated[dict[str, str | FiniteFloat | bool] | None, NULLABLE] = None
    time_zone: Annotated[str | None, NULLABLE] = Field(
        None, max_length=64, description="an IANA zone, e.g. Europe/Berlin: quiet hours are kept in it"
    )

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError("an IANA time zone such as Europe/Berlin") from None
        return value


class IdentityIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["email", "phone", "fax", "chat_visitor", "external"]
    value: str = Field(min_length=1, max_length=320)


class CustomerIn(CustomerFields):
    identities: list[IdentityIn] = Field(default_factory=list)


class MergeIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    other_id: str


class UnmergeIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    merge_event_id: int = Field(ge=1, le=INT64_MAX)


class TierPinIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    tier: Annotated[str | None, NULLABLE] = Field(
        description="the tier to pin, or null to let the rules decide again"
    )
    reason: Annotated[str | None, NULLABLE] = Field(None, max_length=500)


class ConsentIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    channel: Literal["email", "sms", "whatsapp", "voice", "fax", "chat", "api"]
    purpose: Literal["service", "marketing"]
    granted: bool
    source: str = Field("agent", max_length=100)


def _reason(request: web.Request) -> str | None:
    reason = request.headers.get("X-Audit-Reason") or request.query.get("reason")
    return reason[:500] if reason else None


def _changes(body: BaseModel) -> dict[str, Any]:
    return {
        k: v
        for k, v in body.model_dump(mode="json", exclude={"identities"}).items()
        if k in body.model_fields_set
    }


async def _scope(conn: Connection, request: web.Request) -> Scope:
    return await scope_of(conn, request[AGENT], request.app[ROUTING].rules)


async def visible_scope(conn: Connection, request: web.Request, customer_id: str) -> Scope:
    """The caller's scope, once it is clear they may see the customer (else NotFound)."""
    scope = await _scope(conn, request)
    await may_see_customer(conn, scope, customer_id)
    return scope


def _single(request: web.Request) -> dict[str, str]:
    """The query as name -> value; a name given twice is a 422."""
    for name in set(request.query):
        if len(request.query.getall(name)) > 1:
            raise InputError(f"{name}: give it once (several values: separate them by commas)", field=name)
    return dict(request.query)


async def search(request: web.Request) -> web.Response:
    """With only ``q`` (and ``limit``): the search, exact identities first. Anything else:
    the customer list, filtered, sorted and paged (``hub.customers.listing``)."""
    params = _single(request)
    if set(params) - {"q", "limit"} or "q" not in params:
        limit = int_query(request, "limit", 50, 200)
        params.pop("limit", None)
        async with request.app[STORE].read() as conn:
            scope = await _scope(conn, request)
            page = await listing.list_page(conn, request.app[RECORDS], scope, params, limit)
        return json_response(page)
    limit = int_query(request, "limit", 20, 200)
    async with request.app[STORE].read() as conn:
        scope = await _scope(conn, request)
        found = await request.app[RECORDS].search(
            conn, request.query.get("q", ""), limit, scope.customer_clause
        )
    return json_response({"items": found})


async def create(request: web.Request) -> web.Response:
    who = request[AGENT]
    body = validated(CustomerIn, await read_json_object(request, 65_536))
    changes = _changes(body)
    who.require(role_to_change(changes))
    records: CustomerRecords = request.app[RECORDS]
    async with request.app[STORE].write() as conn:
        customer_id = await records.create(
            conn, changes, [(i.kind, i.value) for i in body.identities], who.actor
        )
        record = await record_of(conn, customer_id)
    return json_response(record, status=201)


async def read(request: web.Request) -> web.Response:
    customer_id = request.match_info["id"]
    async with request.app[STORE].write() as conn:
        scope = await visible_scope(conn, request, customer_id)
        record = await record_of(conn, customer_id, scope.clause())
        await audit.record(
            conn,
            actor=request[AGENT].actor,
            action="audit.read",
            subject_type="customer",
            subject_id=customer_id,
            customer_id=customer_id,
            reason=_reason(request),
        )
    return json_response(record)


async def patch(request: web.Request) -> web.Response:
    who = request[AGENT]
    body = validated(CustomerFields, await read_json_object(request, 65_536))
    changes = _changes(body)
    who.require(role_to_change(changes))
    customer_id = request.match_info["id"]
    async with request.app[STORE].write() as conn:
        scope = await visible_scope(conn, request, customer_id)
        changes = await revenue.with_derived(conn, customer_id, changes)
        await request.app[RECORDS].update(conn, customer_id, changes, who.actor)
        record = await record_of(conn, customer_id, scope.clause())
    return json_response(record)


async def add_identity(request: web.Request) -> web.Response:
    body = validated(IdentityIn, await read_json_object(request, 4096))
    customer_id = request.match_info["id"]
    async with request.app[STORE].write() as conn:
        scope = await visible_scope(conn, request, customer_id)
        await request.app[RECORDS].add_identity(
            conn, customer_id, body.kind, body.value, request[AGENT].actor
        )
        record = await record_of(conn, customer_id, scope.clause())
    return json_response(record, status=201)


async def remove_identity(request: web.Request) -> web.Response:
    identity_id = int_path(request, "identity_id")
    async with request.app[STORE].write() as conn:
        await request.app[RECORDS].remove_identity(
            conn, request.match_info["id"], identity_id, request[AGENT].actor
        )
    return web.Response(status=204)


async def get_timeline(request: web.Request) -> web.Response:
    customer_id = request.match_info["id"]
    limit = int_query(request, "limit", 50, 500)
    async with request.app[STORE].write() as conn:
        await record_of(conn, customer_id)  # 404 for unknown or erased
        scope = await visible_scope(conn, request, customer_id)
        page = await timeline(conn, customer_id, before=request.query.get("before"), limit=limit, scope=scope)
        await audit.record(
            conn,
            actor=request[AGENT].actor,
            action="audit.read",
            subject_type="timeline",
            subject_id=customer_id,
            customer_id=customer_id,
            reason=_reason(request),
        )
    return json_response(page)


async def do_merge(request: web.Request) -> web.Response:
    body = validated(MergeIn, await read_json_object(request, 4096))
    customer_id = request.match_info["id"]
    async with request.app[STORE].write() as conn:
        event_id = await merge.merge(
            conn, request.app[RECORDS], customer_id, body.other_id, request[AGENT].actor, _reason(request)
        )
        record = await record_of(conn, customer_id)
    return json_response({**record, "merge_event_id": event_id})


async def do_unmerge(request: web.Request) -> web.Response:
    body = validated(UnmergeIn, await read_json_object(request, 4096))
    async with request.app[STORE].write() as conn:
        other_id = await merge.unmerge(
            conn,
            request.app[RECORDS],
            request.match_info["id"],
            body.merge_event_id,
            request[AGENT].actor,
            _reason(request),
        )
    return json_response({"restored_id": other_id})


async def pin_tier(request: web.Request) -> web.Response:
    body = validated(TierPinIn, await read_json_object(request, 4096))
    customer_id = request.match_info["id"]
    async with request.app[STORE].write() as conn:
        await request.app[RECORDS].pin_tier(
            conn, customer_id, body.tier, request[AGENT].actor, body.reason or _reason(request)
        )
        record = await record_of(conn, customer_id)
    return json_response(record)


async def set_consent(request: web.Request) -> web.Response:
    body = validated(ConsentIn, await read_json_object(request, 4096))
    customer_id = request.match_info["id"]
    async with request.app[STORE].write() as conn:
        scope = await visible_scope(conn, request, customer_id)
        await request.app[RECORDS].set_consent(
            conn, customer_id, body.channel, body.purpose, body.granted, body.source, request[AGENT].actor
        )
        record = await record_of(conn, customer_id, scope.clause())
    return json_response(record)


async def export(request: web.Request) -> web.Response:
    customer_id = request.match_info["id"]
    async with request.app[STORE].write() as conn:
        document = await privacy.export(conn, customer_id, await visible_scope(conn, request, customer_id))
        await audit.record(
            conn,
            actor=request[AGENT].actor,
            action="audit.export",
            subject_type="customer",
            subject_id=customer_id,
            customer_id=customer_id,
            reason=_reason(request),
        )
    response = json_response(document)
    response.headers["Content-Disposition"] = f'attachment; filename="customer-{customer_id}.json"'
    return response


async def erase(request: web.Request) -> web.Response:
    customer_id = request.match_info["id"]
    if request.query.get("confirm") != customer_id:
        raise InputError(
            "erasure cannot be undone: repeat the customer id as ?confirm=<id> to erase", field="confirm"
        )
    store = request.app[STORE]
    async with store.write() as conn:
        erased = await privacy.erase(conn, customer_id, request[AGENT].actor, _reason(request))
    for sha in erased.unused_blobs:
        await request.app[BLOBS].delete(sha)
    await request.app[QUEUE].scrub(erased.values)
    await store.checkpoint()
    return web.Response(status=204)


_FORMATS = {
    "text/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/jsonlines": "jsonl",
}


async def import_customers(request: web.Request) -> web.StreamResponse:
    fmt = _FORMATS.get(request.content_type)
    if fmt is None:
        raise UnsupportedMediaType("send text/csv or application/x-ndjson (JSON lines)")
    data = await read_limited(request, request.app[SETTINGS].customers.import_max_bytes, "the file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"the file is not UTF-8 (byte {exc.start})", field="file") from exc
    importer = CustomerImporter(request.app[STORE], request.app[RECORDS])
    if "application/x-ndjson" not in request.headers.get("Accept", ""):
        report = await importer.run(text, fmt, request[AGENT].actor)
        return json_response(report.as_dict())
    # a progress bar: one line per batch stored, then the report
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    done: list[tuple[int, int]] = []

    def progress(n: int, total: int) -> None:
        done.append((n, total))

    task = asyncio.create_task(importer.run(text, fmt, request[AGENT].actor, progress))
    while not task.done():
        await asyncio.wait({task}, timeout=0.25)
        while done:
            n, total = done.pop(0)
            await response.write(orjson.dumps({"done": n, "total": total}) + b"\n")
    try:
        last: dict[str, Any] = {"report": task.result().as_dict()}
    except HubError as exc:  # the status line has gone: the error is the last line
        last = {"error": {"status": exc.status, "detail": exc.detail, "field": exc.field}}
    await response.write(orjson.dumps(last) + b"\n")
    await response.write_eof()
    return response


async def audit_log(request: web.Request) -> web.Response:
    def when(name: str) -> datetime | None:
        raw = request.query.get(name)
        if not raw:
            return None
        try:
            return datetime.fromisoformat(raw)
        except ValueError as exc:
            raise InputError(
                f"{name}: an ISO 8601 time such as 2026-11-28T10:00:00+00:00", field=name
            ) from exc

    actor = request.query.get("agent_id")
    async with request.app[STORE].read() as conn:
        items = await audit.query(
            conn,
            customer_id=request.query.get("customer_id"),
            actor=f"agent:{actor}" if actor else request.query.get("actor"),
            action=request.query.get("action"),
            since=when("since"),
            until=when("until"),
            limit=int_query(request, "limit", 100, 1000),
        )
    return json_response({"items": items})


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def customer_routes() -> list[RouteSpec]:
    c = "/api/v1/customers"
    tag = "customers"
    common = {401: "Not signed in", 403: "Role too low", 404: "No such customer"}
    return [
        RouteSpec(
            "POST",
            f"{c}/import",
            import_customers,
            "Upsert customers from CSV or JSON lines; reports created, updated, rejected",
            "supervisor",
            tag=tag,
            request_media="text/csv",
            request_schema={"type": "string"},
            responses={
                200: "The report; with Accept: application/x-ndjson, progress lines and then the report",
                413: "File too large",
                415: "Not CSV or JSON lines",
            },
        ),
        RouteSpec(
            "GET",
            c,
            search,
            "List customers: with only q, search by name, organisation, any identity or external id;"
            " with filters, sort or cursor (q optional), a filtered, sorted page",
            "agent",
            tag=tag,
            query={
                "q": TEXT,
                "limit": limit(200),
                "sort": {"enum": list(listing.SORTS)},
                "cursor": TEXT,
                **{name: TEXT for name in listing.FILTERS},
            },
            responses={200: "Matches, or a page and the next cursor", 422: "A bad parameter"},
        ),
        RouteSpec(
            "POST",
            c,
            create,
            "Create a customer",
            "agent",
            tag=tag,
            request_schema=_schema(CustomerIn),
            responses={201: "Created", 409: "Identity taken", 422: "Invalid field"},
        ),
        RouteSpec(
            "GET",
            f"{c}/{_ID}",
            read,
            "The customer record (the read is audited)",
            "agent",
            tag=tag,
            query={"reason": TEXT},
            responses={200: "The record", **common},
        ),
        RouteSpec(
            "PATCH",
            f"{c}/{_ID}",
            patch,
            "Change fields; the tier follows",
            "agent",
            tag=tag,
            query={"reason": TEXT},
            request_schema=_schema(CustomerFields),
            responses={200: "Changed", **common},
        ),
        RouteSpec(
            "POST",
            f"{c}/{_ID}/identities",
            add_identity,
            "Add an identity",
            "agent",
            tag=tag,
            request_schema=_schema(IdentityIn),
            responses={201: "Added", 409: "The identity belongs to another customer", **common},
        ),
        RouteSpec(
            "DELETE",
            f"{c}/{_ID}/identities/{{identity_id}}",
            remove_identity,
            "Remove an identity",
            "supervisor",
            tag=tag,
            responses={204: "Removed", **common},
        ),
        RouteSpec(
            "GET",
            f"{c}/{_ID}/timeline",
            get_timeline,
            "Messages and events across channels, newest first (?before=cursor&limit=)",
            "agent",
            tag=tag,
            query={"before": TEXT, "limit": limit(500), "reason": TEXT},
            responses={200: "A page and the next cursor", **common},
        ),
        RouteSpec(
            "POST",
            f"{c}/{_ID}/merge",
            do_merge,
            "Merge another customer into this one",
            "supervisor",
            tag=tag,
            query={"reason": TEXT},
            request_schema=_schema(MergeIn),
            responses={200: "Merged", **common},
        ),
        RouteSpec(
            "POST",
            f"{c}/{_ID}/unmerge",
            do_unmerge,
            "Undo a merge from its audit record",
            "supervisor",
            tag=tag,
            query={"reason": TEXT},
            request_schema=_schema(UnmergeIn),
            responses={200: "Both records restored", 409: "Already undone", **common},
        ),
        RouteSpec(
            "PUT",
            f"{c}/{_ID}/tier",
            pin_tier,
            "Pin a tier by hand, or unpin it",
            "admin",
            tag=tag,
            query={"reason": TEXT},
            request_schema=_schema(TierPinIn),
            responses={200: "Pinned", **common},
        ),
        RouteSpec(
            "PUT",
            f"{c}/{_ID}/consent",
            set_consent,
            "Record consent for a channel and purpose",
            "agent",
            tag=tag,
            request_schema=_schema(ConsentIn),
            responses={200: "Recorded", **common},
        ),
        RouteSpec(
            "GET",
            f"{c}/{_ID}/export",
            export,
            "All personal data and messages as JSON (audited)",
            "supervisor",
            tag=tag,
            query={"reason": TEXT},
            responses={200: "The export", **common},
        ),
        RouteSpec(
            "DELETE",
            f"{c}/{_ID}",
            erase,
            "Erase the customer's personal data (?confirm=<id>)",
            "admin",
            tag=tag,
            query={"confirm": TEXT, "reason": TEXT},
            responses={204: "Erased", 422: "Not confirmed", **common},
        ),
        RouteSpec(
            "GET",
            "/api/v1/audit",
            audit_log,
            "The audit log (filters: customer_id, agent_id, action, since, until, limit)",
            "supervisor",
            tag="audit",
            query={
                **{name: TEXT for name in ("customer_id", "agent_id", "actor", "action")},
                "since": TIME,
                "until": TIME,
                "limit": limit(1000),
            },
            responses={200: "Entries, newest first", 401: "Not signed in", 403: "Role too low"},
        ),
    ]
