"""The search index: one repository over SQLite FTS5 and PostgreSQL full-text search.

A document is a message (subject, text, an email's full text, its files' names), an
internal note, a customer (name, organisation, identities), or a conversation (its
tags, its department, and its subject where no message carries it). Its terms come from
``hub.text.index_terms`` (the same code at indexing and query time on both backends):

- SQLite: ``search_docs.raw/de/en`` are the external content of the FTS5 table
  ``search_fts`` (``put`` inserts into both; triggers follow deletes and updates);
  ranked by ``bm25``. search_docs has no B-tree beside ``at``: a document is found by
  its customer, conversation or source through the FTS5 column ``keys`` (``_keyed``),
  as B-trees over random ids cost a page written per document at every commit
  (migration 0021).
- PostgreSQL: the column ``search_docs.terms`` is a tsvector written from the same
  terms (``raw`` at positions from 1, ``de`` from DE_AT, ``en`` from EN_AT, so that a
  phrase never spans two streams) and GIN-indexed; ranked by ``ts_rank_cd``.

Who may see a hit is not decided here: callers pass the visibility rule's clause
(``hub.auth.visibility``), built over ``search_docs`` and ``conversations``.
Writers call ``put`` in their own transaction (ingest, notes, customer changes), so the
index is never a second pass that a crash could leave behind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY, TSVECTOR
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.bulk import any_of, holds_any, is_pg
from hub.store.engine import Store
from hub.store.tables import attachments, conversations, customers, events, identities, messages, search_docs
from hub.text.index_terms import MAX_WORDS, Streams, streams
from hub.text.search_query import Query, fts5_match, tsquery

d = search_docs.c
c = conversations.c
cu = customers.c
DE_AT = 5500
EN_AT = 11000
# the documents the words pick before the joins (``search``), and the most before it
# takes every match
CANDIDATES = 1000
MAX_CANDIDATES = 100_000
# facets count at most this many matches (``Facets.capped`` says when there were more)
FACET_CAP = 1000
# identities not indexed with their customer: a chat visitor's is a random token
UNSEARCHABLE_IDENTITIES = ("chat_visitor",)
# conversations re-indexed per statement (a retention run may hand over many)
REFRESH_CHUNK = 1000
# what only one backend has, beside the tables: kept out of the schema comparison
BACKEND_OBJECTS = frozenset({"search_fts", "terms", "search_docs_terms", "keys"})
# what only PostgreSQL's search_docs has (SQLite finds documents through ``keys``)
PG_ONLY = frozenset({"uq_search_docs_source", "ix_search_docs_customer_id", "ix_search_docs_conversation_id"})

_fts = sa.table("search_fts", sa.column("rowid", sa.Integer))
_FTS: sa.ColumnElement[Any] = sa.literal_column("search_fts")
_pg_docs = sa.table(
    "search_docs",
    *(sa.column(col.name, col.type) for col in search_docs.c if col.name != "id"),
    sa.column("terms", TSVECTOR),
)
_pg_terms = sa.literal_column("search_docs.terms", TSVECTOR)
_SQLITE_FTS_INSERT = (
    "INSERT INTO search_fts (rowid, raw, de, en, keys)"
    " SELECT id, raw, de, en, keys FROM search_docs WHERE id > ?"
)
_SQLITE_INSERT = (
    "INSERT INTO search_docs (source, kind, customer_id, conversation_id, message_id, channel, at,"
    " raw, de, en) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class DocKind(StrEnum):
    MESSAGE = "message"
    NOTE = "note"
    CUSTOMER = "customer"
    CONVERSATION = "conversation"


@dataclass(frozen=True, slots=True)
class Doc:
    """A document to index; ``source`` names it, so indexing it again replaces it."""

    source: str
    kind: DocKind
    customer_id: str
    at: datetime
    terms: Streams
    conversation_id: str | None = None
    message_id: str | None = None
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class Filters:
    """What a search is narrowed to; empty tuples and None narrow nothing. Values of
    one filter are alternatives (OR); filters combine with AND."""

    channel: tuple[str, ...] = ()
    tier: tuple[str, ...] = ()
    queue: tuple[str, ...] = ()
    department: tuple[str, ...] = ()
    tag: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    assignee: tuple[str, ...] = ()
    customer: tuple[str, ...] = ()
    key_account: bool | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """One document found: where it is, whose it is, its rank and the texts to show."""

    kind: DocKind
    customer_id: str
    conversation_id: str | None
    message_id: str | None
    channel: str | None
    at: datetime
    rank: float
    customer_name: str | None
    organisation: str | None
    tier: str
    key_account: bool
    texts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Facets:
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    capped: bool = False


def message_doc(row: Any, files: Iterable[str] = (), language: str | None = None) -> Doc:
    """The document of a message row (``id``, ``conversation_id``, ``customer_id``,
    ``channel``, ``received_at``, ``subject``, ``text``, ``meta``)."""
    return Doc(
        source=f"m:{row.id}",
        kind=DocKind.MESSAGE,
        customer_id=row.customer_id,
        conversation_id=row.conversation_id,
        message_id=row.id,
        channel=row.channel,
        at=row.received_at,
        terms=streams(message_texts(row.subject, row.text, row.meta, files), language),
    )


def message_texts(subject: str | None, text: str, meta: Any, files: Iterable[str]) -> tuple[str, ...]:
    """What of a message is searchable: subject, text, the full text with quotes when the
    text leaves them out, the files' names."""
    full = meta.get("full_text") if isinstance(meta, dict) else None
    extra = (full,) if isinstance(full, str) and full and full != text else ()
    return tuple(t for t in (subject, text, *extra, *files) if t)


async def index_messages(
    conn: AsyncConnection,
    rows: Sequence[Mapping[str, Any]],
    files: Sequence[Mapping[str, Any]],
    languages: Mapping[str, str | None] | None = None,
) -> None:
    """Index freshly stored messages (``messages`` rows as inserted, and their
    ``attachments`` rows), each in its customer's language (``languages`` by customer,
    when the caller has them; a customer missing there has none)."""
    if not rows:
        return
    names: dict[str, list[str]] = {}
    for f in files:
        names.setdefault(f["message_id"], []).append(f["filename"])
    language = (
        languages if languages is not None else await languages_of(conn, (r["customer_id"] for r in rows))
    )
    await put(
        conn,
        [
            message_doc(SimpleNamespace(**r), names.get(r["id"], ()), language.get(r["customer_id"]))
            for r in rows
        ],
        fresh=True,  # a message is stored once: (channel, external_id) is unique
    )


def note_doc(event_id: int, conversation_id: str, customer_id: str, text: str, at: datetime) -> Doc:
    return Doc(
        source=f"n:{event_id}",
        kind=DocKind.NOTE,
        customer_id=customer_id,
        conversation_id=conversation_id,
        at=at,
        terms=streams([text]),
    )


def conversation_texts(route: Any, carried: Iterable[str] = ()) -> tuple[str, ...]:
    """What of a conversation's routing state is searchable: its tags, its department,
    and the subject copied from its first message unless a message in ``carried`` (the
    subjects its messages still have) starts with it, which is indexed with that message
    already (a hit there is better: it opens at the message)."""
    if not isinstance(route, dict):
        return ()
    tags = [t for t in route.get("tags") or () if isinstance(t, str) and t]
    department = route.get("department")
    subject = route.get("subject")
    if not isinstance(subject, str) or any(s.startswith(subject) for s in carried):
        subject = None
    return tuple(t for t in (", ".join(tags), department, subject) if isinstance(t, str) and t)


def indexes_route(route: Any) -> bool:
    """Whether a route gives its conversation a document of its own beside its messages':
    tags or a department (its subject is its first message's, indexed with it)."""
    return isinstance(route, dict) and bool(route.get("tags") or route.get("department"))


def conversation_doc(row: Any, carried: Iterable[str] = ()) -> Doc | None:
    """The document of a conversation row (``id``, ``customer_id``, ``channel``,
    ``opened_at``, ``route``, ``language``: the customer's), or None when there is
    nothing of it to find. The route's language (the first message's) comes first."""
    texts = conversation_texts(row.route, carried)
    if not texts:
        return None
    route = row.route if isinstance(row.route, dict) else {}
    language = route.get("language") if isinstance(route.get("language"), str) else None
    return Doc(
        source=f"v:{row.id}",
        kind=DocKind.CONVERSATION,
        customer_id=row.customer_id,
        conversation_id=row.id,
        channel=row.channel,
        at=row.opened_at,
        terms=streams(texts, language or row.language),
    )


async def refresh_conversations(conn: AsyncConnection, conversation_ids: Iterable[str]) -> None:
    """Index the conversations' tags, departments and subjects afresh, in the caller's
    transaction: every writer of a conversation's tags or department calls it. A
    conversation of an erased customer, or with nothing to find, keeps no document."""
    ids = sorted(set(conversation_ids))
    for start in range(0, len(ids), REFRESH_CHUNK):
        await _refresh_conversations(conn, ids[start : start + REFRESH_CHUNK])


async def _refresh_conversations(conn: AsyncConnection, ids: Sequence[str]) -> None:
    rows = (
        await conn.execute(
            sa.select(c.id, c.customer_id, c.channel, c.opened_at, c.route, cu.language, cu.erased_at)
            .join(customers, cu.id == c.customer_id)
            .where(any_of(conn, c.id, ids))
        )
    ).all()
    with_subject = [r.id for r in rows if isinstance(r.route, dict) and r.route.get("subject")]
    carried: dict[str, list[str]] = {}
    if with_subject:
        m = messages.c
        for found in await conn.execute(
            sa.select(m.conversation_id, m.subject)
            .where(any_of(conn, m.conversation_id, with_subject), m.subject.is_not(None))
            .distinct()
        ):
            carried.setdefault(found.conversation_id, []).append(found.subject)
    await _delete(conn, d.source, [f"v:{i}" for i in ids])
    docs = [conversation_doc(r, carried.get(r.id, ())) for r in rows if r.erased_at is None]
    await put(conn, [doc for doc in docs if doc is not None], fresh=True)


async def put(conn: AsyncConnection, docs: Sequence[Doc], *, fresh: bool = False) -> None:
    """Index ``docs``, replacing what was indexed under the same sources (``fresh``:
    nothing was, e.g. messages this transaction stored)."""
    if not docs:
        return
    if not fresh:
        await _delete(conn, d.source, [doc.source for doc in docs])
    if is_pg(conn):
        # one statement of arrays, as hub.store.bulk.insert_rows: its text does not
        # depend on the number of documents, so it is prepared once
        values = {
            "source": [doc.source for doc in docs],
            "kind": [doc.kind.value for doc in docs],
            "customer_id": [doc.customer_id for doc in docs],
            "conversation_id": [doc.conversation_id for doc in docs],
            "message_id": [doc.message_id for doc in docs],
            "channel": [doc.channel for doc in docs],
            "at": [doc.at for doc in docs],
        }
        arrays = [
            sa.func.unnest(sa.bindparam(None, column, type_=ARRAY(search_docs.c[name].type)))
            for name, column in values.items()
        ]
        vectors = sa.bindparam(None, [tsvector_text(doc.terms) for doc in docs], type_=ARRAY(sa.Text))
        await conn.execute(
            sa.insert(_pg_docs).from_select(
                [*values, "terms"], sa.select(*arrays, sa.cast(sa.func.unnest(vectors), TSVECTOR))
            )
        )
    else:
        # straight to the driver: per row this is a tenth of what a compiled insert
        # costs, and indexing is on the ingest path (bench/search.py)
        stamp = search_docs.c.at.type.bind_processor(conn.dialect) or str
        before = await conn.scalar(sa.select(sa.func.coalesce(sa.func.max(d.id), 0)))
        await conn.exec_driver_sql(
            _SQLITE_INSERT,
            [
                (
                    doc.source,
                    doc.kind.value,
                    doc.customer_id,
                    doc.conversation_id,
                    doc.message_id,
                    doc.channel,
                    stamp(doc.at),
                    doc.terms.raw,
                    doc.terms.de,
                    doc.terms.en,
                )
                for doc in docs
            ],
        )
        # the new rows have the ids after ``before`` (this transaction is the only writer,
        # and SQLite gives max(id) + 1): one statement hands them to FTS5, where a trigger
        # per row cost five times the FTS5 insert itself (migration 0021)
        await conn.exec_driver_sql(_SQLITE_FTS_INSERT, (before,))


_KEYS = {"source": "doc", "customer_id": "customer", "conversation_id": "conversation"}
# keys looked up per FTS5 statement (an OR of this many tokens)
KEYED_CHUNK = 500


def _keyed(conn: AsyncConnection, column: sa.Column[Any], values: Sequence[str]) -> sa.ColumnElement[bool]:
    """Documents whose ``column`` (source, customer_id or conversation_id) is one of
    ``values``: on PostgreSQL through the column's B-tree, on SQLite through the FTS5
    ``keys`` column (the column is compared too, so the result is exact)."""
    if not values:
        return sa.false()
    exact = any_of(conn, column, values)
    if is_pg(conn):
        return exact
    found = sa.select(_fts.c.rowid).where(_FTS.op("MATCH")(_key_match(column, values)))
    return sa.and_(d.id.in_(found), exact)


def _key_match(column: sa.Column[Any], values: Sequence[str]) -> str:
    """The FTS5 expression for documents whose ``column`` is one of ``values``: each a
    quoted string (quotes doubled; a NUL, which would end FTS5's string, dropped: the
    column's own comparison keeps the result exact)."""
    tokens = " OR ".join(
        '"' + f"{_KEYS[column.name]}:{v}".replace('"', '""').replace("\x00", "") + '"' for v in values
    )
    return f"keys : ({tokens})"


async def _delete(conn: AsyncConnection, column: sa.Column[Any], values: Sequence[str]) -> None:
    for start in range(0, len(values), KEYED_CHUNK):
        await conn.execute(
            sa.delete(search_docs).where(_keyed(conn, column, values[start : start + KEYED_CHUNK]))
        )


# the positions of a stream's words, as text; MAX_WORDS keeps a stream inside its range
_AT = {start: [str(i) for i in range(start, start + MAX_WORDS)] for start in (1, DE_AT, EN_AT)}


def tsvector_text(terms: Streams) -> str:
    """The tsvector literal of a document's streams: each term with its positions
    (``rechnung:4,5503``). Terms are letters and digits, so they need no quotes; merged
    here, as PostgreSQL merging repeated terms costs more than this does."""
    at: dict[str, str] = {}
    for stream, positions in ((terms.raw, _AT[1]), (terms.de, _AT[DE_AT]), (terms.en, _AT[EN_AT])):
        for term, position in zip(stream.split(), positions, strict=False):  # positions: more
            known = at.get(term)
            at[term] = position if known is None else f"{known},{position}"
    return " ".join(map(":".join, at.items()))


async def languages_of(conn: AsyncConnection, customer_ids: Iterable[str]) -> dict[str, str | None]:
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    rows = await conn.execute(sa.select(cu.id, cu.language).where(any_of(conn, cu.id, ids)))
    return {r.id: r.language for r in rows}


async def refresh_customers(conn: AsyncConnection, customer_ids: Iterable[str]) -> None:
    """Index the customers' names, organisations and identities afresh (an erased or
    missing customer keeps no document)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return
    rows = (
        await conn.execute(
            sa.select(cu.id, cu.name, cu.organisation, cu.language, cu.created_at, cu.erased_at).where(
                any_of(conn, cu.id, ids)
            )
        )
    ).all()
    values: dict[str, list[str]] = {}
    for r in await conn.execute(
        sa.select(identities.c.customer_id, identities.c.value).where(
            any_of(conn, identities.c.customer_id, ids), identities.c.kind.not_in(UNSEARCHABLE_IDENTITIES)
        )
    ):
        values.setdefault(r.customer_id, []).append(r.value)
    await _delete(conn, d.source, [f"c:{i}" for i in ids])
    await put(
        conn,
        [
            customer_doc(r.id, r.created_at, [r.name, r.organisation, *values.get(r.id, ())], r.language)
            for r in rows
            if r.erased_at is None
        ],
        fresh=True,
    )


def customer_doc(
    customer_id: str, created_at: datetime, texts: Iterable[str | None], language: str | None
) -> Doc:
    """The document of a customer: ``texts`` are its name, organisation and identities
    (not a chat visitor's, which is a random token)."""
    return Doc(
        source=f"c:{customer_id}",
        kind=DocKind.CUSTOMER,
        customer_id=customer_id,
        at=created_at,
        terms=streams(texts, language),
    )


async def index_new_customers(
    conn: AsyncConnection, created: Sequence[tuple[str, str | None, str, str, datetime]]
) -> None:
    """Index customers ingest has just created: (id, name, identity kind, identity value,
    created at) each, with no language yet."""
    await put(
        conn,
        [
            customer_doc(i, at, [name, None if kind in UNSEARCHABLE_IDENTITIES else value], None)
            for i, name, kind, value, at in created
        ],
        fresh=True,
    )


async def move_documents(
    conn: AsyncConnection,
    to_customer: str,
    *,
    customer_id: str | None = None,
    conversation_ids: Sequence[str] = (),
) -> None:
    """A merge (all of ``customer_id``'s documents) or an unmerge (those of
    ``conversation_ids``) moves documents to ``to_customer``; customer documents stay."""
    where = (
        _keyed(conn, d.customer_id, [customer_id])
        if customer_id
        else _keyed(conn, d.conversation_id, conversation_ids)
    )
    await conn.execute(
        sa.update(search_docs).where(where, d.kind != DocKind.CUSTOMER.value).values(customer_id=to_customer)
    )


async def forget_customer(conn: AsyncConnection, customer_id: str) -> None:
    """Erasure: every document of the customer leaves the index, and on SQLite the FTS5
    index is rewritten, so its old pages (zeroed by ``secure_delete``) keep no term."""
    await _delete(conn, d.customer_id, [customer_id])
    if not is_pg(conn):
        await conn.exec_driver_sql("INSERT INTO search_fts(search_fts) VALUES ('optimize')")


async def forget_messages(conn: AsyncConnection, message_ids: sa.Select[Any]) -> None:
    """Retention: the documents of the messages ``message_ids`` selects leave the index."""
    await conn.execute(
        sa.delete(search_docs).where(d.kind == DocKind.MESSAGE.value, d.message_id.in_(message_ids))
    )


# --- searching -------------------------------------------------------------------
def _source(
    conn: AsyncConnection,
    query: Query,
    candidates: int | None = None,
    filters: Filters | None = None,
    bounds: tuple[int, int] | None = None,
) -> tuple[sa.FromClause, list[Any], Any]:
    """The FROM clause, the WHERE parts for the words, and the rank expression.

    With ``candidates``, the words pick that many documents before anything is joined
    (the joins, filters and visibility then run on those only): the latest that match,
    ranked among themselves. Ranking every match first would read every match (a common
    word is in a third of all documents): FTS5 walks its rowids backwards and PostgreSQL
    the ``at`` index, and both stop at ``candidates``. The filters on the document itself
    (channel, customer, dates) narrow the candidates; on SQLite, ``bounds`` (the rowids of
    a date range: ``_rowid_bounds``) keep the walk inside the range."""
    own = _doc_filters(conn, filters) if filters else []
    joined = search_docs.outerjoin(conversations, c.id == d.conversation_id).join(
        customers, cu.id == d.customer_id
    )
    if not query:
        return joined, [], sa.literal(0.0)
    if is_pg(conn):
        q = sa.cast(sa.literal(tsquery(query)), TSQUERY)
        if candidates is None:
            return joined, [_pg_terms.op("@@")(q)], sa.func.ts_rank_cd(_pg_terms, q)
        picked = (
            sa.select(d.id.label("doc_id"), sa.func.ts_rank_cd(_pg_terms, q).label("score"))
            .where(_pg_terms.op("@@")(q), *own)
            .order_by(d.at.desc(), d.id.desc())
            .limit(candidates)
            .subquery("picked")
        )
        return picked.join(joined, d.id == picked.c.doc_id), [], picked.c.score
    match = fts5_match(query)
    if filters and filters.customer:  # the customer's documents by their keys, in the same walk
        match = f"({match}) AND {_key_match(d.customer_id, filters.customer)}"
    walk = [_FTS.op("MATCH")(match)]
    if bounds is not None:
        walk.append(_fts.c.rowid.between(*bounds))
    if candidates is None:
        matched = _fts.join(joined, d.id == _fts.c.rowid)
        return matched, walk, -sa.func.bm25(_FTS)
    latest = (
        sa.select(_fts.c.rowid.label("doc_id"), sa.literal_column("search_fts.rank").label("score"))
        .select_from(_fts.join(search_docs, d.id == _fts.c.rowid) if own else _fts)
        .where(*walk, *own)
        .order_by(_fts.c.rowid.desc())
        .limit(candidates)
        .subquery("latest")
    )
    return latest.join(joined, d.id == latest.c.doc_id), [], -latest.c.score


async def _plan_for_search(conn: AsyncConnection) -> None:
    """On PostgreSQL, for the rest of this (read) transaction: plan each statement for
    its own words, and join without hashing. A plan cached for any words guesses a few
    thousand matches and reads all 250,000 of a common word's to sort them by date
    (820 ms at 1,000,000 messages, bench/search.py), where the words' own plan walks the
    ``at`` index backwards and stops at the candidates (15 ms). And the planner, unable
    to estimate the visibility rule's ORs, hashed every conversation to join a thousand
    documents to theirs (159 ms) instead of looking them up by key (24 ms)."""
    if is_pg(conn):
        await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
        await conn.exec_driver_sql("SET LOCAL enable_hashjoin = off")


# a date range of at most this many documents bounds the FTS5 walk by their rowids
BOUNDED_RANGE = 100_000


async def _rowid_bounds(conn: AsyncConnection, filters: Filters) -> tuple[int, int] | None:
    """On SQLite, the lowest and the highest rowid of the documents in the filters' date
    range, read off the ``at`` index, when the range holds at most BOUNDED_RANGE of them.
    Rowids follow the order of indexing, not of ``at`` (mail may arrive late), so the
    bounds only narrow the walk; ``at`` is still compared. Without them, a range long ago
    is found by walking every later match."""
    if is_pg(conn) or (filters.since is None and filters.until is None):
        return None
    inner = sa.select(d.id).where(*_doc_filters(conn, Filters(since=filters.since, until=filters.until)))
    ids = inner.limit(BOUNDED_RANGE + 1).subquery()
    found, low, high = (
        await conn.execute(sa.select(sa.func.count(), sa.func.min(ids.c.id), sa.func.max(ids.c.id)))
    ).one()
    if found > BOUNDED_RANGE:
        return None
    return (low, high) if found else (0, -1)


def _department() -> sa.ColumnElement[Any]:
    department: sa.ColumnElement[Any] = c.route["department"].as_string()
    return department


def _doc_filters(conn: AsyncConnection, f: Filters) -> list[sa.ColumnElement[bool]]:
    parts: list[sa.ColumnElement[bool]] = []
    if f.channel:
        parts.append(d.channel.in_(list(f.channel)))
    if f.customer and is_pg(conn):  # SQLite: in the MATCH (``_source``)
        parts.append(any_of(conn, d.customer_id, f.customer))
    if f.since is not None:
        parts.append(d.at >= f.since)
    if f.until is not None:
        parts.append(d.at < f.until)
    return parts


def _filters(conn: AsyncConnection, f: Filters) -> list[sa.ColumnElement[bool]]:
    parts: list[sa.ColumnElement[bool]] = []
    for column, values in (
        (d.channel, f.channel),
        (cu.tier, f.tier),
        (c.queue, f.queue),
        (c.status, f.status),
        (c.assignee_id, f.assignee),
        (_department(), f.department),
    ):
        if values:
            parts.append(column.in_(list(values)))
    if f.customer:
        parts.append(_keyed(conn, d.customer_id, f.customer))
    if f.tag:
        parts.append(holds_any(conn, c.route, "tags", f.tag))
    if f.key_account is not None:
        parts.append(cu.key_account.is_(f.key_account))
    if f.since is not None:
        parts.append(d.at >= f.since)
    if f.until is not None:
        parts.append(d.at < f.until)
    return parts


def visibility(shown_conversation: sa.ColumnElement[bool], shown_customer: sa.ColumnElement[bool]) -> Any:
    """A document is visible when its conversation is (notes, messages), or, for a
    customer document, when its customer is: the two clauses of the visibility rule."""
    return sa.or_(
        sa.and_(d.conversation_id.is_not(None), shown_conversation),
        sa.and_(d.conversation_id.is_(None), shown_customer),
    )


async def search(
    conn: AsyncConnection,
    query: Query,
    filters: Filters,
    visible: sa.ColumnElement[bool],
    *,
    offset: int,
    limit: int,
    with_facets: bool = False,
) -> tuple[list[Hit], bool, Facets | None]:
    """A page of hits, best first (latest first without words), whether more follow,
    and (``with_facets``) the facets.

    The words first pick CANDIDATES documents (see ``_source``); those the filters and
    the visibility rule leave are fetched once, ranked here and counted for the facets
    (one walk of the index for both). When they are too few for the page, ten times as
    many are picked, and in the end every match, ranked by the database."""
    await _plan_for_search(conn)
    if not query:
        rows = await _page(conn, query, filters, visible, offset, limit, None)
        found = await facets(conn, query, filters, visible) if with_facets else None
        return await _hits(conn, rows, limit), len(rows) > limit, found
    bounds = await _rowid_bounds(conn, filters)
    candidates: int | None = max(CANDIDATES, 2 * (offset + limit + 1), FACET_CAP + 1 if with_facets else 0)
    first: Sequence[Any] | None = None
    while candidates is not None:
        rows = await _candidates(conn, query, filters, visible, candidates, bounds, with_facets)
        first = rows if first is None else first
        if len(rows) > offset + limit:
            rows = sorted(rows, key=lambda r: (r.rank, r.id), reverse=True)[offset : offset + limit + 1]
            break
        candidates = candidates * 10 if candidates * 10 <= MAX_CANDIDATES else None
    else:
        rows = await _page(conn, query, filters, visible, offset, limit, bounds)
    found = _facet_counts(first[: FACET_CAP + 1]) if with_facets and first is not None else None
    return await _hits(conn, rows, limit), len(rows) > limit, found


async def _hits(conn: AsyncConnection, rows: Sequence[Any], limit: int) -> list[Hit]:
    rows = rows[:limit]
    texts = await _texts(conn, rows)
    return [
        Hit(
            kind=DocKind(r.kind),
            customer_id=r.customer_id,
            conversation_id=r.conversation_id,
            message_id=r.message_id,
            channel=r.channel,
            at=r.at,
            rank=float(r.rank or 0.0),
            customer_name=r.name,
            organisation=r.organisation,
            tier=r.tier,
            key_account=bool(r.key_account),
            texts=texts.get(r.source, ()),
        )
        for r in rows
    ]


# what a hit shows, and what the facets count
_HIT = (d.id, d.kind, d.customer_id, d.conversation_id, d.message_id, d.channel, d.at, d.source)
_HIT_CUSTOMER = (cu.name, cu.organisation, cu.tier, cu.key_account)
_FACETED = (c.status, c.queue, c.assignee_id, c.route)


async def _candidates(
    conn: AsyncConnection,
    query: Query,
    filters: Filters,
    visible: sa.ColumnElement[bool],
    candidates: int,
    bounds: tuple[int, int] | None,
    with_facets: bool,
) -> Sequence[Any]:
    """The ``candidates`` latest matches that the filters and the visibility rule
    leave, latest first, with their rank (and what the facets count)."""
    source, matches, rank = _source(conn, query, candidates, filters, bounds)
    stmt = (
        sa.select(*_HIT, rank.label("rank"), *_HIT_CUSTOMER, *(_FACETED if with_facets else ()))
        .select_from(source)
        .where(*matches, *_filters(conn, filters), visible, cu.erased_at.is_(None))
    )
    return (await conn.execute(stmt)).all()


async def _page(
    conn: AsyncConnection,
    query: Query,
    filters: Filters,
    visible: sa.ColumnElement[bool],
    offset: int,
    limit: int,
    bounds: tuple[int, int] | None,
) -> Sequence[Any]:
    """A page ranked by the database: every match by rank, or without words every
    document, latest first."""
    source, matches, rank = _source(conn, query, None, filters, bounds)
    stmt = (
        sa.select(*_HIT, rank.label("rank"), *_HIT_CUSTOMER)
        .select_from(source)
        .where(*matches, *_filters(conn, filters), visible, cu.erased_at.is_(None))
        .offset(offset)
        .limit(limit + 1)
    )
    order = [d.at.desc(), d.id.desc()] if not query else [sa.desc("rank"), d.id.desc()]
    return (await conn.execute(stmt.order_by(*order))).all()


async def count(
    conn: AsyncConnection, query: Query, filters: Filters, visible: sa.ColumnElement[bool], cap: int
) -> int:
    """How many documents match, counted up to ``cap``: the matches stream past the
    filters until ``cap`` of them pass, nothing is ranked."""
    await _plan_for_search(conn)
    bounds = await _rowid_bounds(conn, filters) if query else None
    source, matches, _ = _source(conn, query, None, filters, bounds)
    inner = (
        sa.select(d.id)
        .select_from(source)
        .where(*matches, *_filters(conn, filters), visible, cu.erased_at.is_(None))
        .limit(cap)
        .subquery()
    )
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(inner)) or 0)


async def facets(
    conn: AsyncConnection, query: Query, filters: Filters, visible: sa.ColumnElement[bool]
) -> Facets:
    """Counts per value of each filter over the matches (of the FACET_CAP documents the
    words pick first: see ``_source``; ``search`` counts them on its own walk)."""
    await _plan_for_search(conn)
    bounds = await _rowid_bounds(conn, filters) if query else None
    source, matches, _ = _source(conn, query, FACET_CAP + 1 if query else None, filters, bounds)
    rows = (
        await conn.execute(
            sa.select(d.channel, *_FACETED, cu.tier, cu.key_account)
            .select_from(source)
            .where(*matches, *_filters(conn, filters), visible, cu.erased_at.is_(None))
            .limit(FACET_CAP + 1)
        )
    ).all()
    return _facet_counts(rows)


def _facet_counts(rows: Sequence[Any]) -> Facets:
    """The facets of up to FACET_CAP + 1 rows (capped when there are more than FACET_CAP)."""
    counts: dict[str, Counter[str]] = {
        name: Counter() for name in ("channel", "status", "queue", "assignee", "department", "tag", "tier")
    }
    counts["key_account"] = Counter()
    for r in rows[:FACET_CAP]:
        route = r.route if isinstance(r.route, dict) else {}
        for name, value in (
            ("channel", r.channel),
            ("status", r.status),
            ("queue", r.queue),
            ("assignee", r.assignee_id),
            ("department", route.get("department")),
            ("tier", r.tier),
            ("key_account", "true" if r.key_account else "false"),
        ):
            if isinstance(value, str) and value:
                counts[name][value] += 1
        for tag in route.get("tags") or ():
            if isinstance(tag, str):
                counts["tag"][tag] += 1
    return Facets(
        {name: dict(counter.most_common(50)) for name, counter in counts.items()}, len(rows) > FACET_CAP
    )


async def _texts(conn: AsyncConnection, rows: Sequence[Any]) -> dict[str, tuple[str, ...]]:
    """The texts of a page of hits, by source, for their snippets."""
    found: dict[str, tuple[str, ...]] = {}
    message_ids = [r.message_id for r in rows if r.kind == DocKind.MESSAGE.value]
    if message_ids:
        files: dict[str, list[str]] = {}
        for f in await conn.execute(
            sa.select(attachments.c.message_id, attachments.c.filename).where(
                attachments.c.message_id.in_(message_ids)
            )
        ):
            files.setdefault(f.message_id, []).append(f.filename)
        m = messages.c
        for r in await conn.execute(sa.select(m.id, m.subject, m.text, m.meta).where(m.id.in_(message_ids))):
            found[f"m:{r.id}"] = message_texts(r.subject, r.text, r.meta, files.get(r.id, ()))
    note_ids = [int(r.source[2:]) for r in rows if r.kind == DocKind.NOTE.value]
    if note_ids:
        for note in await conn.execute(
            sa.select(events.c.id, events.c.data).where(events.c.id.in_(note_ids))
        ):
            text = (note.data or {}).get("text")
            found[f"n:{note.id}"] = (text,) if isinstance(text, str) else ()
    conversation_ids = [r.conversation_id for r in rows if r.kind == DocKind.CONVERSATION.value]
    if conversation_ids:
        for conv in await conn.execute(sa.select(c.id, c.route).where(c.id.in_(conversation_ids))):
            found[f"v:{conv.id}"] = conversation_texts(conv.route)
    customer_ids = [r.customer_id for r in rows if r.kind == DocKind.CUSTOMER.value]
    if customer_ids:
        values: dict[str, list[str]] = {}
        for ident in await conn.execute(
            sa.select(identities.c.customer_id, identities.c.value).where(
                identities.c.customer_id.in_(customer_ids), identities.c.kind.not_in(UNSEARCHABLE_IDENTITIES)
            )
        ):
            values.setdefault(ident.customer_id, []).append(ident.value)
        for r in rows:
            if r.kind == DocKind.CUSTOMER.value:
                found[r.source] = tuple(
                    t for t in (r.name, r.organisation, *values.get(r.customer_id, ())) if t
                )
    return found


# --- indexing what was stored before the index existed -------------------------------
REBUILD_CHUNK = 1000


async def rebuild(store: Store, progress: Callable[[int], None] = lambda done: None) -> int:
    """Index every message, note, conversation and customer afresh, a chunk per
    transaction (after the upgrade to schema 0018, for what was stored before). Erased
    customers' rows stay out. Returns the number of documents looked at."""
    done = 0
    m = messages.c
    stored: tuple[datetime, str] | None = None
    while True:
        async with store.write() as conn:
            rows = (
                await conn.execute(
                    sa.select(m.id, m.conversation_id, m.customer_id, m.channel, m.received_at, m.subject)
                    .add_columns(m.text, m.meta, m.stored_at, cu.language)
                    .join(customers, cu.id == m.customer_id)
                    .where(cu.erased_at.is_(None), *stored_after(stored))
                    .order_by(m.stored_at, m.id)
                    .limit(REBUILD_CHUNK)
                )
            ).all()
            if not rows:
                break
            names: dict[str, list[str]] = {}
            for f in await conn.execute(
                sa.select(attachments.c.message_id, attachments.c.filename).where(
                    any_of(conn, attachments.c.message_id, [r.id for r in rows])
                )
            ):
                names.setdefault(f.message_id, []).append(f.filename)
            await put(conn, [message_doc(r, names.get(r.id, ()), r.language) for r in rows])
        stored = (rows[-1].stored_at, rows[-1].id)
        done += len(rows)
        progress(done)
    e = events.c
    after = 0
    while True:
        async with store.write() as conn:
            notes = (
                await conn.execute(
                    sa.select(e.id, e.subject_id, e.customer_id, e.data, e.at)
                    .where(
                        e.id > after,
                        e.action.in_(["conversation.note", "conversation.called_back"]),
                        e.subject_type == "conversation",
                        e.customer_id.is_not(None),
                    )
                    .order_by(e.id)
                    .limit(REBUILD_CHUNK)
                )
            ).all()
            if not notes:
                break
            await put(
                conn,
                [
                    note_doc(n.id, n.subject_id, n.customer_id, n.data["text"], n.at)
                    for n in notes
                    if isinstance(n.data, dict) and isinstance(n.data.get("text"), str)
                ],
            )
        after = notes[-1].id
        done += len(notes)
        progress(done)
    done += await _rebuild_conversations(store, lambda more: progress(done + more))
    progress(done)
    last = ""
    while True:
        async with store.write() as conn:
            ids = list(
                await conn.scalars(sa.select(cu.id).where(cu.id > last).order_by(cu.id).limit(REBUILD_CHUNK))
            )
            if not ids:
                break
            await refresh_customers(conn, ids)
        last = ids[-1]
        done += len(ids)
        progress(done)
    return done


def stored_after(after: tuple[datetime, str] | None) -> list[sa.ColumnElement[bool]]:
    """Messages stored after ``after`` (stored_at, id) in the order ingest indexed them:
    a rebuild in that order keeps the documents' rowids in time order, which the search
    walks latest first (``_source``); message ids are random."""
    if after is None:
        return []
    m = messages.c
    at, last = after
    return [m.stored_at >= at, sa.or_(m.stored_at > at, m.id > last)]


async def _rebuild_conversations(store: Store, progress: Callable[[int], None]) -> int:
    """Index every routed conversation's tags, department and subject afresh; returns
    how many conversations were looked at."""
    done = 0
    last = ""
    while True:
        async with store.write() as conn:
            ids = list(
                await conn.scalars(
                    sa.select(c.id)
                    .where(c.id > last, c.route.is_not(None))
                    .order_by(c.id)
                    .limit(REBUILD_CHUNK)
                )
            )
            if not ids:
                return done
            await refresh_conversations(conn, ids)
        last = ids[-1]
        done += len(ids)
        progress(done)
