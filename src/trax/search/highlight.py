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
from functools import cache, lru_cache
from typing import Any

from trax.search.query import Query

_WORD = re.compile(r"[^\W_]+")


@cache
def _stemmers() -> tuple[Any, ...]:
    """Porter and Snowball English, built on first use: importing snowballstemmer costs about
    10 ms, which every CLI command that reads the library (``trax list``) would pay otherwise."""
    import snowballstemmer

    return (snowballstemmer.stemmer("porter"), snowballstemmer.stemmer("english"))


@lru_cache(maxsize=4096)
def fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=4096)
def _stems(word: str) -> frozenset[str]:
    return frozenset(s.stemWord(word) for s in _stemmers())


class Highlighter:
    """Finds a query's matches in segment texts (the query's words are folded once)."""

    def __init__(self, query: Query) -> None:
        self._terms = [([fold(w) for w in _WORD.findall(t.text)], t.prefix) for t in query.terms]

    def spans(self, text: str, english: bool) -> list[tuple[int, int]]:
        """``[start, end)`` character ranges of ``text`` that the query's terms match; a
        phrase is one range."""
        tokens = [(m.start(), m.end(), fold(m.group())) for m in _WORD.finditer(text)]
        found = [
            span for wanted, prefix in self._terms if wanted
            for span in _term_spans(tokens, wanted, prefix, english)
        ]  # fmt: skip
        merged: list[tuple[int, int]] = []
        for start, end in sorted(set(found)):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged


def _same(token: str, wanted: str, english: bool) -> bool:
    return token == wanted or (english and not _stems(token).isdisjoint(_stems(wanted)))


def _prefixed(token: str, prefix: str, english: bool) -> bool:
    return token.startswith(prefix) or (
        english and any(s.startswith(prefix) for s in _stems(token))
    )


def _term_spans(
    tokens: list[tuple[int, int, str]], wanted: list[str], prefix: bool, english: bool
) -> list[tuple[int, int]]:
    out = []
    n, last = len(wanted), wanted[-1]
    for i in range(len(tokens) - n + 1):
        tail = tokens[i + n - 1][2]
        if not (_prefixed(tail, last, english) if prefix else _same(tail, last, english)):
            continue
        if all(_same(tokens[i + k][2], wanted[k], english) for k in range(n - 1)):
            out.append((tokens[i][0], tokens[i + n - 1][1]))
    return out
