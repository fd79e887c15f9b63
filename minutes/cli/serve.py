"""`minutes serve`: the search pages and the JSON API on uvicorn (building the index first if needed)."""

from __future__ import annotations

import click

from minutes.cli.index import index_is_ready, run_build
from minutes.cli.options import index_dir_option
from minutes.settings import Settings


@click.command(name="serve")
@click.option("--host", help="Address to listen on [env MINUTES_HOST, default 127.0.0.1].")
@click.option("--port", type=int, help="Port [env MINUTES_PORT, default 8000].")
@click.option("--build/--no-build", default=True, show_default=True,
              help="Build the index of the corpus first if there is none.")
@index_dir_option
@click.pass_obj
def serve_command(settings: Settings, host: str | None, port: int | None, build: bool) -> None:
    """Serve the search pages and the JSON API (building the index first if needed)."""
    # Imported here, not at the top, so that the other commands do not pay for importing the web stack.
    import uvicorn

    from minutes.web.app import create_app

    updates = {key: value for key, value in (("host", host), ("port", port)) if value is not None}
    settings = settings.model_copy(update=updates)
    if build and not index_is_ready(settings):
        click.echo(f"No index in {settings.index_dir}; building it from {', '.join(map(str, settings.corpus))}")
        run_build(settings, settings.corpus)
    click.echo(f"Serving on http://{settings.host}:{settings.port}")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
