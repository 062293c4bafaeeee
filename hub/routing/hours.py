"""Business hours: weekly opening windows in a time zone, closed on public holidays.

Holidays come from the ``holidays`` library by country and region (e.g. DE, BY). Pure:
the time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import holidays

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class BusinessHours:
    """``windows`` maps a weekday to (open, close) pairs; an absent day is closed.
    ``always`` means open around the clock (and on holidays)."""

    timezone: str = "UTC"
    windows: dict[str, tuple[tuple[time, time], ...]] = field(default_factory=dict)
    country: str | None = None
    subdivision: str | None = None
    always: bool = False

    @cached_property
    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _holidays(self) -> Any:
        if not self.country:
            return {}
        return holidays.country_holidays(self.country, subdiv=self.subdivision)

    def is_open(self, now: datetime) -> bool:
        if self.always:
            return True
        local = now.astimezone(self._zone)
        if local.date() in self._holidays:
            return False
        t = local.time()
        return any(start <= t < end for start, end in self.windows.get(DAYS[local.weekday()], ()))

    def add_open_time(self, start: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` of opening time have passed after ``start``: an SLA due
        time counted in business hours. Raises ValueError if the hours never open."""
        if self.always:
            return start + timedelta(seconds=seconds)
        zone = self._zone
        remaining = seconds
        cursor = start.astimezone(zone)
        for _ in range(MAX_DAYS_AHEAD):
            day = cursor.date()
            if day not in self._holidays:
                for open_t, close_t in sorted(self.windows.get(DAYS[day.weekday()], ())):
                    begin = max(cursor, datetime.combine(day, open_t, zone))
                    end = datetime.combine(day, close_t, zone)
                    if end <= begin:
                        continue
                    available = (end - begin).total_seconds()
                    if remaining <= available:
                        return (begin + timedelta(seconds=remaining)).astimezone(start.tzinfo)
                    remaining -= available
            cursor = datetime.combine(day + timedelta(days=1), time(0), zone)
        raise ValueError(f"the business hours do not open within {MAX_DAYS_AHEAD} days")


ALWAYS_OPEN = BusinessHours(always=True)
MAX_DAYS_AHEAD = 400


def parse_windows(spec: dict[str, Any], where: str) -> dict[str, tuple[tuple[time, time], ...]]:
    """``{"mon-fri": ["08:00-18:00"], "sat": ["09:00-13:00"]}`` -> windows per day.

    Raises ValueError naming ``where`` and the bad entry."""
    windows: dict[str, list[tuple[time, time]]] = {}
    for days, ranges in spec.items():
        first, _, last = str(days).partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"{where}: {days!r} is not a day or a range of days like mon-fri")
        span = DAYS[DAYS.index(first) : DAYS.index(last or first) + 1]
        for entry in ranges if isinstance(ranges, list) else [ranges]:
            try:
                start_s, end_s = str(entry).split("-")
                start, end = time.fromisoformat(start_s.strip()), time.fromisoformat(end_s.strip())
            except ValueError as exc:
                raise ValueError(f"{where}: {entry!r} is not a time range like 08:00-18:00") from exc
            if end <= start:
                raise ValueError(f"{where}: {entry!r} closes before it opens")
            for day in span:
                windows.setdefault(day, []).append((start, end))
    return {day: tuple(v) for day, v in windows.items()}
