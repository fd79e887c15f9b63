"""Keyword retrieval in Milvus: BM25 on the passage text (Milvus 2.5+, Milvus Lite 3+).

Milvus has BM25 (a sparse vector made by a server-side function) and TEXT_MATCH (any of
the words, after the analyzer), but no phrase match, so a quoted phrase of several words is
asked of Milvus as "every word of it" and then checked exactly on the returned texts:
its words in order, side by side. Words are compared as stems: the `keywords` field holds
the heading's and the text's words stemmed by minutes.text.stem (Snowball English, close to
FTS5's porter), and queries are stemmed the same way, so every server agrees (Milvus Lite
3.2 takes an analyzer `stemmer` filter but does not apply it: checked here).

The 2.3 standalone server has none of this: its builds get `KeywordUnavailable`, whose
every call says so; use Milvus 2.5+, or the local keyword index beside Milvus vectors.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from minutes.errors import QueryError
from minutes.records import Filters
from minutes.storage.base import KeywordHits, KeywordIndex, Manifest
from minutes.storage.milvus import schema
from minutes.storage.milvus.errors import answering
from minutes.storage.milvus.expr import both, filter_expression, id_list, quote, visible
from minutes.text.query import KeywordQuery
from minutes.text.stem import stems, words

WINDOW = 16_000
SCAN_BATCH = 4_096

UNAVAILABLE = ("keyword search needs Milvus 2.5 or later (BM25), and the Milvus server holding {collection} "
               "has none; use a 2.5+ server, or keep keywords in the local index: --backend 'milvus://HOST:PORT"
               "?keyword=local'")


def words_of(text: str) -> list[str]:
    """The words of `text` as the BM25 field holds them: lower case, Snowball English stems."""
    return stems(words(text))


def holds_phrase(words: list[str], phrase: str) -> bool:
    """Whether the phrase's words (stemmed) stand in `words` in order, side by side."""
    wanted = words_of(phrase)
    n = len(wanted)
    return any(words[i:i + n] == wanted for i in range(len(words) - n + 1))


def holds_phrase_in(columns: list[list[str]], phrase: str) -> bool:
    """In the heading or in the text (a phrase never runs from one into the other, as in FTS5)."""
    return any(holds_phrase(words, phrase) for words in columns)


def _matches(terms: Sequence[str]) -> str:
    """Passages holding every one of `terms` (stemmed as the field is)."""
    return " and ".join(f"TEXT_MATCH(keywords, {quote(s)})" for s in stems(terms))


def _any(terms: Sequence[str]) -> str:
    return " or ".join(f"TEXT_MATCH(keywords, {quote(s)})" for s in stems(terms))


def _group_expression(group: Sequence[str]) -> str:
    """Passages that may hold one phrase of `group`: all of its words, as the engine stems them."""
    return " or ".join(f"({_matches(phrase.split())})" for phrase in group)


class MilvusKeywordIndex:
    def __init__(self, client: Any, collection: str, generation: int) -> None:
        self.client, self.collection = client, collection
        self.live = visible(generation)  # the reader's generation: in every expression

    # --- what the engine selects, and what must still be checked on the text ---
    def _selection(self, query: KeywordQuery, filters: Filters | None) -> str:
        parts = [self.live, filter_expression(filters) if filters is not None else ""]
        parts += [_group_expression(group) for group in query.required]
        parts += [f"not ({_any([word])})" for word in query.excluded if " " not in word]
        return both(*parts)

    @staticmethod
    def _needs_text(query: KeywordQuery) -> bool:
        return any(" " in p for group in query.required for p in group) or any(" " in e for e in query.excluded)

    @staticmethod
    def _passes(query: KeywordQuery, keywords: str) -> bool:
        columns = [column.split() for column in keywords.split(schema.KEYWORDS_SEPARATOR, 1)]  # stems already
        for group in query.required:
            if not any(" " not in p or holds_phrase_in(columns, p) for p in group):
                return False
        return not any(" " in e and holds_phrase_in(columns, e) for e in query.excluded)

    def _bm25(self, text: str, expression: str, limit: int, fields: list[str]) -> list[dict[str, Any]]:
        with answering(self.collection):
            hits = self.client.search(self.collection, data=[text], anns_field="sparse", limit=limit, filter=expression,
                                      output_fields=fields, search_params={"metric_type": "BM25"})[0]
        return list(hits)

    def search(self, query: KeywordQuery, filters: Filters, limit: int, *,
               score_also: Sequence[int] = ()) -> KeywordHits:
        terms = " ".join(stems(words(" ".join(p for group in query.required for p in group) if query.required
                                     else " ".join(query.optional))))
        if not terms.strip() or limit <= 0:
            return KeywordHits([], {})
        expression = self._selection(query, filters)
        check = self._needs_text(query)
        fields = ["keywords"] if check else ["id"]  # [] would be every field
        fetch = min(WINDOW, limit * 4 if check else limit)
        while True:
            hits = self._bm25(terms, expression, fetch, fields)
            kept = [(int(h["id"]), abs(float(h["distance"]))) for h in hits
                    if not check or self._passes(query, h["entity"]["keywords"])]
            if len(kept) >= limit or len(hits) < fetch or fetch >= WINDOW:
                break
            fetch = min(WINDOW, fetch * 4)
        also: dict[int, float] = {}  # only the candidates the query selects (the others hold no query word)
        for window in [list(score_also)[i:i + WINDOW] for i in range(0, len(score_also), WINDOW)]:
            for h in self._bm25(terms, both(expression, id_list(window)), len(window), fields):
                if not check or self._passes(query, h["entity"]["keywords"]):
                    also[int(h["id"])] = abs(float(h["distance"]))
        return KeywordHits(kept[:limit], also)

    def _scan(self, expression: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        with answering(self.collection):
            iterator = self.client.query_iterator(self.collection, batch_size=SCAN_BATCH, filter=expression,
                                                  output_fields=fields)
            try:
                while batch := iterator.next():
                    yield from batch
            finally:
                iterator.close()

    def select(self, query: KeywordQuery, filters: Filters) -> set[int]:
        if not query.required:
            return set()
        plain = KeywordQuery(query.required, (), ())
        check = self._needs_text(plain)
        return {int(row["id"]) for row in self._scan(self._selection(plain, filters), ["keywords"] if check else ["id"])
                if not check or self._passes(plain, row["keywords"])}

    def excluded(self, query: KeywordQuery) -> set[int]:
        single = [e for e in query.excluded if " " not in e]
        found: set[int] = set()
        if single:  # the engine's analyzer decides, as it does in `search`
            found.update(int(row["id"]) for row in self._scan(both(self.live, _any(single)), ["id"]))
        for phrase in (e for e in query.excluded if " " in e):
            found.update(int(row["id"]) for row in self._scan(both(self.live, _matches(phrase.split())), ["keywords"])
                         if not self._passes(KeywordQuery((), (), (phrase,)), row["keywords"]))
        return found

    def holds_all_words(self, words: Sequence[str], among: Sequence[int]) -> bool:
        if not words or not among:
            return False
        for window in [list(among)[i:i + WINDOW] for i in range(0, len(among), WINDOW)]:
            with answering(self.collection):
                if self.client.query(self.collection, filter=both(self.live, id_list(window), _matches(words)),
                                     output_fields=["id"], limit=1):
                    return True
        return False


class KeywordUnavailable:
    """The keyword part of a build on a server without BM25: every call says what to do."""

    def __init__(self, collection: str) -> None:
        self.message = UNAVAILABLE.format(collection=collection)

    def search(self, query: KeywordQuery, filters: Filters, limit: int, *,
               score_also: Sequence[int] = ()) -> KeywordHits:
        raise QueryError(self.message)

    def select(self, query: KeywordQuery, filters: Filters) -> set[int]:
        raise QueryError(self.message)

    def excluded(self, query: KeywordQuery) -> set[int]:
        raise QueryError(self.message)

    def holds_all_words(self, words: Sequence[str], among: Sequence[int]) -> bool:
        raise QueryError(self.message)


def keyword_index(client: Any, collection: str, manifest: Manifest, generation: int) -> KeywordIndex:
    if manifest.backend.get("bm25"):
        return MilvusKeywordIndex(client, collection, generation)
    return KeywordUnavailable(collection)
