"""`minutes index`: build the index of a corpus and swap it in (also the build step of `serve` and `import`)."""

from __future__ import annotations

from pathlib import Path

import click

from minutes.build import build_from_settings
from minutes.cli.options import index_dir_option
from minutes.ingest import IngestOptions
from minutes.ingest.report import problem_lines
from minutes.settings import Settings


def run_build(settings: Settings, paths: list[Path], rebuild: bool = False,
              ingest: IngestOptions | None = None) -> None:
    """Build (minutes.build.build_from_settings), then print the problems (stderr) and a one-line summary."""
    report = build_from_settings(settings, paths, rebuild=rebuild, ingest=ingest)
    for line in problem_lines(report.problems):
        click.echo(line, err=True)
    failed = sum(p.kind == "failed" for p in report.problems)
    click.echo(f"read {report.files} files: indexed {report.documents} documents, {report.passages} passages "
               f"({report.embedded} embedded, {report.reused} reused) in {report.seconds:.1f}s; "
               f"{failed} failed → {report.build_dir or report.build_id}")


@click.command(name="index")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--rebuild", is_flag=True, help="Re-embed everything, ignoring cached vectors.")
@click.option("--device", help="Embed on this device (cpu, cuda).")
@click.option("--council", help="Council of papers whose folders do not say (as council: in a minutes.yaml).")
@click.option("--committee-name", "committee_names", multiple=True, metavar="CODE=NAME",
              help="Name for a committee code in metadata.json, e.g. full_council=\"County Council\" (repeatable).")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Embed with Ray Data actors: on the cluster at ADDRESS, or a local Ray on 127.0.0.1 "
                   "[env MINUTES_RAY].")
@index_dir_option
@click.pass_obj
def index_command(settings: Settings, paths: tuple[Path, ...], rebuild: bool, device: str | None,
                  council: str | None, committee_names: tuple[str, ...], ray_address: str | None) -> None:
    """Build the index of PATHS (default: the corpus folder) and swap it in."""
    if device:
        settings = settings.model_copy(update={"device": device})
    if ray_address:
        settings = settings.model_copy(update={"ray": ray_address})
    names = {}
    for pair in committee_names:
        code, sep, name = pair.partition("=")
        if not sep or not code.strip() or not name.strip():
            raise click.BadParameter(f"'{pair}' is not CODE=NAME", param_hint="--committee-name")
        names[code.strip()] = name.strip()
    run_build(settings, list(paths) or settings.corpus, rebuild, IngestOptions(council=council, committee_names=names))
