"""The `minutes` command: `index`, `search`, `eval`, `import moderngov` and `serve`.

Each command lives in its own module; this one builds the group and adds them. An error a
person can fix (a `MinutesError`, or a setting that does not validate) is one line on stderr
and exit status 1; anything else is a programming error and keeps its traceback.

This package is also the composition root: the sources' plug-ins into the generic readers
are registered here (saved ModernGov pages into the HTML reader), so the ingest layer never
imports a source.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from minutes import __version__
from minutes.cli.eval import eval_command
from minutes.cli.import_moderngov import import_group
from minutes.cli.index import index_command
from minutes.cli.search import search_command
from minutes.cli.serve import serve_command
from minutes.cli.terminal import printable
from minutes.errors import MinutesError
from minutes.settings import Settings
from minutes.sources.moderngov import saved_pages

saved_pages.register()


class MinutesGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MinutesError as exc:
            message = " ".join(str(exc).split()) or type(exc).__name__
            click.echo(f"Error: {printable(message)}", err=True)
            sys.exit(1)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"MINUTES_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise click.ClickException(f"a setting is not valid: {problems}") from None


@click.group(cls=MinutesGroup)
@click.option("--index-dir", type=click.Path(path_type=Path), help="Index folder [env MINUTES_INDEX_DIR].")
@click.version_option(__version__, prog_name="minutes")
@click.pass_context
def cli(ctx: click.Context, index_dir: Path | None) -> None:
    """Minutes: search UK council committee papers and minutes."""
    settings = _settings()
    if index_dir is not None:
        settings = settings.model_copy(update={"index_dir": index_dir})
    ctx.obj = settings


# The functions are named *_command so that none hides its module (`minutes.cli.search` stays a module).
for command in (index_command, search_command, eval_command, import_group, serve_command):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="minutes")
