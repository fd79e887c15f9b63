import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import minutes.cli.search
from minutes.cli import cli
from minutes.cli.terminal import printable

from .conftest import CORPUS, shared_path


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MINUTES_MODEL", "hashing")

    def invoke(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(cli, list(args))
        return result.exit_code, result.stdout, result.stderr

    return invoke


def test_index_search_and_json(run, tmp_path: Path) -> None:
    code, out, _ = run("index", str(CORPUS), "--index-dir", str(tmp_path))
    assert code == 0 and "indexed 5 documents" in out
    code, out, _ = run("search", "short breaks", "--index-dir", str(tmp_path), "--k", "3")
    assert code == 0 and out.startswith("1. [")
    code, out, _ = run("--index-dir", str(tmp_path), "search", "budget", "--json", "--council",
                       "Staffordshire County Council")
    body = json.loads(out)
    assert code == 0 and body["hits"] and {h["council"] for h in body["hits"]} == {"Staffordshire County Council"}


@pytest.mark.parametrize(("args", "message"), [
    (["search", "budget"], "no index in"),
    (["search", "   "], "no index in"),
    (["index", "/no/such/folder"], "no such file or folder: /no/such/folder"),
])
def test_errors_are_one_line_without_traceback(run, tmp_path: Path, args: list[str], message: str) -> None:
    code, out, err = run(*args, "--index-dir", str(tmp_path / "none"))
    assert code == 1
    assert err.startswith("Error: ") and message in err and "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1


def test_a_bad_setting_is_a_one_line_error(run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINUTES_BATCH_SIZE", "0")
    code, _, err = run("search", "budget")
    assert code == 1 and err.strip() == ("Error: a setting is not valid: MINUTES_BATCH_SIZE: "
                                         "Input should be greater than or equal to 1")


def test_a_programming_error_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only MinutesError is a user's error: a ValueError from a bug is not swallowed into one line."""
    def broken(*_args: object, **_kwargs: object) -> None:
        raise ValueError("a bug")

    monkeypatch.setattr(minutes.cli.search, "open_searcher", broken)
    result = CliRunner().invoke(cli, ["search", "budget", "--index-dir", str(tmp_path)])
    assert isinstance(result.exception, ValueError) and str(result.exception) == "a bug"
    assert "Error: a bug" not in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["search", "   "], "the query is empty"),
    (["search", "budget", "--k", "0"], "k must be between 1 and 100"),
    (["search", "budget", "--from", "2019-13"], "not a real date"),
])
def test_bad_queries_are_one_line_errors(run, seed_index_dir: Path, args: list[str], message: str) -> None:
    code, _, err = run(*args, "--index-dir", str(seed_index_dir))
    assert code == 1 and err.startswith("Error: ") and message in err


def test_eval_reports_both_scopes_when_questions_name_documents(run, seed_index_dir: Path, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"id": "a", "question": "short breaks", "relevant": ["availability of short breaks"]}) + "\n"
        + json.dumps({"id": "b", "question": "care leavers", "relevant": ["Stockport has 373 care leavers"],
                      "document": "003_1fb74289b39c3150"}) + "\n")
    code, out, _ = run("eval", str(questions), "--index-dir", str(seed_index_dir), "--json")
    body = json.loads(out)
    assert code == 0 and body["corpus"]["n"] == 2 and body["document"]["n"] == 1
    assert 0 <= body["corpus"]["mrr@10"] <= 1


def test_a_bad_question_file_is_a_one_line_error(run, seed_index_dir: Path, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "a", "question": "short breaks"}\n')
    code, _, err = run("eval", str(questions), "--index-dir", str(seed_index_dir))
    assert code == 1 and err.startswith(f"Error: {questions}:1: not a question line") and len(err.splitlines()) == 1


def test_eval_on_shared_questions_runs(run, seed_index_dir: Path) -> None:
    code, out, _ = run("eval", str(shared_path("eval", "seeds-dev.jsonl")), "--index-dir", str(seed_index_dir))
    assert code == 0 and out.startswith("corpus") and "n=20" in out


def test_search_and_eval_take_a_baseline_mode(run, seed_index_dir: Path) -> None:
    code, out, _ = run("search", "short breaks", "--mode", "keyword", "--json", "--index-dir", str(seed_index_dir))
    keyword_hits = json.loads(out)["hits"]
    assert code == 0 and keyword_hits and all(h["keyword_rank"] for h in keyword_hits)
    code, _, err = run("search", "short breaks", "--mode", "magic", "--index-dir", str(seed_index_dir))
    assert code == 2 and "'magic' is not one of" in err
    code, out, _ = run("eval", str(shared_path("eval", "seeds-dev.jsonl")), "--mode", "semantic",
                       "--index-dir", str(seed_index_dir))
    assert code == 0 and "n=20" in out


HOSTILE = ('---\ntitle: "Budget \\e]0;owned\\a report"\ncouncil: "Evil \\e[31mCouncil"\n'
           'source_url: "https://example.org/a\\e[2Jb"\n---\n'
           "The budget \x1b[2J\x1b[H was agreed by the council \u202eevil\u202c with a \x9b31m fake colour, "
           "and a forged line\rError: none.\n")
RAW_CONTROLS = ["\x1b", "\x07", "\x9b", "\u202e", "\u202c", "\r"]


def test_search_prints_control_characters_escaped(run, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "evil.md").write_text(HOSTILE)
    index_dir = str(tmp_path / "index")
    assert run("index", str(corpus), "--index-dir", index_dir)[0] == 0
    code, out, _ = run("search", "budget agreed", "--index-dir", index_dir)
    assert code == 0 and out.startswith("1. [")
    assert not [c for c in RAW_CONTROLS if c in out], "a raw control character reached the terminal"
    assert "Evil \\x1b[31mCouncil" in out and "\\x1b]0;owned\\x07" in out
    assert "\\x1b[2J\\x1b[H" in out and "\\u202eevil\\u202c" in out and "\\x9b31m" in out
    assert "source: https://example.org/a\\x1b[2Jb" in out
    assert len(out.strip().splitlines()) == 3  # the \r is not a line of its own

    code, out, _ = run("search", "budget agreed", "--json", "--index-dir", index_dir)
    assert code == 0 and not [c for c in RAW_CONTROLS if c in out]
    hit = json.loads(out)["hits"][0]  # escaped, not lost: the JSON holds the text as it was
    assert "\x1b[2J" in hit["text"] and "\u202eevil\u202c" in hit["text"] and "\x9b" in hit["text"]
    assert hit["council"] == "Evil \x1b[31mCouncil"


@pytest.mark.parametrize(("text", "shown"), [
    ("plain £ text — fine", "plain £ text — fine"),
    ("a\x1b[2Jb", "a\\x1b[2Jb"),
    ("tab\there\nnew", "tab\\there\\nnew"),
    ("del\x7f c1\x85\x9b", "del\\x7f c1\\x85\\x9b"),
    ("bidi \u202eabc\u2066\u2069 \u200f", "bidi \\u202eabc\\u2066\\u2069 \\u200f"),
])
def test_printable_escapes_every_control(text: str, shown: str) -> None:
    assert printable(text) == shown
