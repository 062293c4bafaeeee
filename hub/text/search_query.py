"""The search query language, parsed and compiled for either backend. Pure: no I/O.

``Rechnung Müller`` finds documents with both words (in any form: see
``hub.text.index_terms``); ``"offene Rechnung"`` is a phrase; ``-storniert`` leaves out
documents with the word (also ``-"a phrase"``); ``Rech*`` is a prefix (at least
MIN_PREFIX letters). Any text parses: what is not a word is ignored, an unclosed quote
runs to the end. Only the size is bounded (QueryTooLarge), so that no query can keep
the database busy for long.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.errors import InputError
from hub.text.index_terms import folded, terms_of, words

MAX_QUERY = 500
MAX_TERMS = 8
MAX_PHRASE = 8
MIN_PREFIX = 2


@dataclass(frozen=True, slots=True)
class Term:
    """One word, prefix or phrase, as the words the index holds (``words`` output)."""

    words: tuple[str, ...]
    prefix: bool = False
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    terms: tuple[Term, ...]

    @property
    def wanted(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if not t.negated)

    @property
    def excluded(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.negated)

    def __bool__(self) -> bool:
        return bool(self.wanted)

    def highlight_terms(self) -> tuple[frozenset[str], tuple[str, ...]]:
        """The terms (of every stream) and folded prefixes a snippet marks."""
        found: set[str] = set()
        prefixes: list[str] = []
        for term in self.wanted:
            for i, word in enumerate(term.words):
                if term.prefix and i == len(term.words) - 1:
                    prefixes.append(folded(word))
                else:
                    found.update(terms_of(word))
        return frozenset(found), tuple(prefixes)


def parse(text: str) -> Query:
    """The query ``text`` as terms. Raises InputError (field ``q``) only when it is too
    long or has too many terms."""
    if len(text) > MAX_QUERY:
        raise InputError(f"q: at most {MAX_QUERY} characters", field="q")
    terms: list[Term] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        negated = ch == "-"
        start = i + 1 if negated else i
        if start < len(text) and text[start] == '"':
            end = text.find('"', start + 1)
            end = len(text) if end < 0 else end
            found = words(text[start + 1 : end])[:MAX_PHRASE]
            i = end + 1
            prefix = False
        else:
            end = start
            while end < len(text) and not text[end].isspace():
                end += 1
            chunk = text[start:end]
            found = words(chunk)[:MAX_PHRASE]
            i = end
            prefix = chunk.endswith("*") and bool(found) and len(folded(found[-1])) >= MIN_PREFIX
        if found:
            terms.append(Term(tuple(found), prefix=prefix, negated=negated))
    if len(terms) > MAX_TERMS:
        raise InputError(f"q: at most {MAX_TERMS} words or phrases", field="q")
    return Query(tuple(dict.fromkeys(terms)))


# --- SQLite FTS5 MATCH -----------------------------------------------------------
def fts5_match(query: Query) -> str:
    """The FTS5 MATCH expression of a query with at least one wanted term."""
    wanted = " AND ".join(_fts5_term(t) for t in query.wanted)
    if not query.excluded:
        return wanted
    return f"({wanted}) NOT ({' OR '.join(_fts5_term(t) for t in query.excluded)})"


def _fts5_term(term: Term) -> str:
    streams = _streams(term)
    if term.prefix:
        # the folded stream with the last word as a prefix (stems are no prefixes of it)
        raw = streams[0]
        return f'"{" ".join(raw)}" *'
    return "(" + " OR ".join(f'"{" ".join(s)}"' for s in dict.fromkeys(streams)) + ")"


# --- PostgreSQL tsquery ------------------------------------------------------------
def tsquery(query: Query) -> str:
    """The tsquery text (cast with ``::tsquery``, no parser in between) of a query with
    at least one wanted term."""
    parts = [_ts_term(t) for t in query.wanted]
    parts += [f"!{_ts_term(t)}" for t in query.excluded]
    return " & ".join(parts)


def _ts_term(term: Term) -> str:
    streams = _streams(term)
    if term.prefix:
        raw = streams[0]
        return "(" + " <-> ".join([*(f"'{w}'" for w in raw[:-1]), f"'{raw[-1]}':*"]) + ")"
    return (
        "(" + " | ".join("(" + " <-> ".join(f"'{w}'" for w in s) + ")" for s in dict.fromkeys(streams)) + ")"
    )


def _streams(term: Term) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The term's words in each stream (raw, de, en); words are letters and digits only,
    so they need no quoting in either syntax."""
    triples = [terms_of(w) for w in term.words]
    return (
        tuple(t[0] for t in triples),
        tuple(t[1] for t in triples),
        tuple(t[2] for t in triples),
    )
