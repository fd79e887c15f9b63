"""`minutes search QUERY`: the top passages, as text for a person or as the API's JSON."""

from __future__ import annotations

from typing import Any

import click

from minutes.cli.options import filter_options, index_dir_option, make_filters, mode_option
from minutes.cli.terminal import printable, printable_json
from minutes.records import SearchResult
from minutes.search.hybrid import Tuning, open_searcher
from minutes.settings import Settings
from minutes.urls import source_link
from minutes.web.schemas import search_json  # the API's own shape, so the two cannot drift


def result_lines(result: SearchResult) -> list[str]:
    """The result as text lines, every piece of document text made safe for a terminal."""
    if not result.hits:
        return [printable(result.message or "")]
    lines = []
    for hit in result.hits:
        doc = hit.document
        where = " · ".join(x for x in (doc.council, doc.committee, doc.date, doc.item or doc.title) if x)
        lines.append(f"{hit.rank}. [{hit.score:.4f}] {printable(where)}")
        lines.append("   " + printable(" ".join(hit.passage.text.split())[:400]))
        if link := source_link(hit):  # at the passage's page for PDFs
            lines.append(f"   source: {printable(link)}")
    return lines


@click.command(name="search")
@click.argument("query")
@click.option("--k", default=10, show_default=True, help="Number of passages.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, as the API returns it.")
@filter_options
@mode_option
@index_dir_option
@click.pass_obj
def search_command(settings: Settings, query: str, k: int, as_json: bool, mode: str, **filter_args: Any) -> None:
    """Search the index for QUERY."""
    tuning = Tuning(mode=mode, reply_weight=settings.reply_weight)
    searcher = open_searcher(settings.index_dir, settings.model, tuning=tuning, backend=settings.backend)
    result = searcher.search(query, k, make_filters(**filter_args))
    if as_json:
        click.echo(printable_json(search_json(result)))
        return
    for line in result_lines(result):
        click.echo(line)
