"""A report as CSV, its header row in the caller's language (German or English). Pure.

RFC 4180: comma-separated, fields quoted where they hold a comma, a quote or a line
break, lines ended by CRLF, UTF-8. Numbers keep the decimal point (the file is for
programs as much as for people). A text cell that a spreadsheet would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading
apostrophe, as OWASP advises against CSV injection.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

LANGUAGES = ("en", "de")
HEADERS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "start": "Start",
        "channel": "Channel",
        "tier": "Tier",
        "queue": "Queue",
        "department": "Department",
        "agent": "Agent",
        "team": "Team",
        "key_account": "Key account",
        "hour_of_day": "Hour of day",
        "weekday": "Weekday",
        "business_hours": "Business hours",
        "tag": "Tag",
        "count": "Count",
        "mean": "Mean (s)",
        "median": "Median (s)",
        "p90": "90th percentile (s)",
        "max": "Maximum (s)",
        "numerator": "Numerator",
        "denominator": "Denominator",
        "value": "Value",
        "promise": "First-response promise (s)",
        "sla_met": "SLA met",
        "sla_missed": "SLA missed",
        "attainment": "SLA attainment",
        "first_response_median": "First response, median (s)",
        "first_response_p90": "First response, 90th percentile (s)",
        "longest_wait": "Longest wait before accept (s)",
        "breaches": "SLA breaches",
        "floor": "Attainment floor",
        "below_floor": "Below the floor",
    },
    "de": {
        "start": "Beginn",
        "channel": "Kanal",
        "tier": "Kundenstufe",
        "queue": "Warteschlange",
        "department": "Abteilung",
        "agent": "Mitarbeiter",
        "team": "Team",
        "key_account": "Schlüsselkunde",
        "hour_of_day": "Stunde",
        "weekday": "Wochentag",
        "business_hours": "Geschäftszeit",
        "tag": "Tag",
        "count": "Anzahl",
        "mean": "Mittelwert (s)",
        "median": "Median (s)",
        "p90": "90. Perzentil (s)",
        "max": "Maximum (s)",
        "numerator": "Zähler",
        "denominator": "Nenner",
        "value": "Wert",
        "promise": "Zusage erste Antwort (s)",
        "sla_met": "SLA eingehalten",
        "sla_missed": "SLA verfehlt",
        "attainment": "SLA-Erfüllung",
        "first_response_median": "Erste Antwort, Median (s)",
        "first_response_p90": "Erste Antwort, 90. Perzentil (s)",
        "longest_wait": "Längste Wartezeit bis zur Annahme (s)",
        "breaches": "SLA-Verletzungen",
        "floor": "Mindesterfüllung",
        "below_floor": "Unter der Mindesterfüllung",
    },
}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def language(query_lang: str | None, accept_language: str | None) -> str:
    """``lang`` if given (the caller checked it), else the first of German or English in
    ``Accept-Language`` by its q-values, else English."""
    if query_lang:
        return query_lang
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > 0:
            ranked.append((-q, position, primary))
    return min(ranked)[2] if ranked else "en"


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]], lang: str) -> str:
    """The CSV text: a header row naming ``columns`` in ``lang``, then ``rows``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    names = HEADERS[lang]
    writer.writerow([names.get(c, c) for c in columns])
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()
