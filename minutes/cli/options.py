"""Options shared by several commands: the index folder, the retrieval mode and the filters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from minutes.dates import parse_filter_date
from minutes.records import Filters
from minutes.search.hybrid import MODES


def _set_index_dir(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.obj = ctx.find_root().obj = ctx.obj.model_copy(update={"index_dir": value})


def _set_backend(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.obj = ctx.find_root().obj = ctx.obj.model_copy(update={"backend": value})


def index_dir_option(func: Any) -> Any:
    """`--index-dir` (and `--backend`, where the index lives) after the command name too."""
    func = click.option("--backend", metavar="URL", expose_value=False, is_eager=True, callback=_set_backend,
                        help="local, milvus://HOST:PORT[/PREFIX][?keyword=local] or milvus-lite:PATH "
                             "[env MINUTES_BACKEND, default local].")(func)
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
