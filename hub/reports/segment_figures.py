"""A segment's figures over a window: its customers, their revenue, how often they got
in touch, how often to complain, how well they were served, and what is open now.

- ``customers``: the members now (the ones the caller may see);
- ``revenue``: the sum of the members' ``revenue_12m`` figures, per currency;
- ``conversations``: the members' conversations opened in the window;
  ``contacts_per_customer``: that over the members;
- ``complaints``: of those conversations, the ones tagged ``complaint`` (by a routing
  rule or an agent); ``complaint_rate``: complaints over conversations;
- ``sla_attainment``: the reports' measure of that name for the members' conversations
  in the window (first responses within their due time, of those due);
- ``open_conversations``: the members' conversations open now, whenever opened;
- ``health_mean``: the members' mean health score as last computed (none before any
  was), ``at_risk`` and ``on_watch``: how many members are at those levels now
  (hub/customers/health.py);
- ``csat_mean`` and ``csat_response_rate``: of the satisfaction surveys sent to the
  members in the window, the mean score of those answered and the share answered
  (hub/csat).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from hub.reports import live
from hub.store.engine import Store
from hub.store.repos import csat as csat_repo
from hub.store.repos import health as health_repo
from hub.store.repos import segments as repo

COMPLAINT_TAG = "complaint"


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentFigures:
    customers: int
    revenue: Mapping[str, float]
    conversations: int
    contacts_per_customer: float | None
    complaints: int
    complaint_rate: float | None
    sla_met: int
    sla_missed: int
    sla_attainment: float | None
    open_conversations: int
    health_mean: float | None
    at_risk: int
    on_watch: int
    csat_mean: float | None
    csat_response_rate: float | None


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def revenue_sums(revenues: Sequence[Mapping[str, object]]) -> dict[str, float]:
    """The ``revenue_12m`` amounts summed per currency (currencies sorted)."""
    sums: dict[str, float] = {}
    for revenue in revenues:
        figure = revenue.get("revenue_12m")
        if not isinstance(figure, Mapping):
            continue
        amount, currency = figure.get("amount"), figure.get("currency")
        if isinstance(amount, int | float) and not isinstance(amount, bool) and isinstance(currency, str):
            sums[currency] = sums.get(currency, 0.0) + float(amount)
    return {currency: round(sums[currency], 2) for currency in sorted(sums)}


async def figures(store: Store, members: Sequence[str], start: datetime, end: datetime) -> SegmentFigures:
    """The figures of the customers ``members`` for the window ``start`` up to ``end``."""
    async with store.read() as conn:
        revenues = await repo.revenues(conn, members)
        convs = await repo.member_conversations(conn, members, start, end)
        health = list((await health_repo.stored(conn, members)).values())
        surveys = await csat_repo.in_range(conn, start, end, list(members))
    scores = [f.score for f in surveys if f.score is not None]
    in_window = [c for c in convs if start <= c.opened_at < end]
    complaints = sum(1 for c in in_window if COMPLAINT_TAG in c.tags)
    rows = live.summed(
        await live.computed(store, start, end, customer_ids=members), ("sla_met", "sla_missed")
    )
    met = sum(r.n for r in rows if r.measure == "sla_met")
    missed = sum(r.n for r in rows if r.measure == "sla_missed")
    return SegmentFigures(
        customers=len(members),
        revenue=revenue_sums(revenues),
        conversations=len(in_window),
        contacts_per_customer=round(len(in_window) / len(members), 2) if members else None,
        complaints=complaints,
        complaint_rate=_share(complaints, len(in_window)),
        sla_met=met,
        sla_missed=missed,
        sla_attainment=_share(met, met + missed),
        open_conversations=sum(1 for c in convs if c.open),
        health_mean=round(sum(h.score for h in health) / len(health), 1) if health else None,
        at_risk=sum(1 for h in health if h.level == "at_risk"),
        on_watch=sum(1 for h in health if h.level == "watch"),
        csat_mean=round(sum(scores) / len(scores), 2) if scores else None,
        csat_response_rate=_share(len(scores), len(surveys)),
    )
