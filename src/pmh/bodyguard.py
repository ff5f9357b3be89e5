"""Request bodies: size limits before anything is read, authentication before an upload, no NUL.

A pure ASGI middleware (Starlette's ``BaseHTTPMiddleware`` would wrap every request in extra
tasks). For every request with a body:

- a ``Content-Length`` over the route's limit is refused with 413 before a byte is read: upload
  routes (certificate files, the JSON batch, patient and participation lists) allow
  ``PMH_MAX_UPLOAD_MB``, every other route ``PMH_MAX_BODY_KB``;
- a body without ``Content-Length`` (chunked) is counted as it streams and cut off at the same
  limit (413);
- an upload route reads no body before the caller is known: an API upload without a valid key
  answers 401 (a wrong key counts towards the client's rate limit), a page upload without a
  session cookie goes to sign-in;
- a NUL character is refused (422) in the path, the query string and every body of a route that
  is not an upload (those are read whole, they are small): PostgreSQL cannot store it, and no
  text pmh accepts may contain it. Upload files are checked by their own parsers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pmh.auth.deps import address_of_client
from pmh.availability import is_unavailable, unavailable
from pmh.errors import PmhError
from pmh.settings import get_settings

PROBLEM_JSON = "application/problem+json"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
_FORM_NUL = re.compile(rb"%00")

UploadCheck = Callable[[str, str], None]
"""Checks an upload's bearer key for a client address; raises a :class:`PmhError` to refuse it."""


class BodyTooLarge(HTTPException):
    """A streamed body grew past the route's limit (rendered as a 413 problem)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"リクエストが大きすぎます（上限 {_size(limit)}）。")


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


def _problem(status: int, code: str, title: str, detail: str, headers: dict[str, str] | None = None) -> Any:
    from starlette.responses import Response

    body: dict[str, Any] = {"type": f"urn:pmh:problem:{code}", "title": title, "status": status, "detail": detail}
    body["code"] = code
    body["errors"] = []
    return Response(
        json.dumps(body, ensure_ascii=False), status_code=status, media_type=PROBLEM_JSON, headers=headers or {}
    )


def _nul_refused() -> Any:
    return _problem(
        422,
        "nul_character",
        "入力内容に誤りがあります",
        "入力にNUL文字（\\u0000）が含まれています。NUL文字は使えません。",
    )


def contains_nul(body: bytes, content_type: str) -> bool:
    """Return True when a small request body carries a NUL character in any of its encodings."""
    if b"\x00" in body:
        return True
    if "json" in content_type:
        return _JSON_NUL.search(body) is not None
    if "x-www-form-urlencoded" in content_type:
        return _FORM_NUL.search(body) is not None
    return False


class BodyGuard:
    """Size limits, upload authentication and the NUL rule for every request body (see the module)."""

    def __init__(self, app: ASGIApp, upload_paths: frozenset[str], check_upload_key: UploadCheck) -> None:
        self.app = app
        self.upload_paths = upload_paths
        self.check_upload_key = check_upload_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            await _nul_refused()(scope, receive, send)
            return
        if scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        settings = get_settings()
        upload = scope["path"] in self.upload_paths
        limit = settings.max_upload_mb * 1024 * 1024 if upload else settings.max_body_kb * 1024
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await _problem(400, "http_400", "リクエストの形式が正しくありません", "Content-Length が不正です。")(
                    scope, receive, send
                )
                return
            if int(declared) > limit:
                detail = (
                    f"リクエストが大きすぎます（{int(declared):,} バイト、上限 {_size(limit)}）。何も反映していません。"
                )
                code = "upload_too_large" if upload else "request_too_large"
                await _problem(413, code, "リクエストが大きすぎます", detail)(scope, receive, send)
                return
        if upload:
            refusal = await self._upload_refusal(scope, headers)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            await self.app(scope, _counted(receive, limit), send)
            return
        body = await _read_small(receive, limit)
        if body is None:
            detail = f"リクエストが大きすぎます（上限 {_size(limit)}）。何も反映していません。"
            await _problem(413, "request_too_large", "リクエストが大きすぎます", detail)(scope, receive, send)
            return
        if contains_nul(body, headers.get("content-type", "")):
            await _nul_refused()(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _upload_refusal(self, scope: Scope, headers: Headers) -> Any:
        """Return the response refusing an upload whose caller is not known, or None to go on."""
        from starlette.responses import RedirectResponse

        if not scope["path"].startswith("/api/"):
            if "pmh_session" not in headers.get("cookie", ""):
                return RedirectResponse(f"/login?next={scope['path']}", status_code=303)
            return None
        authorization = headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _problem(
                401, "not_authenticated", "認証が必要です", "Authorization: Bearer <APIキー> を指定してください。"
            )
        client = scope.get("client")
        address = address_of_client(client[0] if client else None, headers.getlist("x-forwarded-for"))
        try:
            await run_in_threadpool(self.check_upload_key, token.strip(), address)
        except PmhError as exc:
            return _problem(exc.status_code, exc.code, exc.title, exc.message, exc.headers())
        except (DBAPIError, PoolTimeout) as exc:  # the database is away (failover): 503, not 500
            if not is_unavailable(exc):
                raise
            outage = unavailable()
            return _problem(outage.status_code, outage.code, outage.title, outage.message, outage.headers())
        return None


async def _read_small(receive: Receive, limit: int) -> bytes | None:
    """Read a whole body of at most ``limit`` bytes; None when it is longer."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _counted(receive: Receive, limit: int) -> Receive:
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise BodyTooLarge(limit)
        return message

    return counted
