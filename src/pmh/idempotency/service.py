"""Idempotency keys: claim a key in the caller's transaction, keep the first answer, replay it.

How a duplicate is kept from writing twice (docs/deployment.md, "Safe retries"):

1. a committed record with the key → its stored answer is replayed (or 422 when the body differs);
2. otherwise the key is inserted first, in a savepoint of the request's own transaction, before the
   work runs. The unique constraint ``(caller_scope, key)`` does the rest: on PostgreSQL a second
   transaction inserting the same key waits for the first; when the first commits, the insert fails,
   the savepoint rolls back and the stored answer is replayed; when the first rolls back, the second
   goes on as the first. The wait is bounded (``lock_timeout``): past it the answer is 409
   ``idempotency_in_progress`` with ``Retry-After``. On SQLite every transaction holds the write lock
   from its start, so the second request simply finds the committed record.
3. the answer is written into the record in the same transaction as the work, so after a crash both
   or neither exist.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from pmh import clock
from pmh.errors import Conflict, FieldError, InvalidInput, PmhError
from pmh.idempotency.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEEP_HOURS = 24
"""How long a key is kept (``pmh idempotency purge`` removes older ones); clients retry within minutes."""
WAIT_MS = 5000
"""How long a duplicate waits on PostgreSQL for the first request's transaction before 409."""
RETRY_AFTER_SECONDS = 2
_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")


class KeyInvalid(InvalidInput):
    """The header's value is empty, too long or not printable ASCII."""

    code = "idempotency_key_invalid"


class KeyReused(PmhError):
    """The same key came with a different request (method, path or body)."""

    status_code = 422
    code = "idempotency_key_reused"
    title = "冪等キーが別のリクエストに使われています"


class InProgress(Conflict):
    """The first request with this key is still running (its transaction has not committed)."""

    code = "idempotency_in_progress"
    title = "同じ冪等キーのリクエストを処理中です"
    retry_after: ClassVar[int] = RETRY_AFTER_SECONDS

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


@dataclass(frozen=True)
class KeyedRequest:
    """A request that carries an ``Idempotency-Key``: the key and the request's fingerprint."""

    key: str
    fingerprint: str
    method: str
    path: str


@dataclass(frozen=True)
class StoredAnswer:
    """An HTTP answer as kept in the table (and as replayed)."""

    status_code: int
    media_type: str | None
    body: str
    replayed: bool = False


def check_key(value: str) -> str:
    """Return the header's value when it is 1–255 printable ASCII characters; else refuse it (422)."""
    if _VALID_KEY.fullmatch(value) is None:
        message = f"{HEADER} ヘッダーは 1〜255 文字の半角英数記号（印字可能な ASCII）で指定してください。"
        raise KeyInvalid(message, [FieldError(HEADER, "idempotency_key_invalid", message)])
    return value


def fingerprint(method: str, path: str, body_digest: bytes) -> str:
    """Return the SHA-256 (hex) of the method, the path (with its query) and the body's digest."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body_digest):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def caller_scope(organisation_id: int, role: str) -> str:
    """Return the scope a key belongs to: one organisation acting with one kind of credential."""
    return f"{organisation_id}:{role}"


def run(session: Session, scope: str, request: KeyedRequest, work: Callable[[], StoredAnswer]) -> StoredAnswer:
    """Run ``work`` once per key: its answer is stored with it; a retry gets the stored answer.

    Never commits: the key, the work and the answer commit or roll back together with the request.
    An error that keeps its work (a refused PIN) is not remembered: the key is released with it.
    """
    stored = _find(session, scope, request.key)
    if stored is not None:
        return _replay(stored, request)
    record = _claim(session, scope, request)
    if isinstance(record, StoredAnswer):
        return record
    try:
        answer = work()
    except PmhError as exc:
        if exc.keeps_work:  # the refusal commits; its key must not, or a corrected retry would be refused
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record.id))
        raise
    record.status_code = answer.status_code
    record.media_type = answer.media_type
    record.response_body = answer.body
    session.flush()
    return answer


def _find(session: Session, scope: str, key: str) -> IdempotencyRecord | None:
    statement = select(IdempotencyRecord).where(IdempotencyRecord.caller_scope == scope, IdempotencyRecord.key == key)
    return session.scalars(statement.execution_options(populate_existing=True)).one_or_none()


def _replay(stored: IdempotencyRecord, request: KeyedRequest) -> StoredAnswer:
    if stored.fingerprint != request.fingerprint:
        raise KeyReused(
            f"{HEADER}「{request.key}」は {stored.created_at.astimezone(clock.JST):%Y-%m-%d %H:%M} に別のリクエスト"
            f"（{stored.method} {stored.path}）に使われています。新しいリクエストには新しいキーを指定してください。",
            [FieldError(HEADER, "idempotency_key_reused", "本文または宛先が最初のリクエストと異なります。")],
        )
    if stored.status_code is None:
        raise _in_progress(request)
    return StoredAnswer(stored.status_code, stored.media_type, stored.response_body or "", replayed=True)


def _in_progress(request: KeyedRequest) -> InProgress:
    return InProgress(
        f"{HEADER}「{request.key}」の最初のリクエストをまだ処理しています。{RETRY_AFTER_SECONDS} 秒ほど待ってから"
        "同じキーで再送してください。",
        extensions={"retry_after": RETRY_AFTER_SECONDS},
    )


def _claim(session: Session, scope: str, request: KeyedRequest) -> IdempotencyRecord | StoredAnswer:
    """Insert the key (the claim) or, when a concurrent request committed it first, return its answer."""
    record = IdempotencyRecord(
        caller_scope=scope,
        key=request.key,
        fingerprint=request.fingerprint,
        method=request.method,
        path=request.path[:255],
        created_at=clock.now(),
    )
    postgres = session.get_bind().dialect.name == "postgresql"
    try:
        with session.begin_nested():
            if postgres:
                # SET LOCAL inside the savepoint lasts to the end of the transaction once released:
                # _restore_lock_timeout puts the previous value back below.
                previous = session.scalar(text("SELECT current_setting('lock_timeout')"))
                session.execute(text(f"SET LOCAL lock_timeout = {WAIT_MS}"))
            session.add(record)
            session.flush()
    except IntegrityError:
        stored = _find(session, scope, request.key)
        if stored is None:  # the first one rolled back between our insert and this read: try again
            raise _in_progress(request) from None
        return _replay(stored, request)
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available: the first is still running
            raise _in_progress(request) from None
        raise
    if postgres:
        session.execute(text("SELECT set_config('lock_timeout', :value, true)"), {"value": previous})
    return record


def purge(session: Session, older_than: dt.timedelta = dt.timedelta(hours=KEEP_HOURS)) -> int:
    """Delete keys older than ``older_than``; return how many. A retry after that is a new request."""
    cutoff = clock.now() - older_than
    result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
