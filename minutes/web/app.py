"""The application factory. Settings come in as an argument so tests pass their own.

`build_app` makes the FastAPI app (routes, error handlers, request limits); `create_app` is what
uvicorn serves: that app wrapped at the ASGI boundary (minutes/web/asgi.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp

from minutes import __version__
from minutes.embed import Embedder
from minutes.search.tuning import Tuning
from minutes.settings import Settings
from minutes.storage import open_backend
from minutes.web import api, exports, pages, urls, workflows_api
from minutes.web.asgi import wrap
from minutes.web.errors import install_error_handlers
from minutes.web.holder import SearcherHolder
from minutes.web.security import install_security
from minutes.web.settings import WebSettings

STATIC = Path(__file__).resolve().parent / "static"


def create_app(settings: Settings | None = None, embedder: Embedder | None = None) -> ASGIApp:
    """The served app; core `Settings` get the server's settings added from the environment."""
    web = WebSettings.of(settings)
    return wrap(build_app(web, embedder), web)


def build_app(settings: WebSettings, embedder: Embedder | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Load the model and the index once, before the first request.
        holder = SearcherHolder(settings.index_dir, settings.model, settings.query_threads, embedder=embedder,
                                backend=open_backend(settings.index_dir, settings.backend),
                                tuning=Tuning(reply_weight=settings.reply_weight),
                                onnx_queries=settings.query_runtime == "onnx")
        app.state.holder = holder
        try:
            holder.get()
        except Exception as exc:  # still start: pages explain what is missing, and a later build is picked up
            logging.getLogger("minutes").warning("no index served yet: %s", exc)
        yield

    app = FastAPI(title="Minutes", version=__version__, lifespan=lifespan, docs_url=urls.API_DOCS,
                  description="Search UK council committee papers and minutes: ranked passages with "
                              "links to their source meeting.")
    app.state.settings = settings
    app.include_router(api.router)
    app.include_router(workflows_api.router)
    app.include_router(exports.router)
    app.include_router(pages.router)
    app.mount(urls.STATIC, StaticFiles(directory=STATIC), name="static")
    install_error_handlers(app, pages.render_error)
    install_security(app, settings, pages.render_error)
    return app
