"""Rollup rows into a report: per bucket and group, the figures of one measure, and the
same over the whole range per group. Pure.

Figures per kind:
- a count: ``count``;
- a duration (seconds): ``count``, ``mean``, ``median``, ``p90`` and ``max``; the median
  and p90 are nearest-rank percentiles read from the histogram (``hub.reports.bins``);
- a ratio: ``numerator``, ``denominator`` and ``value`` (None when nothing was counted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from hub.reports.bins import percentile
from hub.reports.measures import RATIOS, Kind
from hub.store.repos.reports import RollupRow

Figures = dict[str, Any]
# a row's groups: usually one; a team grouping counts an agent in each of their teams
Grouper = Callable[[RollupRow], Sequence[str]]


@dataclass(slots=True)
class Cell:
    n: int = 0
    total: float = 0.0
    peak: float = 0.0
    bins: dict[int, int] = field(default_factory=dict)
    by_measure: dict[str, int] = field(default_factory=dict)

    def add(self, row: RollupRow) -> None:
        self.n += row.n
        self.total += row.total
        self.peak = max(self.peak, row.peak)
        self.bins[row.bin] = self.bins.get(row.bin, 0) + row.n
        self.by_measure[row.measure] = self.by_measure.get(row.measure, 0) + row.n


def figures(measure: str, kind: Kind, cell: Cell | None) -> Figures:
    cell = cell or Cell()
    if kind is Kind.COUNT:
        return {"count": cell.n}
    if kind is Kind.DURATION:
        counted = cell.n > 0
        return {
            "count": cell.n,
            "mean": round(cell.total / cell.n, 1) if counted else None,
            "median": percentile(cell.bins, 0.5),
            "p90": percentile(cell.bins, 0.9),
            "max": round(cell.peak, 1) if counted else None,
        }
    numerator_name, denominator_names = RATIOS[measure]
    numerator = cell.by_measure.get(numerator_name, 0)
    denominator = sum(cell.by_measure.get(name, 0) for name in denominator_names)
    value = round(numerator / denominator, 4) if denominator else None
    return {"numerator": numerator, "denominator": denominator, "value": value}


@dataclass(frozen=True, slots=True)
class Series:
    """The report's rows (bucket order, then group order) and totals per group."""

    rows: list[tuple[str, str, Figures]]
    totals: list[tuple[str, Figures]]


def build(
    measure: str,
    kind: Kind,
    rollup: Iterable[RollupRow],
    hours: Iterable[datetime],
    key_of: Callable[[datetime], datetime | date],
    label_of: Callable[[datetime | date], str],
    group_of: Grouper,
    groups: Sequence[str] = (),
) -> Series:
    """Sum ``rollup`` per bucket (``key_of`` an hour) and group; every bucket of the
    range (``hours``) appears for every group seen (or named in ``groups``)."""
    cells: dict[tuple[datetime | date, str], Cell] = {}
    totals: dict[str, Cell] = {g: Cell() for g in groups}
    for row in rollup:
        key = key_of(row.hour)
        for group in group_of(row):
            cells.setdefault((key, group), Cell()).add(row)
            totals.setdefault(group, Cell()).add(row)
    keys = list(dict.fromkeys(key_of(h) for h in hours))
    order = sorted(totals, key=_group_order)
    return Series(
        rows=[
            (label_of(key), group, figures(measure, kind, cells.get((key, group))))
            for key in keys
            for group in order
        ],
        totals=[(group, figures(measure, kind, totals[group])) for group in order],
    )


def _group_order(group: str) -> tuple[int, int, str]:
    """Hours of the day and weekdays in number order, the rest by name."""
    return (0, int(group), "") if group.isdigit() else (1, 0, group)


def by_dimension(name: str) -> Grouper:
    def group(row: RollupRow) -> Sequence[str]:
        value = getattr(row, name)
        return ["true" if value else "false"] if isinstance(value, bool) else [value]

    return group


def by_team(teams_of: Mapping[str, Sequence[str]]) -> Grouper:
    def group(row: RollupRow) -> Sequence[str]:
        return list(teams_of.get(row.agent_id) or ()) or [""]

    return group


def by_time(part: Callable[[datetime], int]) -> Grouper:
    def group(row: RollupRow) -> Sequence[str]:
        return [str(part(row.hour))]

    return group


def by_business_hours(is_open: Callable[[str, datetime], bool]) -> Grouper:
    """ "open" or "closed": whether the row's queue was open at the start of its hour."""

    def group(row: RollupRow) -> Sequence[str]:
        return ["open" if is_open(row.queue, row.hour) else "closed"]

    return group


def one_group(_row: RollupRow) -> Sequence[str]:
    return [""]
