"""Builds the ASGI app: each area's API router and pages, static files, and one error rendering."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
from fastapi import FastAPI, Request, params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from psycopg_pool import PoolTimeout as AsyncPoolTimeout
from pydantic import BaseModel
from sqlalchemy import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import pmh
from pmh.audit import api as audit_api
from pmh.audit import pages as audit_pages
from pmh.auth import api as auth_api
from pmh.auth import pages as auth_pages
from pmh.auth.deps import check_upload_key
from pmh.availability import is_unavailable, unavailable
from pmh.bodyguard import BodyGuard
from pmh.codes import api as codes_api
from pmh.copay import api as copay_api
from pmh.copay import pages as copay_pages
from pmh.eligibility import api as eligibility_api
from pmh.eligibility import pages as eligibility_pages
from pmh.errors import PmhError
from pmh.onboarding import api as onboarding_api
from pmh.onboarding import pages as onboarding_pages
from pmh.operator import api as operator_api
from pmh.operator import pages as operator_pages
from pmh.privacy import redact_my_numbers
from pmh.reception import api as reception_api
from pmh.reception import pages as reception_pages
from pmh.registry import api as registry_api
from pmh.registry import pages as registry_pages
from pmh.resident import api as resident_api
from pmh.resident import pages as resident_pages
from pmh.web import pages as web_pages
from pmh.web.errors import error_page, validation_message
from pmh.web.headers import SecurityHeaders
from pmh.web.session import LoginRequired

log = logging.getLogger("pmh.http")
API_PREFIX = "/api/v1"
PROBLEM_JSON = "application/problem+json"


class FieldProblem(BaseModel):
    """One field's problem inside a problem-details response."""

    field: str
    code: str
    message: str
    row: int | None = None


class Problem(BaseModel):
    """RFC 9457 problem details, with pmh's stable ``code`` and per-field ``errors``."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldProblem] = []


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": title}
    for status, title in (
        (400, "リクエストを処理できません"),
        (401, "認証が必要です"),
        (403, "権限がありません"),
        (404, "見つかりません"),
        (409, "現在の状態と矛盾します"),
        (413, "ファイルが大きすぎます"),
        (422, "入力内容に誤りがあります"),
        (429, "試行回数が多すぎます"),
        (503, "データベースに接続できません（切り替え中）"),
    )
}


_HTTP_TITLES = {
    400: "リクエストの形式が正しくありません",
    413: "リクエストが大きすぎます",
    404: "見つかりません",
    405: "この方法では呼び出せません",
}


def _problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]],
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = dict(extensions or {})
    body |= {
        "type": f"urn:pmh:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(API_PREFIX) and "text/html" in request.headers.get("accept", "")


async def _handle_pmh_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PmhError)
    if isinstance(exc, LoginRequired) and not request.url.path.startswith(API_PREFIX):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    if _wants_html(request):
        fields = [{"field": e.field, "message": e.message} for e in exc.errors if e.message != exc.message]
        page = error_page(request, exc.status_code, exc.title, exc.message, fields)
        page.headers.update(exc.headers())
        return page
    errors = [e.as_dict() for e in exc.errors]
    response = _problem(exc.status_code, exc.code, exc.title, exc.message, errors, exc.extensions)
    response.headers.update(exc.headers())
    return response


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or "request"


async def _handle_database_error(request: Request, exc: Exception) -> Response:
    """Answer a database outage (failover, standby, refused connection) with 503 and ``Retry-After``.

    Any other database error is a bug: it is raised on, to the 500 of the server error handler.
    """
    if not is_unavailable(exc):
        raise exc
    log.warning("database unavailable", extra={"error": type(exc).__name__, "path": _logged_path(request.scope)})
    outage = unavailable()
    if _wants_html(request):
        page = error_page(request, outage.status_code, outage.title, outage.message, with_staff=False)
        page.headers.update(outage.headers())
        return page
    response = _problem(outage.status_code, outage.code, outage.title, outage.message, [], outage.extensions)
    response.headers.update(outage.headers())
    return response


async def _handle_http_exception(request: Request, exc: Exception) -> Response:
    """Render the framework's own HTTP errors (unparsable body, unknown path) like every other error."""
    assert isinstance(exc, StarletteHTTPException)
    title = _HTTP_TITLES.get(exc.status_code, "リクエストを処理できません")
    detail = exc.detail if isinstance(exc.detail, str) else title
    if _wants_html(request):
        message = "お探しのページは見つかりません。" if exc.status_code == 404 else title
        return error_page(request, exc.status_code, title, message)
    response = _problem(exc.status_code, f"http_{exc.status_code}", title, detail, [])
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    if exc.status_code == 405:
        response.headers["Allow"] = ", ".join(_allowed_methods(request))
    return response


def _allowed_methods(request: Request) -> list[str]:
    """Return every method any route serves at this path (Starlette lists only the first route's)."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE and isinstance(route, APIRoute | Route):
            methods |= route.methods or set()
    return sorted(methods)


async def _handle_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if _wants_html(request):  # a page URL or form with a wrong value: a page, never JSON
        fields = [
            {"field": _location(tuple(e.get("loc", ()))), "message": validation_message(e), "value": _shown(e)}
            for e in exc.errors()
        ]
        return error_page(request, 422, "入力内容に誤りがあります", "次の項目を確認してください。", fields)
    errors = [
        {
            "field": _location(tuple(e.get("loc", ()))),
            "code": str(e.get("type", "invalid")),
            "message": e.get("msg", ""),
        }
        for e in exc.errors()
    ]
    return _problem(422, "invalid_input", "入力内容に誤りがあります", "リクエストの形式が正しくありません。", errors)


def _shown(error: dict[str, Any]) -> str:
    """Return the wrong value as the person typed it (short), for the error page."""
    value = error.get("input")
    return redact_my_numbers(value[:40]) if isinstance(value, str) else ""


def _logged_path(scope: Scope) -> str:
    """Return the path as the request log records it: the route's template, never the values in it.

    ``/api/v1/receptions/{reception_id}/eligibility``, not the id; a path no route matched is logged
    as ``(no route)``, since what was typed there may be anything. The query string is never logged
    (patient-name searches).
    """
    if "endpoint" not in scope:
        return "(no route)"
    path = str(scope.get("path", ""))
    params = scope.get("path_params") or {}
    for name, value in sorted(params.items(), key=lambda item: -len(str(item[1]))):
        if str(value):
            path = path.replace(f"/{value}", f"/{{{name}}}")
    return path


class RequestLog:
    """Log method, route (never the values in the path nor the query string), status and time.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` would wrap every request and
    response stream in extra tasks, which costs more than the log line itself on a hot path.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before it starts a response

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": _logged_path(scope),
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Run the audit sealer and open the eligibility read pool in this process while it serves (PostgreSQL).

    SQLite seals at append and reads eligibility on the general path.

    Every worker process calls :func:`create_app`, so each has its own sealer; sealers of several
    processes and nodes share the chains safely (:mod:`pmh.audit.sealer`).
    """
    from pmh.settings import get_settings

    settings = get_settings()
    sealer = None
    if settings.audit_sealer and make_url(settings.effective_database_url).get_backend_name() == "postgresql":
        from pmh.audit.sealer import start_sealer

        sealer = start_sealer(settings.audit_seal_ms)
    read_pool = None
    if settings.read_pool_size and make_url(settings.effective_database_url).get_backend_name() == "postgresql":
        from pmh.eligibility.fastread import open_pool

        read_pool = open_pool(settings.effective_database_url, settings.read_pool_size)
        await read_pool.open()
        _app.state.read_pool = read_pool
    try:
        yield
    finally:
        if read_pool is not None:
            _app.state.read_pool = None
            await read_pool.close()
        if sealer is not None:
            sealer.stop()


def create_app() -> FastAPI:
    """Return the pmh ASGI application."""
    app = FastAPI(
        lifespan=_lifespan,
        title="pmh — 医療費助成オンライン資格確認ハブ",
        version=pmh.__version__,
        description="自治体・医療機関・薬局・運営主体のためのAPI。`Authorization: Bearer <APIキー>` で呼び出します。",
        docs_url=None,  # served by web.pages with Swagger UI from the hub itself (closed networks reach no CDN)
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    for area_api in (
        auth_api,
        audit_api,
        codes_api,
        registry_api,
        eligibility_api,
        reception_api,
        copay_api,
        operator_api,
        resident_api,
        onboarding_api,
    ):
        app.include_router(area_api.router, prefix=API_PREFIX, responses=PROBLEM_RESPONSES)
    for area_pages in (
        web_pages,
        auth_pages,
        audit_pages,
        registry_pages,
        eligibility_pages,
        reception_pages,
        copay_pages,
        operator_pages,
        resident_pages,
        onboarding_pages,
    ):
        app.include_router(area_pages.router)
    app.mount("/static/apidocs", StaticFiles(directory=web_pages.SWAGGER_ASSETS), name="apidocs")
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="static")
    app.add_exception_handler(PmhError, _handle_pmh_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    app.add_exception_handler(DBAPIError, _handle_database_error)
    app.add_exception_handler(PoolTimeout, _handle_database_error)
    app.add_exception_handler(psycopg.Error, _handle_database_error)  # the async read path's own pool
    app.add_exception_handler(AsyncPoolTimeout, _handle_database_error)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyGuard, upload_paths=_upload_paths(app), check_upload_key=check_upload_key)
    app.add_middleware(RequestLog)
    return app


def all_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    """Return every API and page route of the app with its full path.

    Recent FastAPI keeps an included router as one entry of ``app.routes``; this walks into them
    (and into routers included by routers) and adds up their prefixes.
    """
    found: list[tuple[str, APIRoute]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                found.append((prefix + route.path, route))
            elif (included := getattr(route, "original_router", None)) is not None:
                walk(included.routes, prefix + route.include_context.prefix)

    walk(list(app.routes), "")
    return found


def _upload_paths(app: FastAPI) -> frozenset[str]:
    """Return the paths of the upload routes: a ``File`` parameter, or marked ``large_body``."""
    paths = set()
    for path, route in all_routes(app):
        files = any(isinstance(p.field_info, params.File) for p in route.dependant.body_params)
        if files or getattr(route.endpoint, "__pmh_upload__", False):
            paths.add(path)
    return frozenset(paths)
