"""`minutes index | search | eval`: the library's commands (the server adds `serve`).

Errors a person can fix are one line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from minutes.build import BuildError, build_index
from minutes.dates import DateError, parse_filter_date
from minutes.embed import ModelError, load_embedder
from minutes.evaluate import load_questions, run_questions, score
from minutes.ingest import IngestOptions
from minutes.ingest.limits import Limits
from minutes.records import Filters
from minutes.search.hybrid import MODES, QueryError, Tuning, open_searcher
from minutes.settings import Settings
from minutes.storage.sqlite_faiss.store import IndexError_, current_build

FIXABLE = (IndexError_, BuildError, QueryError, ModelError, DateError, ValueError, OSError)


class MinutesGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FIXABLE as exc:
            message = str(exc) or type(exc).__name__
            click.echo(f"Error: {message}", err=True)
            sys.exit(1)


def _set_index_dir(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.obj = ctx.find_root().obj = ctx.obj.model_copy(update={"index_dir": value})


def index_dir_option(func: Any) -> Any:
    """`--index-dir` after the command name too (`minutes search --index-dir D ...`)."""
    return click.option("--index-dir", type=click.Path(path_type=Path), expose_value=False, is_eager=True,
                        callback=_set_index_dir, help="Index folder [env MINUTES_INDEX_DIR].")(func)


mode_option = click.option(
    "--mode", type=click.Choice(MODES), default="hybrid", show_default=True,
    help="Retrieval method: Minutes' hybrid, or a baseline (plain rrf, keyword only, semantic only).")


def filter_options(func: Any) -> Any:
    for option in reversed([
        click.option("--council", help="Only this council."),
        click.option("--committee", help="Only this committee."),
        click.option("--from", "date_from", metavar="DATE", help="Meetings on or after DATE (YYYY[-MM[-DD]])."),
        click.option("--to", "date_to", metavar="DATE", help="Meetings on or before DATE (YYYY[-MM[-DD]])."),
        click.option("--document", help="Only this document id."),
        click.option("--decisions", is_flag=True, help="Only decisions (RESOLVED / AGREED)."),
        click.option("--procedural", is_flag=True, help="Include procedural items."),
    ]):
        func = option(func)
    return func


def make_filters(council: str | None, committee: str | None, date_from: str | None, date_to: str | None,
                 document: str | None, decisions: bool = False, procedural: bool = False) -> Filters:
    return Filters(council=council, committee=committee,
                   date_from=parse_filter_date(date_from) if date_from else None,
                   date_to=parse_filter_date(date_to, end=True) if date_to else None,
                   document=document, decisions_only=decisions, include_procedural=procedural)


@click.group(cls=MinutesGroup)
@click.option("--index-dir", type=click.Path(path_type=Path), help="Index folder [env MINUTES_INDEX_DIR].")
@click.pass_context
def cli(ctx: click.Context, index_dir: Path | None) -> None:
    """Minutes: search UK council committee papers and minutes."""
    settings = Settings()
    if index_dir is not None:
        settings = settings.model_copy(update={"index_dir": index_dir})
    ctx.obj = settings


def run_build(settings: Settings, paths: list[Path], rebuild: bool = False,
              ingest: IngestOptions | None = None) -> None:
    from minutes.ingest.report import problem_lines

    if settings.model != "hashing":  # the test model needs no torch (whose import takes seconds)
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
    if rebuild:
        for cache in ("cache.sqlite", "extracted.sqlite"):
            if (settings.index_dir / cache).exists():
                (settings.index_dir / cache).unlink()
    embedder = load_embedder(settings.model, device=settings.device)
    ingest = ingest or IngestOptions()
    ingest.limits = Limits.from_settings(settings)
    report = build_index(paths, settings.index_dir, embedder, batch_size=settings.batch_size, ingest=ingest)
    for line in problem_lines(report.problems):
        click.echo(line, err=True)
    failed = sum(p.kind == "failed" for p in report.problems)
    click.echo(f"read {report.files} files: indexed {report.documents} documents, {report.passages} passages "
               f"({report.embedded} embedded, {report.reused} reused) in {report.seconds:.1f}s; "
               f"{failed} failed → {report.build_dir}")


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--rebuild", is_flag=True, help="Re-embed everything, ignoring cached vectors.")
@click.option("--device", help="Embed on this device (cpu, cuda).")
@click.option("--council", help="Council of papers whose folders do not say (as council: in a minutes.yaml).")
@click.option("--committee-name", "committee_names", multiple=True, metavar="CODE=NAME",
              help="Name for a committee code in metadata.json, e.g. full_council=\"County Council\" (repeatable).")
@index_dir_option
@click.pass_obj
def index(settings: Settings, paths: tuple[Path, ...], rebuild: bool, device: str | None,
          council: str | None, committee_names: tuple[str, ...]) -> None:
    """Build the index of PATHS (default: the corpus folder) and swap it in."""
    if device:
        settings = settings.model_copy(update={"device": device})
    names = {}
    for pair in committee_names:
        code, sep, name = pair.partition("=")
        if not sep or not code.strip() or not name.strip():
            raise click.BadParameter(f"'{pair}' is not CODE=NAME", param_hint="--committee-name")
        names[code.strip()] = name.strip()
    run_build(settings, list(paths) or settings.corpus, rebuild, IngestOptions(council=council, committee_names=names))


@cli.command()
@click.argument("query")
@click.option("--k", default=10, show_default=True, help="Number of passages.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, as the API returns it.")
@filter_options
@mode_option
@index_dir_option
@click.pass_obj
def search(settings: Settings, query: str, k: int, as_json: bool, mode: str, **filter_args: Any) -> None:
    """Search the index for QUERY."""
    from minutes.render import result_to_dict, source_link

    searcher = open_searcher(settings.index_dir, settings.model, tuning=Tuning(mode=mode))
    result = searcher.search(query, k, make_filters(**filter_args))
    if as_json:
        click.echo(json.dumps(result_to_dict(result), indent=2, ensure_ascii=False))
        return
    if not result.hits:
        click.echo(result.message)
    for hit in result.hits:
        doc = hit.document
        where = " · ".join(x for x in (doc.council, doc.committee, doc.date, doc.item or doc.title) if x)
        click.echo(f"{hit.rank}. [{hit.score:.4f}] {where}")
        click.echo("   " + " ".join(hit.passage.text.split())[:400])
        if doc.source_url:
            click.echo(f"   source: {source_link(hit)}")  # at the passage's page for PDFs


@cli.command(name="eval")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--k", default=10, show_default=True, help="Passages scored per question.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--run-out", type=click.Path(path_type=Path), help="Write the ranked passages (JSON lines).")
@mode_option
@index_dir_option
@click.pass_obj
def evaluate(settings: Settings, files: tuple[Path, ...], k: int, as_json: bool, run_out: Path | None,
             mode: str) -> None:
    """Score relevance on question FILES (Hit@k, MRR@k, QuoteRecall@k)."""
    questions = load_questions(files)
    searcher = open_searcher(settings.index_dir, settings.model, tuning=Tuning(mode=mode))

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
            target.write_text("".join(json.dumps({"id": i, "passages": p}) + "\n" for i, p in runs.items()))
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    for scope, figures in results.items():
        click.echo(f"{scope:9} " + "  ".join(f"{name}={value}" for name, value in figures.items()))


def _register_import() -> None:
    from minutes.cli.import_moderngov import import_group

    cli.add_command(import_group)


_register_import()


def index_is_ready(settings: Settings) -> bool:
    build = current_build(settings.index_dir)
    return build is not None and (build / "manifest.json").exists()
