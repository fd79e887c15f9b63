"""The tantivy index of a build's passages: its fields, its analyzer, and queries over them.

One tantivy document per passage. `passage_id` is the id shared with the passage store and the
vectors (a fast u64 field, also indexed: candidate sets and deletes select by it). `text` and
`heading` are analysed by `ANALYZER` (tantivy's `en_stem` plus ASCII folding, as FTS5's
`remove_diacritics` did) and indexed with positions for phrases. The filter fields hold what
`records.Filters` asks about: council and committee lower-cased (case-insensitive equality),
the document id as it is, the date interval as day ordinals, the passage kind and whether the
document is procedural.

Words are analysed here in Python with the same analyzer the index uses, and queries are built
from `Query` objects, never from query syntax: what people type cannot reach tantivy's parser.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import tantivy
from tantivy import Occur, Query

from minutes.records import Filters
from minutes.text.query import KeywordQuery

ANALYZER_NAME = "minutes_en"
TEXT_FIELDS = ("text", "heading")
# bm25 weight of each text field (a passage's words count fully, its heading's at 0.3: the
# FTS5 column weights of search.Tuning.text_weight / heading_weight, which relevance was tuned on).
FIELD_WEIGHTS = {"text": 1.0, "heading": 0.3}


def make_analyzer() -> tantivy.TextAnalyzer:
    """Split on non-alphanumerics, drop tokens over 40 bytes, lower-case, fold accents, Snowball English."""
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(40))
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.ascii_fold())
            .filter(tantivy.Filter.stemmer("english"))
            .build())


ANALYZER = make_analyzer()


def build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("passage_id", indexed=True, fast=True)
    for name in TEXT_FIELDS:
        builder.add_text_field(name, tokenizer_name=ANALYZER_NAME, index_option="position")
    for name in ("council", "committee", "document_id", "kind"):
        builder.add_text_field(name, tokenizer_name="raw", fast=True, index_option="basic")
    builder.add_integer_field("date_start", indexed=True, fast=True)  # date.toordinal()
    builder.add_integer_field("date_end", indexed=True, fast=True)
    builder.add_integer_field("year", indexed=True, fast=True)        # of date_start, for counts by year
    builder.add_boolean_field("procedural", indexed=True, fast=True)
    return builder.build()


def tokens(text: str) -> list[tuple[int, str]]:
    """(position, term) of each token of `text`, as the index analyses it."""
    return [(token.position, token.text) for token in ANALYZER.pre_tokenize(text).tokens]


class QueryBuilder:
    """`KeywordQuery` and `Filters` as tantivy queries over one schema."""

    def __init__(self, schema: tantivy.Schema) -> None:
        self.schema = schema

    def phrase(self, text: str, fields: Sequence[str] = TEXT_FIELDS, weighted: bool = True) -> Query | None:
        """`text` (a word or a phrase) in any of `fields`, each scored with its weight; None when
        it has no indexable token."""
        terms = tokens(text)
        if not terms:
            return None
        clauses = []
        for name in fields:
            if len(terms) == 1:
                query = Query.term_query(self.schema, name, terms[0][1])
            else:  # positions relative to the first token, so a dropped token keeps its gap
                first = terms[0][0]
                query = Query.phrase_query(self.schema, name, [(pos - first, term) for pos, term in terms])
            weight = FIELD_WEIGHTS[name] if weighted else 1.0
            clauses.append((Occur.Should, query if weight == 1.0 else Query.boost_query(query, weight)))
        return clauses[0][1] if len(clauses) == 1 else Query.boolean_query(clauses)

    def any_of(self, texts: Sequence[str]) -> Query | None:
        """Passages holding one of `texts`, scored as the sum of bm25 over what they hold.

        Flat: one Should clause per (word, field), so tantivy can prune with block-max WAND.
        """
        clauses: list[tuple[Occur, Query]] = []
        for text in texts:
            terms = tokens(text)
            if not terms:
                continue
            if len(terms) == 1:
                for name in TEXT_FIELDS:
                    query = Query.term_query(self.schema, name, terms[0][1])
                    weight = FIELD_WEIGHTS[name]
                    clauses.append((Occur.Should, query if weight == 1.0 else Query.boost_query(query, weight)))
            else:
                phrase = self.phrase(text)
                assert phrase is not None
                clauses.append((Occur.Should, phrase))
        if not clauses:
            return None
        return clauses[0][1] if len(clauses) == 1 else Query.boolean_query(clauses)

    def positive(self, query: KeywordQuery) -> Query | None:
        """What the query selects and scores: one phrase of every required group when it has
        quoted phrases (its plain words then only rank semantically), otherwise any plain word."""
        if not query.required:
            return self.any_of(query.optional)
        groups = []
        for group in query.required:
            found = self.any_of(group)
            if found is None:
                return Query.empty_query()  # a group that cannot match: nothing can
            groups.append((Occur.Must, found))
        return groups[0][1] if len(groups) == 1 else Query.boolean_query(groups)

    def exclusion(self, query: KeywordQuery) -> Query | None:
        return self.any_of(query.excluded) if query.excluded else None

    def filter_clauses(self, filters: Filters, has_procedural: bool = True) -> list[tuple[Occur, Query]]:
        """The filters as non-scoring clauses (a filter must not add to a passage's bm25)."""
        schema = self.schema
        clauses: list[tuple[Occur, Query]] = []

        def must(query: Query) -> None:
            clauses.append((Occur.Must, Query.const_score_query(query, 0.0)))

        if filters.council:
            must(Query.term_query(schema, "council", filters.council.lower()))
        if filters.committee:
            must(Query.term_query(schema, "committee", filters.committee.lower()))
        if filters.document:
            must(Query.term_query(schema, "document_id", filters.document))
        if filters.date_from:  # a document matches when its date interval overlaps the filter
            must(Query.range_query(schema, "date_end", tantivy.FieldType.Integer, filters.date_from.toordinal(), None))
        if filters.date_to:
            must(Query.range_query(schema, "date_start", tantivy.FieldType.Integer, None, filters.date_to.toordinal()))
        if filters.decisions_only:
            must(Query.term_query(schema, "kind", "resolution"))
        if not filters.include_procedural and has_procedural:
            clauses.append((Occur.MustNot, Query.term_query(schema, "procedural", True)))
        return clauses

    def ids(self, ids: Sequence[int]) -> Query:
        """Passages with one of `ids`, not scored. A union of term queries up to a few hundred ids:
        at 100k passages it costs 0.35 ms for 100 ids where a term-set query costs 1.8 ms."""
        values = [int(i) for i in ids]
        if len(values) > 1000:
            return Query.const_score_query(Query.term_set_query(self.schema, "passage_id", values), 0.0)
        union = Query.boolean_query([(Occur.Should, Query.term_query(self.schema, "passage_id", v)) for v in values])
        return Query.const_score_query(union, 0.0)


def combine(scoring: Query, clauses: Sequence[tuple[Occur, Query]]) -> Query:
    """`scoring` restricted by `clauses` (filters, exclusions, id sets); itself when there are none."""
    if not clauses:
        return scoring
    return Query.boolean_query([(Occur.Must, scoring), *clauses])


def ordinal(day: date | None) -> int | None:
    return day.toordinal() if day else None
