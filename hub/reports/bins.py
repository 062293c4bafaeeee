"""The histogram a duration is kept in, so percentiles can be summed over hours and
dimensions: a fixed set of bins, the same everywhere, counted per rollup row.

A value in whole seconds below 100 has a bin of its own; above, a bin spans the values
that share their first two digits (100–109, 110–119, …, 1000–1099, …). A percentile is
read as the lower edge of the bin its rank falls in, so it is exact to the second below
100 s and otherwise at most 10 % low (two significant digits, rounded down). Pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

EXACT = 100  # whole seconds below this have a bin each
PER_DECADE = 90  # two-digit mantissas 10..99


def bin_of(seconds: float) -> int:
    """The bin of a duration (negative durations, clock skew, count as 0)."""
    whole = max(int(seconds), 0)
    if whole < EXACT:
        return whole
    shift = len(str(whole)) - 2  # digits after the first two
    mantissa: int = whole // 10**shift  # 10..99
    return EXACT + (shift - 1) * PER_DECADE + (mantissa - 10)


def lower_edge(bin_: int) -> int:
    """The smallest duration in whole seconds that falls in ``bin_``."""
    if bin_ < EXACT:
        return bin_
    shift, offset = divmod(bin_ - EXACT, PER_DECADE)
    edge: int = (offset + 10) * 10 ** (shift + 1)
    return edge


def percentile(counts: Mapping[int, int], share: float) -> int | None:
    """The nearest-rank percentile (``share`` from 0 to 1) of the values counted per bin:
    the lower edge of the bin holding the ``ceil(share × n)``-th smallest value; None
    when nothing was counted."""
    n = sum(counts.values())
    if n == 0:
        return None
    rank = max(math.ceil(share * n), 1)
    seen = 0
    for bin_ in sorted(counts):
        seen += counts[bin_]
        if seen >= rank:
            return lower_edge(bin_)
    raise AssertionError("unreachable: the ranks add up to n")
