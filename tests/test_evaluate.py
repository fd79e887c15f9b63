"""`minutes eval` must agree with the reference scorer in ../shared/tools/eval_score.py."""

import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from minutes.cli import cli
from minutes.evaluate import Question, score, score_question, within_budget

from .conftest import shared_path


def reference_module():
    spec = importlib.util.spec_from_file_location("eval_score", shared_path("tools", "eval_score.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scores_match_reference_on_random_rankings() -> None:
    reference = reference_module()
    rng = random.Random(7)
    vocabulary = ["the", "committee", "agreed", "short", "breaks", "“budget”", "–", "care",
                  "leavers\xa0funding", "‘SEND’", "review"]
    for _ in range(300):
        passages = [" ".join(rng.choices(vocabulary, k=rng.randint(1, 400))) for _ in range(rng.randint(0, 12))]
        quotes = [" ".join(rng.choices(vocabulary, k=rng.randint(1, 3))) for _ in range(rng.randint(1, 3))]
        assert score_question(quotes, passages) == reference.score_question(quotes, passages)
        assert within_budget(passages) == reference.within_budget(passages)


def test_budget_cuts_long_passages() -> None:
    long = "word " * 2000 + "needle in the tail"
    assert score_question(["needle in the tail"], [long])[0] is False
    assert score_question(["needle"], ["x " * 100, "needle"]) == (True, 0.5, 1.0)


def test_cli_run_file_scores_the_same_as_reference(seed_index_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MINUTES_MODEL", "hashing")
    questions = shared_path("eval", "seeds-dev.jsonl")
    run_file = tmp_path / "run.jsonl"
    result = CliRunner().invoke(cli, ["eval", str(questions), "--index-dir", str(seed_index_dir), "--json",
                                      "--run-out", str(run_file)])
    assert result.exit_code == 0, result.output
    ours = json.loads(result.stdout)["corpus"]
    reference = subprocess.run([sys.executable, str(shared_path("tools", "eval_score.py")), str(questions),
                                str(run_file)], capture_output=True, text=True, check=True)
    assert json.loads(reference.stdout) == ours
    assert ours["n"] == 20


def test_score_means() -> None:
    questions = [Question("a", "q", ("x",)), Question("b", "q", ("y", "z"))]
    figures = score(questions, {"a": ["nothing", "x here"], "b": ["y"]})
    assert (figures.n, figures.hit, figures.mrr, figures.quote_recall) == (2, 1.0, 0.75, 0.75)
