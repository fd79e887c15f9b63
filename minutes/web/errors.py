"""One error shape everywhere: JSON `{"ok": false, "error", "status"}` for the API, error.html for pages."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from minutes.errors import DateError, IndexCorrupt, IndexMismatch, IndexMissing, QueryError
from minutes.errors import IndexProblem as IndexError_
from minutes.web.schemas import ErrorBody

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in ((404, "Not found"), (413, "Request body too large"), (414, "Address too long"),
                         (422, "Invalid input"), (429, "Too many requests (when a rate limit is set)"),
                         (500, "Internal error"), (503, "No index is being served"))
}
ERROR_RESPONSES[429]["headers"] = {"Retry-After": {"description": "Seconds to wait before trying again.",
                                                   "schema": {"type": "integer"}}}


def _field_message(error: dict[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part not in ("query", "path", "body")]
    name = ".".join(loc) or "request"
    ctx = error.get("ctx") or {}
    kind = error.get("type", "")
    if kind == "string_too_short" and name == "q":
        return "the query is empty; type some words to search for"
    if kind == "string_too_long":
        return f"{name} is too long; the limit is {ctx.get('max_length')} characters"
    if kind in ("greater_than_equal", "less_than_equal") and name == "k":
        return "k must be between 1 and 100"
    if kind == "missing":
        return f"{name} is required"
    return f"{name}: {error.get('msg', 'is not valid')}"


def validation_message(exc: RequestValidationError) -> str:
    return "; ".join(_field_message(e) for e in exc.errors()) or "invalid request"


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/healthz", "/openapi.json"))


def install_error_handlers(app: FastAPI, render_error: Any) -> None:
    def respond(request: Request, status: int, message: str) -> Response:
        if wants_html(request):
            return render_error(request, status, message)
        return JSONResponse(ErrorBody(error=message, status=status).model_dump(), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return respond(request, 422, validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"there is no page at {request.url.path}"
        response = respond(request, exc.status_code, message)
        for name, value in (exc.headers or {}).items():  # e.g. Allow on a 405
            response.headers[name] = value
        return response

    @app.exception_handler(QueryError)
    @app.exception_handler(DateError)
    async def bad_query(request: Request, exc: ValueError) -> Response:
        return respond(request, 422, str(exc))

    @app.exception_handler(IndexError_)
    async def no_index(request: Request, exc: IndexError_) -> Response:
        status = 503 if isinstance(exc, IndexMissing | IndexMismatch | IndexCorrupt) else 500
        return respond(request, status, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        return respond(request, 500, "internal error; the server log has the details")
