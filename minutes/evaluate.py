"""Relevance evaluation by the rules of ../shared/eval/README.md.

Hit@k, MRR@k and QuoteRecall@k over the top k passages cut to a reading budget of 2,000
words; across the corpus and, for questions that name a document, restricted to it.
`tests/test_evaluate.py` checks these figures against the reference scorer.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from minutes.errors import InputError

_SWAPS = (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"'), ("\u2013", "-"), ("\u2014", "-"))


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    for a, b in _SWAPS:
        text = text.replace(a, b)
    return re.sub(r"\s+", " ", text).strip().lower()


def within_budget(passages: list[str], k: int = 10, budget: int = 2000) -> list[str]:
    kept, left = [], budget
    for text in passages[:k]:
        if left <= 0:
            break
        words = text.split()
        kept.append(" ".join(words[:left]))
        left -= len(words)
    return kept


def score_question(quotes: list[str], passages: list[str], k: int = 10,
                   budget: int = 2000) -> tuple[bool, float, float]:
    shown = [normalise(p) for p in within_budget(passages, k, budget)]
    wanted = [normalise(q) for q in quotes]
    first = next((rank for rank, p in enumerate(shown, 1) if any(q in p for q in wanted)), None)
    found = sum(1 for q in wanted if any(q in p for p in shown))
    return first is not None, (1 / first if first else 0.0), found / len(wanted)


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    relevant: tuple[str, ...]
    document: str | None = None


@dataclass(frozen=True)
class Scores:
    n: int
    hit: float
    mrr: float
    quote_recall: float

    def as_dict(self, k: int = 10) -> dict[str, float | int]:
        return {"n": self.n, f"hit@{k}": self.hit, f"mrr@{k}": self.mrr, f"quote_recall@{k}": self.quote_recall}


def load_questions(paths: Iterable[Path]) -> list[Question]:
    questions = []
    for path in paths:
        for number, line in enumerate(Path(path).read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                questions.append(Question(str(row["id"]), row["question"], tuple(row["relevant"]), row.get("document")))
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(f"{path}:{number}: not a question line ({exc})") from None
    return questions


def score(questions: list[Question], runs: dict[str, list[str]], k: int = 10, budget: int = 2000) -> Scores:
    rows = [score_question(list(q.relevant), runs.get(q.id, []), k, budget) for q in questions]
    n = len(rows) or 1
    return Scores(len(rows), round(sum(r[0] for r in rows) / n, 3), round(sum(r[1] for r in rows) / n, 3),
                  round(sum(r[2] for r in rows) / n, 3))


Ranker = Callable[[str, str | None], list[str]]  # (question, document or None) -> passage texts


def run_questions(questions: list[Question], rank: Ranker, scoped: bool) -> dict[str, list[str]]:
    """Ranked passage texts per question: across the corpus, or within each question's document."""
    return {q.id: rank(q.question, q.document if scoped else None)
            for q in questions if not scoped or q.document}
