"""`minutes serve`: the search pages and the JSON API on uvicorn (building the index first if needed)."""

from __future__ import annotations

import click

from minutes.build import index_is_ready
from minutes.cli.index import run_build
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
    from minutes.web.settings import WebSettings

    updates = {key: value for key, value in (("host", host), ("port", port)) if value is not None}
    web = WebSettings.of(settings, **updates)
    if build and not index_is_ready(web):
        click.echo(f"No index in {web.index_dir}; building it from {', '.join(map(str, web.corpus))}")
        run_build(web, web.corpus)
    click.echo(f"Serving on http://{web.host}:{web.port}")
    # Forwarded headers are handled by the app, for `trusted_proxies` only: uvicorn's own default
    # would believe any X-Forwarded-For sent from 127.0.0.1.
    uvicorn.run(create_app(web), host=web.host, port=web.port, log_level="info", proxy_headers=False)

