"""Search as a service: parse the query, narrow it to what the caller may open (the one
visibility rule), page through the index, make the snippets, and audit the read.

A search is audited like a read of each customer it shows: one ``audit.search`` event
per customer on the page, with the query in its data, so that erasing the customer
also blanks the query that found them (``hub.customers.privacy.erase``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth.sessions import Principal
from hub.auth.visibility import scope_of
from hub.customers import audit
from hub.errors import InputError
from hub.routing.rules import RuleSet
from hub.store import search_index
from hub.store.search_index import Filters, Hit
from hub.store.tables import conversations, search_docs
from hub.store.times import iso
from hub.text.index_terms import highlight
from hub.text.search_query import Query, parse

MAX_OFFSET = 10_000
COUNT_CAP = 1000


@dataclass(frozen=True, slots=True)
class Found:
    items: list[dict[str, Any]]
    customer_ids: list[str]
    next: str | None
    facets: dict[str, dict[str, int]]
    facets_capped: bool


def read_cursor(raw: str | None) -> int:
    """The offset an opaque ``next`` cursor stands for; InputError for anything else."""
    if raw is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(raw.encode("ascii") + b"==").decode("ascii")
    except (UnicodeError, binascii.Error, ValueError):
        raise InputError("cursor: not a cursor this hub gave out", field="cursor") from None
    if not text.startswith("o") or not text[1:].isascii() or not text[1:].isdigit():
        raise InputError("cursor: not a cursor this hub gave out", field="cursor")
    offset = int(text[1:])
    if offset > MAX_OFFSET:
        raise InputError(f"cursor: results end after {MAX_OFFSET}; narrow the search", field="cursor")
    return offset


def make_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode().rstrip("=")


async def _visible(conn: AsyncConnection, who: Principal, rules: RuleSet) -> Any:
    scope = await scope_of(conn, who, rules)
    return search_index.visibility(
        scope.clause(conversations), scope.customer_clause(search_docs.c.customer_id)
    )


def parsed(q: str | None, filters: Filters) -> Query:
    """The query; InputError when there is neither a word to find nor a filter."""
    query = parse(q or "")
    if not query and (query.excluded or filters == Filters()):
        raise InputError("q: give a word to find (a -word alone finds nothing)", field="q")
    return query


async def search(
    conn: AsyncConnection,
    who: Principal,
    rules: RuleSet,
    q: str | None,
    filters: Filters,
    *,
    cursor: str | None = None,
    limit: int = 20,
    with_facets: bool = True,
) -> Found:
    """A page of what ``who`` may open that matches ``q`` and ``filters`` (then audit
    it with ``audit_search``)."""
    query = parsed(q, filters)
    offset = read_cursor(cursor)
    visible = await _visible(conn, who, rules)
    hits, more, facets = await search_index.search(
        conn, query, filters, visible, offset=offset, limit=limit, with_facets=with_facets
    )
    wanted, prefixes = query.highlight_terms()
    return Found(
        items=[_item(h, wanted, prefixes) for h in hits],
        customer_ids=list(dict.fromkeys(h.customer_id for h in hits)),
        next=make_cursor(offset + limit) if more else None,
        facets=facets.counts if facets else {},
        facets_capped=bool(facets and facets.capped),
    )


async def audit_search(
    conn: AsyncConnection, who: Principal, q: str | None, filters: Filters, found: Found
) -> None:
    """Write the search down as a read of each customer it showed (in a write
    transaction of its own: the search itself never holds the write lock)."""
    for customer_id in found.customer_ids:
        await audit.record(
            conn,
            actor=who.actor,
            action="audit.search",
            subject_type="customer",
            subject_id=customer_id,
            customer_id=customer_id,
            data={"q": q or "", "filters": _described(filters)},
        )


async def count(
    conn: AsyncConnection, who: Principal, rules: RuleSet, q: str | None, filters: Filters
) -> int:
    """How many documents ``who`` may open match (up to COUNT_CAP): a saved view's count."""
    query = parsed(q, filters)
    return await search_index.count(conn, query, filters, await _visible(conn, who, rules), COUNT_CAP)


async def conversation_ids(
    conn: AsyncConnection, who: Principal, rules: RuleSet, q: str, filters: Filters, limit: int
) -> list[str]:
    """The conversations with a hit, best first (``GET /api/v1/conversations?q=``)."""
    query = parsed(q, filters)
    visible = await _visible(conn, who, rules)
    found: dict[str, None] = {}
    offset = 0
    while len(found) < limit and offset <= MAX_OFFSET:
        hits, more, _ = await search_index.search(conn, query, filters, visible, offset=offset, limit=200)
        found.update((h.conversation_id, None) for h in hits if h.conversation_id)
        if not more:
            break
        offset += 200
    return list(found)[:limit]


def _item(hit: Hit, wanted: frozenset[str], prefixes: tuple[str, ...]) -> dict[str, Any]:
    snippet = ""
    for text in hit.texts:
        snippet = highlight(text, wanted, prefixes)
        if "<mark>" in snippet:
            break
    else:
        snippet = highlight(hit.texts[0], wanted, prefixes) if hit.texts else ""
    return {
        "kind": hit.kind.value,
        "conversation_id": hit.conversation_id,
        "message_id": hit.message_id,
        "customer": {
            "id": hit.customer_id,
            "name": hit.customer_name,
            "organisation": hit.organisation,
            "tier": hit.tier,
            "key_account": hit.key_account,
        },
        "channel": hit.channel,
        "at": iso(hit.at),
        "snippet": snippet,
        "rank": round(hit.rank, 6),
    }


def _described(filters: Filters) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in Filters.__dataclass_fields__:
        value = getattr(filters, name)
        if value not in ((), None):
            out[name] = iso(value) if hasattr(value, "isoformat") else value
    return out
