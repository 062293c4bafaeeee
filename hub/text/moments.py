"""A moment a caller names in a query parameter (``from``, ``created_after`` …): a day or
an ISO 8601 time, read strictly, with a message that says what is wanted. Pure."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo

from hub.errors import InputError

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?")


def moment(name: str, raw: str, zone: tzinfo = UTC) -> datetime:
    """A day (its midnight in ``zone``) or an ISO 8601 time (without an offset: in
    ``zone``), from 1970 to 2200; a 422 naming ``name`` for anything else."""
    try:
        if _DATE.fullmatch(raw):
            day = date.fromisoformat(raw)
            at = datetime(day.year, day.month, day.day, tzinfo=zone)
        elif _TIME.fullmatch(raw):
            at = datetime.fromisoformat(raw)
            at = at.replace(tzinfo=zone) if at.tzinfo is None else at
        else:
            raise ValueError(raw)
    except ValueError as exc:
        raise InputError(
            f"{name}: a date (2026-03-29) or an ISO 8601 time, not {raw[:40]!r}", field=name
        ) from exc
    if not 1970 <= at.year <= 2200:
        raise InputError(f"{name}: a year from 1970 to 2200", field=name)
    return at
