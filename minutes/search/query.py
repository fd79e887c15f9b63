"""A query as the search receives it: checked once, parsed once, embedded at most once.

`PreparedQuery` is made once per request and shared by the search, the facet counts, the
timeline and the answer, so a page embeds its question once however many of them it shows.
"""

from __future__ import annotations

import threading
from functools import cached_property

import numpy as np

from minutes.embed import Embedder, query_encoder
from minutes.errors import QueryError
from minutes.text.query import KeywordQuery, parse_query

MAX_QUERY_CHARS = 1000
MAX_K = 100


def validate_query(query: str, k: int = 1) -> str:
    cleaned = "".join(ch for ch in query if ch.isprintable() or ch in "\t\n").strip()
    if not cleaned:
        raise QueryError("the query is empty; type some words to search for")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}")
    check_k(k)
    return cleaned


def check_k(k: int) -> None:
    if not 1 <= k <= MAX_K:
        raise QueryError(f"k must be between 1 and {MAX_K}, not {k}")


class PreparedQuery:
    """The cleaned text, its parse, and its unit vector (computed on first use, then kept)."""

    def __init__(self, text: str, embedder: Embedder) -> None:
        self.text = validate_query(text)
        self.parsed: KeywordQuery = parse_query(self.text)
        self._embedder = embedder
        self._lock = threading.Lock()

    @cached_property
    def vector(self) -> np.ndarray:
        with self._lock:  # one request may hand the query to threads; embed it once
            return query_encoder(self._embedder)([self.text])[0]  # minilm-tuned: through its adapter

    def __repr__(self) -> str:
        return f"PreparedQuery({self.text!r})"
