"""Builds the ASGI app: each area's API router and pages, static files, and one error rendering."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import pmh
from pmh.audit import api as audit_api
from pmh.audit import pages as audit_pages
from pmh.auth import api as auth_api
from pmh.auth import pages as auth_pages
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
from pmh.reception import api as reception_api
from pmh.reception import pages as reception_pages
from pmh.registry import api as registry_api
from pmh.registry import pages as registry_pages
from pmh.web import pages as web_pages
from pmh.web.session import LoginRequired
from pmh.web.templating import templates

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
    )
}


_HTTP_TITLES = {
    400: "リクエストの形式が正しくありません",
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
        context = {"staff": None, "title": exc.title, "message": exc.message}
        return templates.TemplateResponse(request, "web/error.html", context, status_code=exc.status_code)
    errors = [e.as_dict() for e in exc.errors]
    return _problem(exc.status_code, exc.code, exc.title, exc.message, errors, exc.extensions)


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or "request"


async def _handle_http_exception(request: Request, exc: Exception) -> Response:
    """Render the framework's own HTTP errors (unparsable body, unknown path) like every other error."""
    assert isinstance(exc, StarletteHTTPException)
    title = _HTTP_TITLES.get(exc.status_code, "リクエストを処理できません")
    detail = exc.detail if isinstance(exc.detail, str) else title
    if _wants_html(request):
        context = {"staff": None, "title": title, "message": title}
        return templates.TemplateResponse(request, "web/error.html", context, status_code=exc.status_code)
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
    errors = [
        {
            "field": _location(tuple(e.get("loc", ()))),
            "code": str(e.get("type", "invalid")),
            "message": e.get("msg", ""),
        }
        for e in exc.errors()
    ]
    return _problem(422, "invalid_input", "入力内容に誤りがあります", "リクエストの形式が正しくありません。", errors)


class RequestLog:
    """Log method, path (never the query string, which may carry personal data), status and time.

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
                    "path": scope["path"],
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )


def create_app() -> FastAPI:
    """Return the pmh ASGI application."""
    app = FastAPI(
        title="pmh — 医療費助成オンライン資格確認ハブ",
        version=pmh.__version__,
        description="自治体・医療機関・薬局・運営主体のためのAPI。`Authorization: Bearer <APIキー>` で呼び出します。",
        docs_url="/docs",
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
        onboarding_pages,
    ):
        app.include_router(area_pages.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="static")
    app.add_exception_handler(PmhError, _handle_pmh_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    app.add_middleware(RequestLog)
    return app
