"""`minutes index`: build the index of a corpus and swap it in (also the build step of `serve` and `import`)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from minutes.build import build_index
from minutes.cli.options import index_dir_option
from minutes.embed import load_embedder
from minutes.ingest import IngestOptions
from minutes.ingest.report import problem_lines
from minutes.settings import Settings
from minutes.storage.sqlite_faiss.store import current_build


def run_build(settings: Settings, paths: list[Path], rebuild: bool = False,
              ingest: IngestOptions | None = None) -> None:
    """Build, then print the problems (stderr) and a one-line summary."""
    if settings.model != "hashing":
        # Imported here only because torch takes seconds to import and the test model needs none.
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
    if rebuild:
        for cache in ("cache.sqlite", "extracted.sqlite"):
            if (settings.index_dir / cache).exists():
                (settings.index_dir / cache).unlink()
    embedder = load_embedder(settings.model, device=settings.device)
    report = build_index(paths, settings.index_dir, embedder, batch_size=settings.batch_size, ingest=ingest)
    for line in problem_lines(report.problems):
        click.echo(line, err=True)
    failed = sum(p.kind == "failed" for p in report.problems)
    click.echo(f"read {report.files} files: indexed {report.documents} documents, {report.passages} passages "
               f"({report.embedded} embedded, {report.reused} reused) in {report.seconds:.1f}s; "
               f"{failed} failed → {report.build_dir}")


def index_is_ready(settings: Settings) -> bool:
    build = current_build(settings.index_dir)
    return build is not None and (build / "manifest.json").exists()


@click.command(name="index")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--rebuild", is_flag=True, help="Re-embed everything, ignoring cached vectors.")
@click.option("--device", help="Embed on this device (cpu, cuda).")
@click.option("--council", help="Council of papers whose folders do not say (as council: in a minutes.yaml).")
@click.option("--committee-name", "committee_names", multiple=True, metavar="CODE=NAME",
              help="Name for a committee code in metadata.json, e.g. full_council=\"County Council\" (repeatable).")
@index_dir_option
@click.pass_obj
def index_command(settings: Settings, paths: tuple[Path, ...], rebuild: bool, device: str | None,
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
