import sqlite3

import pytest

from minutes.storage.sqlite_faiss.fts import match_expression
from minutes.text.query import parse_query


def fts_connection() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(text, tokenize='porter unicode61')")
    conn.executemany("INSERT INTO t VALUES (?)", [
        ("short breaks for disabled children",), ("agency social workers",), ("the budget was agreed",),
    ])
    return conn


HOSTILE = [
    'short" breaks', '"', '""', "NEAR(short breaks)", "short AND", "OR", "NOT", "a:b", "text:breaks",
    "*", "break*", "^short", "(((", ")", "short -", "- -", "'; DROP TABLE t; --", "\x00", "{col}: x",
    "short + breaks", "e.g. £22.453m", "-\"\"", "AND OR NOT", "\u202e\u0000\ufeff",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_syntax_never_reaches_fts_raw(query: str) -> None:
    parsed = parse_query(query)
    conn = fts_connection()
    if match_expression(parsed):
        conn.execute("SELECT rowid FROM t WHERE t MATCH ?", [match_expression(parsed)]).fetchall()  # must not raise


def test_natural_questions_drop_stopwords() -> None:
    parsed = parse_query("what was said about short breaks")
    assert parsed.optional == ("short", "breaks")
    assert parsed.required == ()


def test_phrases_or_and_exclusions() -> None:
    parsed = parse_query('"short breaks" OR respite "social workers" -agency')
    assert parsed.required == (("short breaks",), ("social workers",))
    assert parsed.optional == ("respite",)
    assert parsed.excluded == ("agency",)
    parsed = parse_query('"short breaks" OR "respite care"')
    assert parsed.required == (("short breaks", "respite care"),)


def test_exclusion_removes_matches() -> None:
    conn = fts_connection()
    rows = conn.execute("SELECT text FROM t WHERE t MATCH ?",
                        [match_expression(parse_query("social workers -agency"))]).fetchall()
    assert rows == []
    rows = conn.execute("SELECT text FROM t WHERE t MATCH ?", [match_expression(parse_query("short breaks"))]).fetchall(
    )
    assert rows == [("short breaks for disabled children",)]


def test_stopword_only_query_still_matches_words() -> None:
    assert parse_query("what was").optional == ("what", "was")


@pytest.mark.parametrize(("question", "words"), [
    ("Summarize the discussion about short breaks", ("short", "breaks")),
    ("What did the committee think about agency social workers?", ("committee", "agency", "social", "workers")),
    ("What was said at the meeting regarding the pupil premium", ("pupil", "premium")),
])
def test_question_framing_is_not_searched_for(question: str, words: tuple[str, ...]) -> None:
    assert parse_query(question).optional == words


def test_framing_words_still_count_inside_quotes() -> None:
    assert parse_query('"think tank" report').required == (("think tank",),)
