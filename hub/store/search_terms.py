"""Search terms: the words (``hub.text.words``) of a customer's name and organisation,
kept in ``search_terms`` so a prefix search is an index range on both databases.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.bulk import insert_rows
from hub.store.tables import search_terms
from hub.text.words import terms_of

PREFIX_END = "\U0010ffff"


def term_rows(customer_id: str, *texts: str | None) -> list[dict[str, str]]:
    return [{"term": t, "customer_id": customer_id} for t in sorted(terms_of(*texts))]


async def replace_terms(conn: AsyncConnection, customer_id: str, *texts: str | None) -> None:
    await conn.execute(sa.delete(search_terms).where(search_terms.c.customer_id == customer_id))
    await insert_rows(conn, search_terms, term_rows(customer_id, *texts))


def prefix_match(prefix: str, table: sa.FromClause = search_terms) -> sa.ColumnElement[bool]:
    """``term`` starts with ``prefix``, as an index range (on the table or an alias of it)."""
    return sa.and_(table.c.term >= prefix, table.c.term < prefix + PREFIX_END)


def all_rows(customers: Iterable[tuple[str, str | None, str | None]]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for customer_id, name, organisation in customers:
        rows += term_rows(customer_id, name, organisation)
    return rows
