"""Reports over the API: one measure over a range, bucketed and grouped, as JSON or CSV;
and tier fairness. Supervisors and admins; a key account manager (an agent who manages
at least one customer) of their own accounts only, other agents not at all
(``hub.customers.segment_access``). ``segment=<id>``: of that segment's customers.

Every query parameter is read strictly: an unknown parameter, a time that is not ISO
8601, a time zone that is not an IANA name, a bucket, grouping, filter or measure that
does not exist: each a 422 naming the parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from aiohttp import web

from hub.auth.visibility import scope_of
from hub.customers.segment_access import report_customers
from hub.errors import InputError, NotFound
from hub.keys import RECORDS, ROUTING, SETTINGS, STORE
from hub.reports import export
from hub.reports.buckets import Bucket
from hub.reports.measures import MEASURES
from hub.reports.service import FILTERS, GROUPS, Report, ReportQuery, TierService, report, tier_fairness
from hub.request_body import json_response
from hub.routespec import TEXT, RouteSpec
from hub.text.moments import moment
from hub.web.middleware import AGENT

MAX_RANGE = timedelta(days=3660)
MAX_HOURLY_RANGE = timedelta(days=93)
MAX_VALUES = 50  # values of one filter
MAX_VALUE = 200  # characters of one value
_COMMON = ("from", "to", "tz", "format", "lang")
_REPORT_PARAMS = frozenset((*_COMMON, "bucket", "group_by", "segment", *FILTERS))
_FAIRNESS_PARAMS = frozenset((*_COMMON, "segment"))
_FAIRNESS_COLUMNS = (
    "tier",
    "promise",
    "sla_met",
    "sla_missed",
    "attainment",
    "first_response_median",
    "first_response_p90",
    "longest_wait",
    "breaches",
    "floor",
    "below_floor",
)
HOUR = timedelta(hours=1)


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def only_params(request: web.Request, allowed: frozenset[str]) -> None:
    for name in request.query:
        if name not in allowed:
            raise InputError(
                f"{name}: not a parameter of this report; it takes {', '.join(sorted(allowed))}", field=name
            )
    for name in set(request.query):
        if len(request.query.getall(name)) > 1:
            raise InputError(f"{name}: give it once (several values: separate them by commas)", field=name)


def report_zone(request: web.Request) -> ZoneInfo:
    name = request.query.get("tz") or request.app[SETTINGS].reports.timezone
    if name not in _zones():
        raise InputError("tz: an IANA time zone such as Europe/Berlin", field="tz")
    return ZoneInfo(name)


def _ceil_hour(at: datetime) -> datetime:
    floor = at.replace(minute=0, second=0, microsecond=0)
    return floor if floor == at else floor + HOUR


def _time(request: web.Request, name: str, zone: ZoneInfo) -> datetime:
    """A required time: a date (its midnight in ``zone``) or an ISO 8601 time (without an
    offset: in ``zone``); in UTC, rounded up to the whole hour."""
    raw = request.query.get(name)
    if not raw:
        raise InputError(f"{name}: required, a date (2026-03-29) or an ISO 8601 time", field=name)
    at = moment(name, raw, zone)
    return _ceil_hour(at.astimezone(UTC))


def report_range(request: web.Request, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start, end = _time(request, "from", zone), _time(request, "to", zone)
    if end <= start:
        raise InputError("to: after from (by an hour at least)", field="to")
    if end - start > MAX_RANGE:
        raise InputError("to: at most ten years after from", field="to")
    return start, end


def _choice(request: web.Request, name: str, choices: tuple[str, ...], default: str | None) -> str | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    if raw not in choices:
        raise InputError(f"{name}: one of {', '.join(choices)}", field=name)
    return raw


def _filters(request: web.Request) -> dict[str, tuple[str, ...]]:
    chosen: dict[str, tuple[str, ...]] = {}
    for name in FILTERS:
        raw = request.query.get(name)
        if raw is None:
            continue
        values = tuple(raw.split(","))
        if len(values) > MAX_VALUES or any(not v or len(v) > MAX_VALUE or "\x00" in v for v in values):
            raise InputError(
                f"{name}: up to {MAX_VALUES} values separated by commas,"
                f" none empty or over {MAX_VALUE} characters",
                field=name,
            )
        if name == "key_account" and not set(values) <= {"true", "false"}:
            raise InputError("key_account: true or false", field=name)
        chosen[name] = values
    return chosen


def _wants_csv(request: web.Request) -> bool:
    fmt = _choice(request, "format", ("json", "csv"), None)
    if fmt is not None:
        return fmt == "csv"
    accept = request.headers.get("Accept", "")
    return "text/csv" in accept and "application/json" not in accept


def _lang(request: web.Request) -> str:
    chosen = _choice(request, "lang", export.LANGUAGES, None)
    return export.language(chosen, request.headers.get("Accept-Language"))


def _json(r: Report) -> dict[str, Any]:
    q = r.query
    return {
        "measure": q.measure,
        "kind": r.kind.value,
        "unit": "s" if r.kind.value == "duration" else None,
        "from": q.start.isoformat(),
        "to": q.end.isoformat(),
        "bucket": q.bucket.value,
        "tz": q.zone.key,
        "group_by": q.group_by,
        "filters": {k: list(v) for k, v in q.filters.items()},
        "customers": None if q.customers is None else len(q.customers),
        "rows": [{"start": start, "group": group, **values} for start, group, values in r.series.rows],
        "totals": [{"group": group, **values} for group, values in r.series.totals],
    }


def _csv_response(text: str, name: str, lang: str) -> web.Response:
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Content-Language": lang},
    )


def _fairness_csv(found: Sequence[TierService], start: datetime, lang: str) -> web.Response:
    rows = (
        [
            t.tier,
            "; ".join(f"{channel}={seconds}" for channel, seconds in sorted(t.promise_s.items())),
            t.sla_met,
            t.sla_missed,
            t.attainment,
            t.first_response.get("median"),
            t.first_response.get("p90"),
            t.longest_wait_before_accept_s,
            t.breaches,
            t.floor,
            t.below_floor,
        ]
        for t in found
    )
    return _csv_response(
        export.to_csv(_FAIRNESS_COLUMNS, rows, lang), f"tier-fairness-{start:%Y%m%d}.csv", lang
    )


def _csv(r: Report, lang: str) -> web.Response:
    figure_names = list(r.series.totals[0][1]) if r.series.totals else ["count"]
    columns = ["start", *([r.query.group_by] if r.query.group_by else []), *figure_names]
    rows = (
        [start, *([group] if r.query.group_by else []), *(values[n] for n in figure_names)]
        for start, group, values in r.series.rows
    )
    name = f"{r.query.measure}-{r.query.start:%Y%m%d}.csv"
    return _csv_response(export.to_csv(columns, rows, lang), name, lang)


async def report_scope(request: web.Request) -> tuple[str, ...] | None:
    """Whose conversations the report counts: everyone's for supervisors and admins, a
    key account manager's own accounts (else 403); of those, a segment's members."""
    who = request[AGENT]
    segment = request.query.get("segment")
    if segment is not None and not segment:
        raise InputError("segment: the id of one of your segments", field="segment")
    async with request.app[STORE].read() as conn:
        scope = await scope_of(conn, who, request.app[ROUTING].rules)
        return await report_customers(conn, request.app[RECORDS], who, scope, segment)


async def get_report(request: web.Request) -> web.Response:
    measure = request.match_info["measure"]
    if measure not in MEASURES:
        raise NotFound(f"no measure {measure[:60]!r}; measures are {', '.join(MEASURES)}")
    only_params(request, _REPORT_PARAMS)
    zone = report_zone(request)
    start, end = report_range(request, zone)
    bucket = Bucket(_choice(request, "bucket", tuple(b.value for b in Bucket), None) or Bucket.DAY)
    if bucket is Bucket.HOUR and end - start > MAX_HOURLY_RANGE:
        raise InputError(
            "bucket: hour buckets for at most 93 days; take day buckets for longer", field="bucket"
        )
    query = ReportQuery(
        measure=measure,
        start=start,
        end=end,
        bucket=bucket,
        zone=zone,
        group_by=_choice(request, "group_by", GROUPS, None),
        filters=_filters(request),
        hours={name: queue.hours for name, queue in request.app[ROUTING].rules.queues.items()},
    )
    wants_csv, lang = _wants_csv(request), _lang(request)
    found = await report(request.app[STORE], replace(query, customers=await report_scope(request)))
    return _csv(found, lang) if wants_csv else json_response(_json(found))


async def get_tier_fairness(request: web.Request) -> web.Response:
    only_params(request, _FAIRNESS_PARAMS)
    zone = report_zone(request)
    start, end = report_range(request, zone)
    rules = request.app[ROUTING].rules
    settings = request.app[SETTINGS].reports
    tiers = sorted(rules.tier_priority, key=lambda t: -rules.tier_priority[t])
    promises = {t: rules.sla_first_response_s.get(t, {}) for t in tiers}
    wants_csv, lang = _wants_csv(request), _lang(request)
    found = await tier_fairness(
        request.app[STORE],
        start,
        end,
        tiers,
        promises,
        settings.fairness_floors,
        settings.fairness_floor,
        await report_scope(request),
    )
    if wants_csv:
        return _fairness_csv(found, start, lang)
    warnings = [
        f"{t.tier}: SLA attainment {t.attainment:.1%} is below the floor of {t.floor:.0%}"
        for t in found
        if t.below_floor and t.attainment is not None
    ]
    return json_response(
        {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "tiers": [
                {
                    "tier": t.tier,
                    "promise_s": t.promise_s,
                    "sla_met": t.sla_met,
                    "sla_missed": t.sla_missed,
                    "attainment": t.attainment,
                    "first_response_s": t.first_response,
                    "longest_wait_before_accept_s": t.longest_wait_before_accept_s,
                    "breaches": t.breaches,
                    "floor": t.floor,
                    "below_floor": t.below_floor,
                }
                for t in found
            ],
            "warnings": warnings,
        }
    )


_FIGURE = {"type": ["number", "null"]}
_REPORT_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["measure", "kind", "from", "to", "bucket", "tz", "rows", "totals"],
    "properties": {
        "measure": {"type": "string"},
        "kind": {"enum": ["count", "duration", "ratio"]},
        "unit": {"type": ["string", "null"]},
        "from": {"type": "string", "format": "date-time"},
        "to": {"type": "string", "format": "date-time"},
        "bucket": {"enum": [b.value for b in Bucket]},
        "tz": {"type": "string"},
        "group_by": {"type": ["string", "null"]},
        "filters": {"type": "object"},
        "rows": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["start", "group"],
                "properties": {"start": {"type": "string"}, "group": {"type": "string"}},
                "additionalProperties": _FIGURE,
            },
        },
        "totals": {
            "type": "array",
            "items": {"type": "object", "required": ["group"], "properties": {"group": {"type": "string"}}},
        },
    },
}
_FAIRNESS_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["from", "to", "tiers", "warnings"],
    "properties": {
        "from": {"type": "string"},
        "to": {"type": "string"},
        "tiers": {
            "type": "array",
            "items": {"type": "object", "required": ["tier", "attainment", "below_floor"]},
        },
        "warnings": {"type": "array", "items": {"type": "string"}},
    },
}
_RANGE_QUERY = {"from": TEXT, "to": TEXT, "tz": TEXT, "segment": TEXT}


def report_routes() -> list[RouteSpec]:
    common = {401: "Not signed in", 403: "Role too low"}
    filters = {name: TEXT for name in FILTERS}
    return [
        # before /reports/{measure}, which would take its name for a measure
        RouteSpec(
            "GET",
            "/api/v1/reports/tier-fairness",
            get_tier_fairness,
            "Per tier side by side: SLA promise, attainment, median and p90 first response, longest waits"
            " (JSON or CSV; supervisors and admins; a key account manager: of their accounts)",
            "agent",
            tag="reports",
            query={
                **_RANGE_QUERY,
                "format": {"enum": ["json", "csv"]},
                "lang": {"enum": list(export.LANGUAGES)},
            },
            response_schema=_FAIRNESS_SCHEMA,
            response_text=("text/csv",),
            responses={
                200: "Tiers, highest priority first (JSON, or CSV with format=csv or Accept: text/csv)",
                422: "Bad parameter",
                **common,
            },
        ),
        RouteSpec(
            "GET",
            "/api/v1/reports/{measure}",
            get_report,
            "One measure over a range, bucketed in a time zone, grouped and filtered (JSON or CSV);"
            " supervisors and admins, a key account manager of their accounts",
            "agent",
            tag="reports",
            query={
                **_RANGE_QUERY,
                "bucket": {"enum": [b.value for b in Bucket]},
                "group_by": {"enum": list(GROUPS)},
                "format": {"enum": ["json", "csv"]},
                "lang": {"enum": list(export.LANGUAGES)},
                **filters,
            },
            response_schema=_REPORT_SCHEMA,
            response_text=("text/csv",),
            responses={200: "The report", 404: "No such measure", 422: "Bad parameter", **common},
        ),
    ]
