import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from minutes.cli.serve import cli

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
