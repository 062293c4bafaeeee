"""A report asked for, answered from the rollups: one measure over a range, in buckets
of a time zone, grouped by one dimension and filtered by others; and the tier-fairness
report that puts every tier's promise and service side by side.

The caller (``hub/web/reports.py``) has checked the parameters; this module reads the
rollups (``hub.store.repos.reports``) and leaves the arithmetic to ``series``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.reports import buckets, live, series
from hub.reports.buckets import Bucket
from hub.reports.measures import MEASURES, Kind, stored_measures
from hub.routing.hours import ALWAYS_OPEN, BusinessHours
from hub.store.engine import Store
from hub.store.repos import agents as agent_repo
from hub.store.repos import reports as repo

# what a report may be grouped by: the rollups' dimensions (``agent`` is ``agent_id``),
# a team (through its agents), the local hour of the day or day of the week, and
# whether the conversation's queue was open then (its business hours: "open", "closed"),
# and a conversation's tag (counted once under each of its tags; computed from the events,
# as the rollups have no tags: ``hub.reports.live``)
ROLLUP_GROUPS = {
    "channel": "channel",
    "tier": "tier",
    "queue": "queue",
    "department": "department",
    "agent": "agent_id",
    "key_account": "key_account",
}
GROUPS = (*ROLLUP_GROUPS, "team", "hour_of_day", "weekday", "business_hours", "tag")
FILTERS = (*ROLLUP_GROUPS, "team", "tag")
# grouped by tag without naming tags: the most used ones
TAG_GROUPS = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportQuery:
    measure: str
    start: datetime  # UTC, a whole hour
    end: datetime  # UTC, a whole hour, after start
    bucket: Bucket
    zone: ZoneInfo
    group_by: str | None = None
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # only these customers' conversations (a segment, a KAM's accounts): computed from
    # their events (``hub.reports.live``), not read from the rollups
    customers: tuple[str, ...] | None = None
    # each queue's business hours (the routing rules'), for ``business_hours``; a queue
    # not named here is open around the clock
    hours: Mapping[str, BusinessHours] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Report:
    query: ReportQuery
    kind: Kind
    series: series.Series


async def _teams(store: Store) -> dict[str, tuple[str, ...]]:
    async with store.read() as conn:
        return {a.id: tuple(a.teams) for a in await agent_repo.all_agents(conn)}


def _rollup_filters(
    filters: Mapping[str, tuple[str, ...]], teams: Mapping[str, Sequence[str]]
) -> dict[str, Sequence[str | bool]]:
    chosen: dict[str, Sequence[str | bool]] = {}
    for name, values in filters.items():
        if name == "tag":  # not a rollup dimension: ``_rows`` computes these
            continue
        if name == "team":
            members = sorted(agent for agent, of in teams.items() if set(of) & set(values))
            chosen["agent_id"] = [a for a in chosen.get("agent_id", members) if a in members]
        elif name == "key_account":
            chosen["key_account"] = [v == "true" for v in values]
        else:
            column = ROLLUP_GROUPS[name]
            if column == "agent_id" and "agent_id" in chosen:  # with a team: both must hold
                chosen[column] = [a for a in chosen[column] if a in values]
            else:
                chosen[column] = list(values)
    return chosen


def _grouper(q: ReportQuery, teams: Mapping[str, Sequence[str]]) -> tuple[series.Grouper, tuple[str, ...]]:
    """How rows are grouped, and which rollup dimensions that needs."""
    if q.group_by is None:
        return series.one_group, ()
    if q.group_by == "team":
        return series.by_team(teams), ("agent_id",)
    if q.group_by == "hour_of_day":
        return series.by_time(lambda h: buckets.hour_of_day(h, q.zone)), ()
    if q.group_by == "weekday":
        return series.by_time(lambda h: buckets.weekday(h, q.zone)), ()
    if q.group_by == "business_hours":
        return series.by_business_hours(lambda queue, hour: q.hours.get(queue, ALWAYS_OPEN).is_open(hour)), (
            "queue",
        )
    column = ROLLUP_GROUPS[q.group_by]
    return series.by_dimension(column), (column,)


async def _rows(
    store: Store,
    measures: Sequence[str],
    start: datetime,
    end: datetime,
    by: Sequence[str],
    filters: Mapping[str, Sequence[str | bool]],
    customers: Sequence[str] | None,
    *,
    per: str = "hour",
    zone: ZoneInfo | None = None,
    tags: Sequence[str] = (),
) -> list[repo.RollupRow]:
    """The rollup rows, summed ``per`` hour, local day, week or month of ``zone``, or
    over the whole range (``repo.rollups``): no finer than the report needs. Of some
    customers or tags, computed from their events (``live``)."""
    if customers is not None or tags:
        rows = await live.computed(store, start, end, customer_ids=customers, tags=tags)
        return live.summed(rows, measures, by=by, filters=filters)
    offsets = buckets.offsets(start, end, zone) if zone and per in ("day", "week", "month") else []
    async with store.read() as conn:
        return await repo.rollups(
            conn, measures, start, end, by=by, filters=filters, per=per, offsets=offsets
        )


async def report(store: Store, q: ReportQuery) -> Report:
    kind = MEASURES[q.measure]
    needs_teams = q.group_by == "team" or "team" in q.filters
    teams = await _teams(store) if needs_teams else {}
    if q.group_by == "tag":
        return await _by_tag(store, q, teams)
    group_of, by = _grouper(q, teams)
    # summed in the store per bucket; per local day where a weekday groups them, per
    # hour where the hour of the day does
    if q.bucket is Bucket.HOUR or q.group_by in ("hour_of_day", "business_hours"):
        per = "hour"
    else:
        per = "day" if q.group_by == "weekday" else q.bucket.value
    rows = await _rows(
        store,
        stored_measures(q.measure),
        q.start,
        q.end,
        by,
        _rollup_filters(q.filters, teams),
        q.customers,
        per=per,
        zone=q.zone,
        tags=q.filters.get("tag", ()),
    )
    return _report(q, kind, rows, group_of)


async def _by_tag(store: Store, q: ReportQuery, teams: Mapping[str, Sequence[str]]) -> Report:
    """The report once per tag (those the filter names, else the TAG_GROUPS most used):
    a conversation with two tags counts under each."""
    tags = q.filters.get("tag")
    if not tags:
        async with store.read() as conn:
            tags = tuple(await repo.tags_in_use(conn, TAG_GROUPS))
    rows: list[repo.RollupRow] = []
    tag_of: dict[int, str] = {}
    filters = _rollup_filters(q.filters, teams)
    for tag in tags:
        found = await _rows(
            store, stored_measures(q.measure), q.start, q.end, (), filters, q.customers, tags=(tag,)
        )
        tag_of.update((id(row), tag) for row in found)
        rows += found
    return _report(q, MEASURES[q.measure], rows, lambda row: [tag_of[id(row)]])  # ids: rows live on


def _report(q: ReportQuery, kind: Kind, rows: Sequence[repo.RollupRow], group_of: series.Grouper) -> Report:
    """The rows into the report's buckets and groups."""

    def key_of(hour: datetime) -> datetime | date:
        return buckets.bucket_key(hour, q.bucket, q.zone)

    def label_of(key: datetime | date) -> str:
        return buckets.bucket_label(key, q.zone)

    built = series.build(
        q.measure,
        kind,
        rows,
        buckets.hours(q.start, q.end),
        key_of,
        label_of,
        group_of,
        groups=() if q.group_by else ("",),
    )
    return Report(q, kind, built)


# --- tier fairness ----------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class TierService:
    tier: str
    promise_s: Mapping[str, int]  # channel (or "default") -> first-response target
    sla_met: int
    sla_missed: int
    attainment: float | None
    first_response: Mapping[str, Any]  # count, mean, median, p90, max (seconds)
    longest_wait_before_accept_s: float | None
    breaches: int
    floor: float
    below_floor: bool


async def tier_fairness(
    store: Store,
    start: datetime,
    end: datetime,
    tiers: Sequence[str],
    promises: Mapping[str, Mapping[str, int]],
    floor_of: Mapping[str, float],
    default_floor: float,
    customers: Sequence[str] | None = None,
) -> list[TierService]:
    """Per tier (``tiers`` in their order, then any other tier seen), side by side: the
    first-response promise, its attainment, the median, p90 and longest first response,
    the longest wait before an agent took a conversation, and the breaches; a tier
    whose attainment is below its floor is flagged. Of ``customers`` only, when given."""
    measures = ("sla_met", "sla_missed", "sla_breaches", "first_response_time", "wait_before_accept")
    rows = await _rows(store, measures, start, end, ("tier",), {}, customers, per="whole")
    cells: dict[tuple[str, str], series.Cell] = {}
    for row in rows:
        cells.setdefault((row.tier, row.measure), series.Cell()).add(row)
    seen = sorted({row.tier for row in rows} - set(tiers))
    result = []
    for tier in (*tiers, *seen):

        def cell(measure: str, tier: str = tier) -> series.Cell:
            return cells.get((tier, measure)) or series.Cell()

        met, missed = cell("sla_met").n, cell("sla_missed").n
        attainment = round(met / (met + missed), 4) if met + missed else None
        floor = floor_of.get(tier, default_floor)
        wait = cell("wait_before_accept")
        result.append(
            TierService(
                tier=tier,
                promise_s=dict(promises.get(tier, {})),
                sla_met=met,
                sla_missed=missed,
                attainment=attainment,
                first_response=series.figures(
                    "first_response_time", Kind.DURATION, cell("first_response_time")
                ),
                longest_wait_before_accept_s=round(wait.peak, 1) if wait.n else None,
                breaches=cell("sla_breaches").n,
                floor=floor,
                below_floor=attainment is not None and attainment < floor,
            )
        )
    return result
