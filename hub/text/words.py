"""The words of a name or an organisation that a customer search matches: lower-cased
(case-folded), cut to ``MAX_TERM`` characters. Pure: no I/O."""

from __future__ import annotations

import re

_WORD = re.compile(r"[\w@.+-]+", re.UNICODE)
MAX_TERM = 100


def terms_of(*texts: str | None) -> set[str]:
    words: set[str] = set()
    for text in texts:
        if text:
            words.update(w[:MAX_TERM] for w in _WORD.findall(text.casefold()))
    return words


def words_of_query(q: str) -> list[str]:
    return sorted(terms_of(q))
