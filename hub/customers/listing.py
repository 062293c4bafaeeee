"""The customer list's filters, sort and cursor, read strictly from query-string form
(``name -> text``), which is also how a saved segment keeps its filter
(``hub/store/segments.py``): one parser, so a segment means what the list shows.

Every bad value is a 422 naming the parameter. The parsing is pure; ``list_page`` reads
a page through the repository (``hub.store.repos.customer_list``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth.visibility import Scope
from hub.customers.records import CHANNELS, PURPOSES, CustomerRecords
from hub.errors import InputError
from hub.store.repos import customer_list as repo
from hub.store.repos.customer_list import CustomerFilter, ListedCustomer, Position, Sort, SortKey
from hub.store.times import iso
from hub.text.moments import moment

LISTS = ("tier", "key_account_manager", "contract", "payment_terms", "tag", "language", "consent")
FLAGS = ("key_account", "open_conversations")
TIMES = ("last_contact_after", "last_contact_before", "created_after", "created_before")
AMOUNTS = ("revenue_min", "revenue_max")
DAYS = ("contract_ends_before",)
FILTERS = (*LISTS, *FLAGS, *TIMES, *AMOUNTS, *DAYS, "currency")
MAX_VALUES = 50
MAX_VALUE = 200
_AMOUNT = re.compile(r"-?\d{1,15}(\.\d{1,6})?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_LANGUAGE = re.compile(r"[a-z]{2}(-[A-Z]{2})?")


def _values(name: str, raw: str) -> tuple[str, ...]:
    values = tuple(v.strip() for v in raw.split(","))
    if len(values) > MAX_VALUES or any(not v or len(v) > MAX_VALUE or "\x00" in v for v in values):
        raise InputError(
            f"{name}: up to {MAX_VALUES} values separated by commas,"
            f" none empty or over {MAX_VALUE} characters",
            field=name,
        )
    return values


def _flag(name: str, raw: str) -> bool:
    if raw not in ("true", "false"):
        raise InputError(f"{name}: true or false", field=name)
    return raw == "true"


def parse_time(name: str, raw: str) -> datetime:
    """A date (its midnight, UTC) or an ISO 8601 time (without an offset: UTC)."""
    return moment(name, raw).astimezone(UTC)


def _day(name: str, raw: str) -> date:
    try:
        if not _DAY.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise InputError(f"{name}: a day such as 2027-03-31", field=name) from None


def _amount(name: str, raw: str) -> float:
    if not _AMOUNT.fullmatch(raw):
        raise InputError(f"{name}: a number such as 25000 or 1999.50", field=name)
    return float(raw)


def _consent(raw: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in _values("consent", raw):
        channel, _, purpose = value.partition(":")
        if channel not in CHANNELS or purpose not in PURPOSES:
            raise InputError(
                f"consent: channel:purpose pairs such as email:marketing (channels {', '.join(CHANNELS)};"
                f" purposes {', '.join(PURPOSES)})",
                field="consent",
            )
        pairs.append((channel, purpose))
    return tuple(pairs)


_LIST_FIELDS = {
    "tier": "tiers",
    "key_account_manager": "key_account_managers",
    "contract": "contracts",
    "payment_terms": "payment_terms",
    "tag": "conversation_tags",
}


def _read(params: Mapping[str, str]) -> dict[str, Any]:
    """Each filter parameter read on its own."""
    got: dict[str, Any] = {}
    for name, field in _LIST_FIELDS.items():
        if name in params:
            got[field] = _values(name, params[name])
    if "language" in params:
        got["languages"] = _values("language", params["language"])
        if not all(_LANGUAGE.fullmatch(v) for v in got["languages"]):
            raise InputError("language: codes such as de, en or de-AT", field="language")
    if "consent" in params:
        got["consents"] = _consent(params["consent"])
    readers = [(FLAGS, _flag), (TIMES, parse_time), (AMOUNTS, _amount), (DAYS, _day)]
    for names, reader in readers:
        for name in names:
            if name in params:
                got[name] = reader(name, params[name])
    if "currency" in params:
        if not _CURRENCY.fullmatch(params["currency"]):
            raise InputError("currency: a code such as EUR", field="currency")
        got["currency"] = params["currency"]
    return got


def parse_filter(params: Mapping[str, str]) -> CustomerFilter:
    """The filter in ``params``; names not in ``FILTERS`` are the caller's to refuse."""
    got = _read(params)
    if ("revenue_min" in got or "revenue_max" in got) and "currency" not in got:
        field = "revenue_min" if "revenue_min" in got else "revenue_max"
        raise InputError(
            f"{field}: give the currency too (amounts in other currencies do not compare)", field=field
        )
    if "revenue_min" in got and "revenue_max" in got and got["revenue_min"] > got["revenue_max"]:
        raise InputError("revenue_max: at least revenue_min", field="revenue_max")
    for low, high in (("last_contact_after", "last_contact_before"), ("created_after", "created_before")):
        if low in got and high in got and got[low] >= got[high]:
            raise InputError(f"{high}: after {low}", field=high)
    return CustomerFilter(**got)


def filter_params(params: Mapping[str, str]) -> dict[str, str]:
    """The filter parameters among ``params``, as given."""
    return {name: value for name, value in params.items() if name in FILTERS}


SORTS = tuple(s for key in SortKey for s in (key.value, f"-{key.value}"))


def parse_sort(raw: str | None) -> Sort:
    if raw is None:
        return Sort()
    if raw not in SORTS:
        raise InputError(f"sort: one of {', '.join(SORTS)} (a minus: descending)", field="sort")
    return Sort(key=SortKey(raw.removeprefix("-")), descending=raw.startswith("-"))


def encode_cursor(sort: Sort, position: Position) -> str:
    value = position.value
    plain = value.isoformat() if isinstance(value, datetime) else value
    raw = orjson.dumps([sort.key.value, sort.descending, plain, position.customer_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(sort: Sort, cursor: str) -> Position:
    """The position a cursor of this list gave (for the same sort), else a 422."""
    bad = InputError("cursor: not one this list gave for this sort; start again without it", field="cursor")
    if len(cursor) > 2000:
        raise bad
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise bad from exc
    if not (isinstance(data, list) and len(data) == 4 and isinstance(data[3], str)):
        raise bad
    key, descending, value, customer_id = data
    if key != sort.key.value or descending is not sort.descending:
        raise bad
    if value is None:
        return Position(value=None, customer_id=customer_id)
    if sort.key is SortKey.NAME and isinstance(value, str):
        return Position(value=value, customer_id=customer_id)
    if sort.key is SortKey.REVENUE and isinstance(value, int | float) and not isinstance(value, bool):
        return Position(value=float(value), customer_id=customer_id)
    if sort.key in (SortKey.CREATED, SortKey.LAST_CONTACT) and isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
        except ValueError as exc:
            raise bad from exc
        if at.tzinfo is not None:
            return Position(value=at, customer_id=customer_id)
    raise bad


LIST_PARAMS = frozenset((*FILTERS, "q", "sort", "cursor", "limit"))


def listed(c: ListedCustomer) -> dict[str, Any]:
    """A listed customer as the API shows it."""
    return {
        "id": c.id,
        "name": c.name,
        "organisation": c.organisation,
        "tier": c.tier,
        "key_account": c.key_account,
        "key_account_manager_id": c.key_account_manager_id,
        "language": c.language,
        "revenue": c.revenue,
        "contracts": c.contracts,
        "payment_terms": c.payment_terms,
        "last_contact_at": iso(c.last_contact_at),
        "open_conversations": c.open_conversations,
        "created_at": iso(c.created_at),
    }


async def list_page(
    conn: AsyncConnection,
    records: CustomerRecords,
    scope: Scope,
    params: Mapping[str, str],
    limit: int,
) -> dict[str, Any]:
    """A page of the customers ``scope`` may see that match the filters (and the search
    words ``q``) in ``params``: ``items`` and ``next_cursor`` (None on the last page)."""
    for name in params:
        if name not in LIST_PARAMS:
            raise InputError(
                f"{name}: not a parameter of the customer list; it takes {', '.join(sorted(LIST_PARAMS))}",
                field=name,
            )
    chosen = parse_filter(params)
    sort = parse_sort(params.get("sort"))
    after = decode_cursor(sort, params["cursor"]) if "cursor" in params else None
    extra = [records.matching(params["q"], repo.cu.id)] if "q" in params else []
    rows = await repo.page(conn, chosen, scope.customer_clause, sort, after, limit + 1, extra)
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = (
        encode_cursor(sort, Position(value=rows[-1].sort_value, customer_id=rows[-1].id)) if more else None
    )
    return {"items": [listed(r) for r in rows], "next_cursor": cursor}


SEGMENT_PARAMS = frozenset((*FILTERS, "q"))


def check_segment_filters(filters: Mapping[str, str]) -> None:
    """A segment's filter holds the list's filter parameters (and ``q``), each valid."""
    for name, value in filters.items():
        if name not in SEGMENT_PARAMS:
            raise InputError(
                f"filters: unknown filter {name[:40]!r}; known: {', '.join(sorted(SEGMENT_PARAMS))}",
                field="filters",
            )
        if not value.strip():
            raise InputError(f"filters: {name} is empty", field="filters")
    parse_filter(filters)


def _members_query(
    records: CustomerRecords, filters: Mapping[str, str], only: tuple[str, ...] | None
) -> tuple[CustomerFilter, list[Any]]:
    chosen = parse_filter(filters)
    if only is not None:
        chosen = CustomerFilter(**{**_fields(chosen), "customer_ids": only})
    extra = [records.matching(filters["q"], repo.cu.id)] if "q" in filters else []
    return chosen, extra


def _fields(f: CustomerFilter) -> dict[str, Any]:
    return {name: getattr(f, name) for name in f.__dataclass_fields__}


async def segment_count(
    conn: AsyncConnection, records: CustomerRecords, scope: Scope, filters: Mapping[str, str]
) -> int:
    """How many customers ``scope`` may see match a segment's filter, now."""
    chosen, extra = _members_query(records, filters, None)
    return await repo.count(conn, chosen, scope.customer_clause, extra)


async def segment_members(
    conn: AsyncConnection,
    records: CustomerRecords,
    scope: Scope,
    filters: Mapping[str, str],
    only: tuple[str, ...] | None = None,
) -> list[str]:
    """The ids of the customers ``scope`` may see that match a segment's filter (and are
    among ``only``, when given)."""
    chosen, extra = _members_query(records, filters, only)
    return await repo.ids(conn, chosen, scope.customer_clause, extra)
