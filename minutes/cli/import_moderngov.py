"""`minutes import moderngov BASE_URL`: fetch a council's meetings, then index them.

Added to the `minutes` group by minutes.cli. The import writes a folder of documents
(see minutes.sources.moderngov.importer) and then builds the index of that folder together with
whatever the current index was built from, so an import adds to the index rather than
replacing it. Re-running an unchanged import rewrites nothing and embeds nothing.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import click

from minutes.cli.index import run_build
from minutes.dates import parse_filter_date
from minutes.ingest import IngestOptions
from minutes.ingest.report import problem_lines
from minutes.settings import Settings
from minutes.sources.moderngov.client import Client
from minutes.sources.moderngov.importer import Importer, default_window
from minutes.storage import open_backend


@click.group(name="import")
def import_group() -> None:
    """Import council papers from a council's website."""


def _date(value: str | None, end: bool = False) -> date | None:
    return parse_filter_date(value, end=end) if value else None


def previous_sources(index_dir: Path, backend: str | None = None) -> list[Path]:
    """The folders the serving index was built from (those that still exist)."""
    return [Path(p) for p in open_backend(index_dir, backend).previous_sources() if Path(p).exists()]


@import_group.command(name="moderngov")
@click.argument("base_url")
@click.option("--committee", "committees", multiple=True, metavar="ID|NAME",
              help="Only this committee (its id or exact name); repeatable. Default: all.")
@click.option("--from", "date_from", metavar="DATE", help="Meetings on or after DATE (default: a year before --to).")
@click.option("--to", "date_to", metavar="DATE", help="Meetings on or before DATE (default: today).")
@click.option("--council", help="The council's name, written to the folder's minutes.yaml.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Folder for the imported documents [default: imports/<site host>].")
@click.option("--delay", type=float, default=1.0, show_default=True, help="Seconds between requests to the site.")
@click.option("--timeout", type=float, default=60.0, show_default=True,
              help="Seconds a whole request may take (connect, headers and body together).")
@click.option("--max-size", "max_mb", type=click.FloatRange(min=0.001), default=100.0, show_default=True,
              help="Largest response in MB (decoded); a larger paper is reported and skipped.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="HOST",
              help="Also fetch papers from this host (a council's separate document server); repeatable. "
                   "Other hosts are never fetched.")
@click.option("--retries", type=int, default=3, show_default=True, help="Retries after a time-out or 5xx.")
@click.option("--backoff", type=float, default=1.0, show_default=True,
              help="Seconds before the first retry; doubled for each one after (Retry-After wins).")
@click.option("--offline", is_flag=True, help="Use only the local cache of earlier responses; no network.")
@click.option("--documents/--no-documents", default=True, show_default=True,
              help="Download the items' linked papers (PDF) and index them with page numbers.")
@click.option("--index/--no-index", "build", default=True, show_default=True,
              help="Build the index afterwards (of this folder and the current index's sources).")
@click.pass_obj
def moderngov(settings: Settings, base_url: str, committees: tuple[str, ...], date_from: str | None,
              date_to: str | None, council: str | None, out_dir: Path | None, delay: float, timeout: float,
              retries: int, backoff: float, offline: bool, documents: bool, build: bool, max_mb: float,
              allow_hosts: tuple[str, ...]) -> None:
    """Import the meetings of the ModernGov site at BASE_URL (e.g. https://democracy.kent.gov.uk)."""
    if not urlparse(base_url).scheme.startswith("http"):
        raise click.BadParameter(f"'{base_url}' is not an http(s) URL", param_hint="BASE_URL")
    since, until = default_window(_date(date_from), _date(date_to, end=True))
    if since > until:
        raise click.BadParameter(f"--from {since} is after --to {until}")
    host = urlparse(base_url).netloc
    out_dir = out_dir or Path("imports") / host
    cache_dir = settings.index_dir / "http-cache" / host
    with Client(cache_dir, delay=delay, timeout=timeout, retries=retries, backoff=backoff, offline=offline,
                max_bytes=int(max_mb * 1024 * 1024)) as client:
        importer = Importer(base_url, out_dir, client, council=council, download_documents=documents,
                            document_hosts=allow_hosts)
        report = importer.run(list(committees), since, until)
        stats = client.stats
    for line in problem_lines(report.problems):
        click.echo(line, err=True)
    failed = f" ({len(report.failed_papers)} failed)" if report.failed_papers else ""
    click.echo(f"imported {report.meetings} meetings ({report.via_html} from their HTML page), {report.items} items "
               f"({report.procedural} procedural), {report.documents} papers{failed}; {report.restricted} restricted "
               f"items or papers not stored; {report.written} files written, {report.removed} removed → {out_dir} "
               f"in {report.seconds:.1f}s [{stats.requests} requests, {stats.not_modified} not modified, "
               f"{stats.from_cache} from cache, {stats.retries} retries]")
    if not council and not (out_dir / "minutes.yaml").exists():
        click.echo("gap: the site's council is not known, so its documents have none; pass --council NAME", err=True)
    if report.failed_papers:
        click.echo(f"{len(report.failed_papers)} papers could not be downloaded (an earlier copy, if any, is kept):",
                   err=True)
        for paper in report.failed_papers:
            click.echo(f"  {paper.meeting}, {paper.owner}: '{paper.title}' ({paper.reason}) {paper.url}", err=True)
    if report.meetings == 0 and report.problems:
        click.echo("Error: nothing could be imported", err=True)
        sys.exit(1)
    if build:
        sources = [p for p in previous_sources(settings.index_dir, settings.backend)
                   if p.resolve() != out_dir.resolve()]
        run_build(settings, [*sources, out_dir], ingest=IngestOptions(council=council))
    if report.meetings_without_papers:  # what was imported is indexed; the run still failed
        click.echo(f"Error: no paper of {len(report.meetings_without_papers)} meeting(s) could be downloaded: "
                   + "; ".join(report.meetings_without_papers), err=True)
        sys.exit(1)
