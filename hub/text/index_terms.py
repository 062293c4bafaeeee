"""How text becomes index terms, the same at indexing and at query time, on both
backends. Pure: no I/O.

A word is a run of letters and digits (``[^\\W_]+``, as SQLite's ``unicode61`` splits).
Each word gives one term in each of three streams, so that positions line up and a
phrase is a phrase in any one stream:

- ``raw``: the word folded (lower case, ``ß`` → ``ss``, accents off, and the German
  spellings ``ae``/``oe``/``ue`` → ``a``/``o``/``u``), so ``Müller``, ``Mueller`` and
  ``Muller`` are one term; prefix queries (``wor*``) look here;
- ``de``: the Snowball German stem (which also reads ``ue`` as ``ü``): ``Rechnungen`` →
  ``rechnung``;
- ``en``: the Snowball English stem, with the ``-i`` of a noun's ``-y`` taken off
  (``delivery`` → ``deliveri`` → ``deliv``, as ``delivered``), so a noun meets its verb.

A conversation in German is indexed with ``raw`` and ``de``, one in English with
``raw`` and ``en``, any other with all three; a query looks in all three.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

WORD = re.compile(r"[^\W_]+")
# longest word indexed: longer runs are hashes, base64 or noise, not words anyone types
MAX_WORD = 60
# words indexed per document (PostgreSQL positions stop at 16383; see search_index)
MAX_WORDS = 5000
LANGUAGES = ("de", "en")
_GERMAN_SPELLING = re.compile(r"(?<![aeiouq])(ae|oe|ue)")
_STEMMERS = {"de": Stemmer.Stemmer("german"), "en": Stemmer.Stemmer("english")}
_NOUN_Y = ("eri", "i")


@dataclass(frozen=True, slots=True)
class Streams:
    """A document's terms, space-separated, one per word in each stream ('' when the
    document's language leaves a stream out)."""

    raw: str
    de: str
    en: str


def words(text: str) -> list[str]:
    """The words of ``text`` in order (at most MAX_WORDS), NFC and lower-cased."""
    found = WORD.findall(unicodedata.normalize("NFC", text).lower())
    return [w for w in found if len(w) <= MAX_WORD][:MAX_WORDS]


@lru_cache(maxsize=65536)
def unaccented(word: str) -> str:
    """``ß`` → ``ss`` and the accents taken off (``müller`` → ``muller``)."""
    decomposed = unicodedata.normalize("NFKD", word.replace("ß", "ss"))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return bare if WORD.fullmatch(bare) else word


@lru_cache(maxsize=65536)
def folded(word: str) -> str:
    """The ``raw`` term: unaccented, and the German ``ae``/``oe``/``ue`` spellings read
    as the umlauts they stand for (not after a vowel or ``q``: ``queue``, ``Feuer``)."""
    return _GERMAN_SPELLING.sub(lambda m: m.group()[0], unaccented(word))


@lru_cache(maxsize=65536)
def stem(word: str, language: str) -> str:
    """The ``de`` or ``en`` term of a word."""
    if language == "de":
        return _STEMMERS["de"].stemWord(word) or word
    term = _STEMMERS["en"].stemWord(unaccented(word)) or word
    for ending in _NOUN_Y:
        if term.endswith(ending) and len(term) - len(ending) >= 3:
            return term[: -len(ending)]
    return term


def languages_for(language: str | None) -> tuple[str, ...]:
    """The stems a document gets: its language's, else both (``de-AT`` counts as ``de``)."""
    base = (language or "").split("-")[0].split("_")[0].lower()
    return (base,) if base in LANGUAGES else LANGUAGES


def streams(texts: Iterable[str | None], language: str | None = None) -> Streams:
    """The three streams of a document made of ``texts`` (e.g. subject, body, file names)."""
    found: list[str] = []
    for text in texts:
        if text:
            found += words(text)
    if not found:
        return Streams("", "", "")
    # on the ingest path: one C-level pass (map, zip) per document, not one per word
    raw, de, en = zip(*map(terms_of, found[:MAX_WORDS]), strict=True)
    kept = languages_for(language)
    return Streams(
        raw=" ".join(raw),
        de=" ".join(de) if "de" in kept else "",
        en=" ".join(en) if "en" in kept else "",
    )


@lru_cache(maxsize=262144)
def terms_of(word: str) -> tuple[str, str, str]:
    """A word's (raw, de, en) terms (``word`` as ``words`` gives it)."""
    return folded(word), stem(word, "de"), stem(word, "en")


def highlight(text: str, wanted: frozenset[str], prefixes: tuple[str, ...] = (), width: int = 24) -> str:
    """A snippet of ``text`` around its first matching word, matches wrapped in
    ``<mark>``; the rest is HTML-escaped. ``wanted`` holds terms of any stream;
    ``prefixes`` are folded prefixes. ``width`` is the number of words shown."""
    tokens = list(_spans(text))
    hits = [i for i, (_, _, w) in enumerate(tokens) if _matches(w, wanted, prefixes)]
    if not tokens:
        return ""
    first = max(0, (hits[0] if hits else 0) - width // 3)
    shown = tokens[first : first + width]
    out: list[str] = ["…" if first else ""]
    pos = 0 if first == 0 else shown[0][0]
    for start, end, word in shown:
        out.append(_escape(text[pos:start]))
        piece = _escape(text[start:end])
        out.append(f"<mark>{piece}</mark>" if _matches(word, wanted, prefixes) else piece)
        pos = end
    if first + width < len(tokens):
        out.append(" …")
    else:
        out.append(_escape(text[pos:]))
    return "".join(out).strip()


def _spans(text: str) -> Iterator[tuple[int, int, str]]:
    for match in WORD.finditer(text):
        yield match.start(), match.end(), unicodedata.normalize("NFC", match.group()).lower()


def _matches(word: str, wanted: frozenset[str], prefixes: tuple[str, ...]) -> bool:
    if len(word) > MAX_WORD:
        return False
    raw = folded(word)
    if raw in wanted or stem(word, "de") in wanted or stem(word, "en") in wanted:
        return True
    return any(raw.startswith(p) for p in prefixes)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
