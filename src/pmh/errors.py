"""The one error base of pmh; each area subclasses it with its own status and code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldError:
    """One problem with one piece of input: where (row, field), which rule, and why in Japanese."""

    field: str
    code: str
    message: str
    row: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape used in problem details and reports."""
        data: dict[str, Any] = {"field": self.field, "code": self.code, "message": self.message}
        if self.row is not None:
            data["row"] = self.row
        return data


@dataclass
class PmhError(Exception):
    """An expected failure with an HTTP status, a stable code and a Japanese message for staff."""

    message: str
    errors: list[FieldError] = field(default_factory=list)
    extensions: dict[str, Any] = field(default_factory=dict)
    """Extra members of the problem details (RFC 9457 §3.2), e.g. what remains under a cap."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "リクエストを処理できません"
    keeps_work: ClassVar[bool] = False
    """True when the work done before the refusal must still commit (a wrong-PIN count, its audit entry)."""

    def __str__(self) -> str:
        return self.message

    def headers(self) -> dict[str, str]:
        """Return extra HTTP headers of the response (``Retry-After`` of a rate limit)."""
        return {}


class InvalidInput(PmhError):
    """Input that breaks a rule (入力誤り)."""

    status_code = 422
    code = "invalid_input"
    title = "入力内容に誤りがあります"


class NotAuthenticated(PmhError):
    """No valid credential was presented."""

    status_code = 401
    code = "not_authenticated"
    title = "認証が必要です"


class NotPermitted(PmhError):
    """The caller's role or organisation may not do this."""

    status_code = 403
    code = "not_permitted"
    title = "権限がありません"


class NotFound(PmhError):
    """The thing does not exist, or the caller may not know that it exists."""

    status_code = 404
    code = "not_found"
    title = "見つかりません"


class Conflict(PmhError):
    """The request contradicts the current state (duplicates, limits reached)."""

    status_code = 409
    code = "conflict"
    title = "現在の状態と矛盾します"


class RateLimited(PmhError):
    """Too many attempts from one client or at one target within the current window (429)."""

    status_code = 429
    code = "rate_limited"
    title = "試行回数が多すぎます"

    @property
    def retry_after(self) -> int:
        """Seconds until the current window ends."""
        return int(self.extensions.get("retry_after", 1))

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
