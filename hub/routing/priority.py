"""Effective priority: the tier's base priority, aged by the share of the SLA used up.

A conversation that has used its whole first-response target gains ``AGING`` points, so a
standard customer near its deadline overtakes a gold customer who has just arrived, and
nobody waits forever behind a stream of higher tiers. Pure.
"""

from __future__ import annotations

from datetime import datetime

AGING = 100.0  # points gained over one full SLA target


def effective_priority(
    *, base: float, arrived_at: datetime, first_response_s: float, now: datetime, offset: float = 0.0
) -> float:
    waited = max((now - arrived_at).total_seconds(), 0.0)
    used = waited / first_response_s if first_response_s > 0 else 0.0
    return base + offset + AGING * used
