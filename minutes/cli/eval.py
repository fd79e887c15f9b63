"""`minutes eval`: score relevance on question files (Hit@k, MRR@k, QuoteRecall@k)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from minutes.cli.options import index_dir_option, mode_option
from minutes.evaluate import load_questions, run_questions, score
from minutes.records import Filters
from minutes.search.hybrid import Tuning, open_searcher
from minutes.settings import Settings


@click.command(name="eval")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--k", default=10, show_default=True, help="Passages scored per question.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--run-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the ranked passages (JSON lines).")
@mode_option
@index_dir_option
@click.pass_obj
def eval_command(settings: Settings, files: tuple[Path, ...], k: int, as_json: bool, run_out: Path | None,
             mode: str) -> None:
    """Score relevance on question FILES (Hit@k, MRR@k, QuoteRecall@k)."""
    questions = load_questions(files)
    tuning = Tuning(mode=mode, reply_weight=settings.reply_weight)
    searcher = open_searcher(settings.index_dir, settings.model, tuning=tuning, backend=settings.backend)

    def rank(question: str, document: str | None) -> list[str]:
        return [h.passage.text for h in searcher.search(question, k, Filters(document=document)).hits]

    results: dict[str, Any] = {}
    for scope, scoped in (("corpus", False), ("document", True)):
        runs = run_questions(questions, rank, scoped)
        if not runs:
            continue
        scored = [q for q in questions if q.id in runs]
        results[scope] = score(scored, runs, k).as_dict(k)
        if run_out:
            target = run_out if scope == "corpus" else run_out.with_suffix(".document" + run_out.suffix)
            try:
                target.write_text("".join(json.dumps({"id": i, "passages": p}) + "\n" for i, p in runs.items()))
            except OSError as exc:
                raise click.FileError(str(target), exc.strerror) from None
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    for scope, figures in results.items():
        click.echo(f"{scope:9} " + "  ".join(f"{name}={value}" for name, value in figures.items()))
