"""Rollup hours (UTC) into the caller's buckets in a time zone. Pure.

A day, a week (Monday to Sunday) and a month start at local midnight, so across a change
to or from daylight saving time a day has 23 or 25 hours. An hour bucket is the UTC hour
shown in local time: the hour repeated when the clocks go back appears twice, with its
two offsets. In a zone whose offset is not a whole number of hours (India, +05:30), a
day starts at the first whole UTC hour at or after local midnight.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)


class Bucket(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


def _local_day(hour: datetime, zone: ZoneInfo) -> date:
    return hour.astimezone(zone).date()


def bucket_key(hour: datetime, bucket: Bucket, zone: ZoneInfo) -> datetime | date:
    """What identifies the bucket a UTC hour falls in."""
    if bucket is Bucket.HOUR:
        return hour
    day = _local_day(hour, zone)
    if bucket is Bucket.WEEK:
        return day - timedelta(days=day.weekday())
    if bucket is Bucket.MONTH:
        return day.replace(day=1)
    return day


def bucket_label(key: datetime | date, zone: ZoneInfo) -> str:
    """The bucket's start as an ISO time with the zone's offset then."""
    if isinstance(key, datetime):
        return key.astimezone(zone).isoformat()
    return datetime(key.year, key.month, key.day, tzinfo=zone).isoformat()


def hours(start: datetime, end: datetime) -> Iterator[datetime]:
    """The UTC hours from ``start`` up to ``end`` (both whole hours)."""
    at = start
    while at < end:
        yield at
        at += HOUR


def offsets(start: datetime, end: datetime, zone: ZoneInfo) -> list[tuple[datetime, int]]:
    """The zone's UTC offsets (seconds) over the UTC hours from ``start`` up to ``end``:
    each with the first hour it holds from, oldest first (one per change of the clocks),
    so the store can sum the hours of each local day (``repos.reports.rollups``)."""
    found: list[tuple[datetime, int]] = []
    for hour in hours(start, end):
        offset = hour.astimezone(zone).utcoffset()
        seconds = int(offset.total_seconds()) if offset is not None else 0
        if not found or found[-1][1] != seconds:
            found.append((hour, seconds))
    return found


def hour_of_day(hour: datetime, zone: ZoneInfo) -> int:
    return hour.astimezone(zone).hour


def weekday(hour: datetime, zone: ZoneInfo) -> int:
    """1 (Monday) to 7 (Sunday), as ISO 8601 numbers them."""
    return hour.astimezone(zone).isoweekday()
