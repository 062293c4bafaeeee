"""Reports about a set of customers (a segment's members, a key account manager's
accounts) or of tagged conversations, computed from their stored events when asked.

The rollups have no customer or tag dimension (one would multiply their rows by the
number of customers; a conversation has several tags), so such a report is not read
from them: the same pure ``rollup_rows`` runs over the events and messages of those
conversations in the range, and the result is summed as ``repos.reports.rollups`` sums
stored rows. The cost grows with those conversations' activity in the range, not with
the whole hub's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from hub.reports.refresh import rows_of
from hub.store.engine import Store
from hub.store.repos import reports as repo
from hub.store.repos.reports import RollupRow


async def computed(
    store: Store,
    start: datetime,
    end: datetime,
    *,
    customer_ids: Sequence[str] | None = None,
    tags: Sequence[str] = (),
) -> list[RollupRow]:
    """What the rollups of the hours from ``start`` up to ``end`` would hold if only
    these customers' conversations (all, when None), and of those only the ones tagged
    with one of ``tags`` (any, when none), had happened."""
    customers = None if customer_ids is None else sorted(set(customer_ids))
    async with store.read() as conn:
        return await rows_of(conn, start, end, customers, tags)


def summed(
    rows: Sequence[RollupRow],
    measures: Sequence[str],
    *,
    by: Sequence[str] = (),
    filters: Mapping[str, Sequence[str | bool]] | None = None,
) -> list[RollupRow]:
    """``rows`` of ``measures`` whose dimensions match ``filters``, summed per hour,
    measure, bin and the dimensions ``by`` (the others ''), as the store sums them."""
    for name in (*by, *(filters or {})):
        if name not in repo.DIMENSIONS:
            raise ValueError(f"not a rollup dimension: {name}")
    wanted = set(measures)
    sums: dict[tuple[object, ...], list[float]] = {}
    for row in rows:
        if row.measure not in wanted:
            continue
        if any(getattr(row, name) not in values for name, values in (filters or {}).items()):
            continue
        key = (row.hour, row.measure, row.bin, *(getattr(row, name) for name in by))
        cell = sums.setdefault(key, [0, 0.0, row.peak])
        cell[0] += row.n
        cell[1] += row.total
        cell[2] = max(cell[2], row.peak)
    found = []
    for key, (n, total, peak) in sums.items():
        hour, measure, bin_, *dims = key
        assert isinstance(hour, datetime) and isinstance(measure, str) and isinstance(bin_, int)
        found.append(
            RollupRow(
                hour=hour,
                measure=measure,
                bin=bin_,
                n=int(n),
                total=total,
                peak=peak,
                **dict(zip(by, dims, strict=True)),  # type: ignore[arg-type]
            )
        )
    return found
