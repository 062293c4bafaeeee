"""The search query language and the index terms (hub/text/search_query.py, index_terms.py):
pure, so plain cases and Hypothesis properties; any text parses or is refused with
a 422 naming ``q``, and compiles to expressions that quote every word."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.errors import InputError
from hub.text.index_terms import folded, highlight, stem, streams, words
from hub.text.search_query import MAX_QUERY, Term, fts5_match, parse, tsquery


def test_words_phrases_exclusions_and_prefixes() -> None:
    q = parse('Rechnung "offene Posten" -storniert Lief* -"zu spät"')
    assert q.terms == (
        Term(("rechnung",)),
        Term(("offene", "posten")),
        Term(("storniert",), negated=True),
        Term(("lief",), prefix=True),
        Term(("zu", "spät"), negated=True),
    )
    assert parse('"unclosed phrase').terms == (Term(("unclosed", "phrase")),)
    assert parse("a*").terms == (Term(("a",)),)  # one letter is no prefix: it would read the whole index
    assert not parse("-nur").wanted and not parse("*** ---")


def test_forms_and_transliterations_meet() -> None:
    assert stem("rechnungen", "de") == stem("rechnung", "de")
    assert stem("delivered", "en") == stem("delivery", "en") == stem("deliveries", "en")
    assert folded("müller") == folded("mueller") == folded("muller")
    assert folded("straße") == folded("strasse")
    assert folded("queue") != folded("qu")  # a "ue" after q is not an umlaut
    assert stem("mueller", "de") == stem("müller", "de")


def test_streams_keep_one_term_per_word() -> None:
    s = streams(["Die Rechnungen, bitte!"], None)
    assert len(s.raw.split()) == len(s.de.split()) == len(s.en.split()) == 3
    assert streams(["x"], "de").en == "" and streams(["x"], "en-GB").de == ""


def test_highlight_escapes_and_marks() -> None:
    marked = highlight("<b>Müller</b> & Co", frozenset({"muller"}))
    assert marked == "&lt;b&gt;<mark>Müller</mark>&lt;/b&gt; &amp; Co"


TERM = re.compile(r"[^\W_]+")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=MAX_QUERY))
def test_any_text_parses_and_compiles_to_quoted_words(text: str) -> None:
    try:
        query = parse(text)
    except InputError as exc:
        assert exc.field == "q"
        return
    if not query:
        return
    match = fts5_match(query)
    # every double-quoted string is words only: nothing of the input reaches FTS5 syntax
    for quoted in re.findall(r'"([^"]*)"', match):
        assert all(TERM.fullmatch(w) for w in quoted.split()), quoted
    assert (
        re.sub(r'"[^"]*"', "", match).replace("AND", "").replace("OR", "").replace("NOT", "").strip(" ()*")
        == ""
    )
    ts = tsquery(query)
    for quoted in re.findall(r"'([^']*)'", ts):
        assert TERM.fullmatch(quoted), quoted
    assert set(re.sub(r"'[^']*'", "", ts)) <= set(" ()|&!<->:*")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_highlight_never_fails_and_shows_only_escaped_text(text: str) -> None:
    out = highlight(text, frozenset(words(text)[:3]))
    assert "<" not in out.replace("<mark>", "").replace("</mark>", "")
