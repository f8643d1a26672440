"""Which words of a matching segment the query matched, found the way the indexes fold words.

Done here rather than by the databases (FTS5 ``highlight()``, ``ts_headline``) so that both give
the same highlights, and because FTS5 can only highlight inside the full-text scan: a page would
need a second scan of every match. Words are runs of letters and digits, folded to lower case
without accents (as ``unicode61 remove_diacritics 2`` and ``unaccent`` do); English words also
match by stem (Porter, as FTS5's ``porter``, or Snowball English, as PostgreSQL's).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

from trax.search.query import Query, Term

_WORD = re.compile(r"[^\W_]+")
_STEMMERS = (snowballstemmer.stemmer("porter"), snowballstemmer.stemmer("english"))


@lru_cache(maxsize=4096)
def fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=4096)
def _stems(word: str) -> frozenset[str]:
    return frozenset(s.stemWord(word) for s in _STEMMERS)


def _same(token: str, wanted: str, english: bool) -> bool:
    return token == wanted or (english and bool(_stems(token) & _stems(wanted)))


def _prefixed(token: str, prefix: str, english: bool) -> bool:
    return token.startswith(prefix) or (
        english and any(s.startswith(prefix) for s in _stems(token))
    )


def spans(text: str, query: Query, english: bool) -> list[tuple[int, int]]:
    """``[start, end)`` character ranges of ``text`` that the query's terms match; a phrase is
    one range."""
    tokens = [(m.start(), m.end(), fold(m.group())) for m in _WORD.finditer(text)]
    found: list[tuple[int, int]] = []
    for term in query.terms:
        found.extend(_term_spans(tokens, term, english))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(set(found)):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _term_spans(
    tokens: list[tuple[int, int, str]], term: Term, english: bool
) -> list[tuple[int, int]]:
    wanted = [fold(w) for w in _WORD.findall(term.text)]
    if not wanted:
        return []
    out = []
    for i in range(len(tokens) - len(wanted) + 1):
        window = tokens[i : i + len(wanted)]
        *whole, last = wanted
        ok = all(_same(t[2], w, english) for t, w in zip(window, whole, strict=False))
        tail = window[-1][2]
        ok = ok and (_prefixed(tail, last, english) if term.prefix else _same(tail, last, english))
        if ok:
            out.append((window[0][0], window[-1][1]))
    return out
