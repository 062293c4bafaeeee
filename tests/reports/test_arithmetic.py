"""The pure arithmetic of reports: histogram bins and percentiles, buckets in a time
zone, the CSV header's language."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from hub.reports.bins import bin_of, lower_edge, percentile
from hub.reports.buckets import Bucket, bucket_key, bucket_label, offsets
from hub.reports.export import language, to_csv


def test_bins_are_exact_below_100_s_then_two_significant_digits() -> None:
    assert [lower_edge(bin_of(s)) for s in (0, 1.9, 59, 99, 100, 109, 110, 1680, 3540, 86_399)] == [
        0,
        1,
        59,
        99,
        100,
        100,
        110,
        1600,
        3500,
        86_000,
    ]
    assert bin_of(-5) == 0  # a clock skew counts as no wait


@given(st.integers(min_value=0, max_value=10**9))
def test_a_bins_lower_edge_is_at_most_10_percent_below_its_values(seconds: int) -> None:
    edge = lower_edge(bin_of(seconds))
    assert edge <= seconds and (seconds - edge) <= 0.1 * seconds
    assert bin_of(edge) == bin_of(seconds)


def test_nearest_rank_percentiles() -> None:
    counts = {bin_of(v): 1 for v in (60, 120, 300)}
    assert percentile(counts, 0.5) == 120 and percentile(counts, 0.9) == 300
    assert percentile({}, 0.5) is None
    assert percentile({bin_of(10): 9, bin_of(50): 1}, 0.9) == 10  # the 9th of 10 values


def test_buckets_in_berlin() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 22:30 UTC on Saturday 28 March is 23:30 CET; an hour later it is Sunday
    assert bucket_key(datetime(2026, 3, 28, 22, tzinfo=UTC), Bucket.DAY, berlin).isoformat() == "2026-03-28"
    assert bucket_key(datetime(2026, 3, 28, 23, tzinfo=UTC), Bucket.DAY, berlin).isoformat() == "2026-03-29"
    assert bucket_label(bucket_key(datetime(2026, 3, 30, 5, tzinfo=UTC), Bucket.MONTH, berlin), berlin) == (
        "2026-03-01T00:00:00+01:00"
    )
    assert bucket_label(bucket_key(datetime(2026, 4, 1, 5, tzinfo=UTC), Bucket.WEEK, berlin), berlin) == (
        "2026-03-30T00:00:00+02:00"
    )


def test_the_offsets_of_a_range_change_with_the_clocks() -> None:
    """What the store sums local days by: Berlin's offset from each change on."""
    berlin, kolkata = ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Kolkata")
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
    assert offsets(start, end, berlin) == [
        (start, 3600),
        (datetime(2026, 3, 29, 1, tzinfo=UTC), 7200),  # 02:00 CET became 03:00 CEST
        (datetime(2026, 10, 25, 1, tzinfo=UTC), 3600),  # 03:00 CEST became 02:00 CET
    ]
    assert offsets(start, end, kolkata) == [(start, 19800)]
    assert offsets(start, start, berlin) == []


def test_language_from_the_query_or_accept_language() -> None:
    assert language("de", "en") == "de"
    assert language(None, "fr-FR,fr;q=0.9,de;q=0.8,en;q=0.7") == "de"
    assert language(None, "en;q=0.5, de;q=0.9") == "de"
    assert language(None, "de;q=0, en") == "en"
    assert language(None, "fr, de;q=oops") == "en"
    assert language(None, None) == "en"


def test_csv_quotes_and_disarms_formulas() -> None:
    text = to_csv(["start", "queue", "count"], [["x", 'a,"b"', 1], ["y", "@SUM(A1)", None]], "en")
    assert text == 'Start,Queue,Count\r\nx,"a,""b""",1\r\ny,\'@SUM(A1),\r\n'
