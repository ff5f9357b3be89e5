"""Error pages for browsers: the refusal in Japanese, inside the page frame of whoever is signed in.

API clients get RFC 9457 problem details (``app.py``); a person who follows a link or sends a
form gets a page — never raw JSON — that keeps the header with their organisation, names each
wrong field in Japanese, and leads back to where they came from.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response

from pmh.deps import get_session
from pmh.errors import PmhError
from pmh.web.session import SESSION_COOKIE, StaffContext, current_staff
from pmh.web.templating import templates

# Pydantic's error types, said as a clerk would read them (the English ``msg`` stays in the API).
_VALIDATION_MESSAGES = {
    "missing": "入力してください。",
    "string_pattern_mismatch": "形式が正しくありません。",
    "string_too_long": "長すぎます。",
    "string_too_short": "短すぎます。",
    "int_parsing": "数字で入力してください。",
    "int_from_float": "整数で入力してください。",
    "float_parsing": "数字で入力してください。",
    "date_parsing": "日付（例: 2026-12-01）で入力してください。",
    "date_from_datetime_parsing": "日付（例: 2026-12-01）で入力してください。",
    "bool_parsing": "はい・いいえで選んでください。",
    "literal_error": "選べる値のどれかを選んでください。",
    "enum": "選べる値のどれかを選んでください。",
    "greater_than_equal": "小さすぎます。",
    "less_than_equal": "大きすぎます。",
    "greater_than": "小さすぎます。",
    "less_than": "大きすぎます。",
}


def validation_message(error: dict[str, Any]) -> str:
    """Return a Japanese message for one of Pydantic's validation errors."""
    return _VALIDATION_MESSAGES.get(str(error.get("type", "")), "値が正しくありません。")


def signed_in_staff(request: Request) -> StaffContext | None:
    """Return the signed-in staff of the request, if any, for the page frame of an error page."""
    if not request.cookies.get(SESSION_COOKIE):
        return None
    provider = request.app.dependency_overrides.get(get_session, get_session)
    sessions = provider()
    try:
        session = next(sessions)
        try:
            return current_staff(request, session)
        except PmhError:
            return None
    finally:
        sessions.close()  # read only: whatever the look-up touched is rolled back


def _back_link(request: Request) -> str:
    """Return the same-site page the person came from, else the start page."""
    referer = request.headers.get("referer", "")
    parts = urlsplit(referer)
    if referer and parts.netloc == request.url.netloc and parts.path != request.url.path:
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return "/"


def error_page(
    request: Request,
    status: int,
    title: str,
    message: str,
    errors: list[dict[str, str]] | None = None,
    *,
    with_staff: bool = True,
) -> Response:
    """Render the error page (status kept) with the field problems and a way back.

    ``with_staff=False`` skips looking up who is signed in (the database is away: the 503 page).
    """
    context = {
        "staff": signed_in_staff(request) if with_staff else None,
        "title": title,
        "message": message,
        "errors": errors or [],
        "back": _back_link(request),
    }
    return templates.TemplateResponse(request, "web/error.html", context, status_code=status)
