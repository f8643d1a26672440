"""The search query language, parsed once and rendered for either database.

``ask not`` (every word must match), ``"ask not"`` (the exact phrase), ``hous*`` (a prefix),
``-moon`` (exclude), ``moon OR mars`` (either). Anything a user types parses: characters that
mean nothing are dropped, an ``OR`` without two sides is ignored, and the rendered queries quote
every term, so neither FTS5 nor ``tsquery`` ever sees syntax of the user's.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from trax import errors

#: Longest query accepted (characters), and the most terms one query may hold.
MAX_QUERY_CHARS = 500
MAX_TERMS = 32
QUERY_EMPTY = "give at least one word to search for"
QUERY_ONLY_EXCLUDED = "give at least one word that must match, not only words to exclude"
QUERY_TOO_LONG = f"a query is at most {MAX_QUERY_CHARS} characters"
QUERY_TOO_MANY = f"a query has at most {MAX_TERMS} terms"

_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD_CHAR = re.compile(r"[^\W_]", re.UNICODE)
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Term:
    """One thing to find: a word, a phrase (several words in order) or a word prefix."""

    text: str
    prefix: bool = False


@dataclass(frozen=True)
class Query:
    """``all`` must match (each clause: any of its terms), none of ``excluded`` may."""

    all: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...]

    @property
    def terms(self) -> list[Term]:
        return [t for clause in self.all for t in clause]


def _clean(raw: str) -> str:
    """Drop what no database should see: control characters, unpaired surrogates."""
    return "".join(
        " " if c.isspace() else c
        for c in raw
        if c.isspace() or unicodedata.category(c) not in ("Cc", "Cs", "Cf", "Co", "Cn")
    )


def _term(text: str, prefix: bool) -> Term | None:
    if prefix:
        # A prefix is one word: its letters and digits (``don't*`` → ``dont*`` would surprise,
        # so only the first word-run is kept).
        runs = [r for r in _NOT_WORD.split(text) if r]
        return Term(runs[0], prefix=True) if runs else None
    words = [r for r in _NOT_WORD.split(text) if r]
    return Term(" ".join(words)) if words else None


def parse(raw: str) -> Query:
    """The query ``raw`` means; :class:`~trax.errors.InvalidOptionError` (field ``q``) when it
    is too long or holds nothing to match."""
    if len(raw) > MAX_QUERY_CHARS:
        raise errors.InvalidOptionError("q", QUERY_TOO_LONG)
    clauses: list[list[Term]] = []
    excluded: list[Term] = []
    join_next = False
    for match in _TOKEN.finditer(_clean(raw)):
        negated_phrase, phrase, bare = match.group(1), match.group(2), match.group(3)
        if bare == "OR":
            join_next = bool(clauses)
            continue
        if phrase is not None:
            negated, term = bool(negated_phrase), _term(phrase, prefix=False)
        else:
            negated = bare.startswith("-") and len(bare) > 1
            word = bare[1:] if negated else bare
            prefix = word.endswith("*") and bool(_WORD_CHAR.search(word))
            term = _term(word.rstrip("*") if prefix else word, prefix)
        if term is None:
            continue
        if negated:
            excluded.append(term)
            join_next = False
        elif join_next:
            clauses[-1].append(term)
            join_next = False
        else:
            clauses.append([term])
    query = Query(tuple(tuple(c) for c in clauses), tuple(excluded))
    if len(query.terms) + len(excluded) > MAX_TERMS:
        raise errors.InvalidOptionError("q", QUERY_TOO_MANY)
    if not query.all:
        raise errors.InvalidOptionError("q", QUERY_ONLY_EXCLUDED if excluded else QUERY_EMPTY)
    return query
