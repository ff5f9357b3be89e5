"""Structured logging that never carries a My Number, whoever writes the record."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from typing import Any

from pmh.privacy import redact_my_numbers

_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


_DATABASE_MODULES = ("sqlalchemy", "psycopg", "sqlite3", "pysqlite3")
WITHHELD = "（データベースのエラー内容は記録しません / database error text withheld）"


def _is_database_error(exc_type: type[BaseException]) -> bool:
    return any(klass.__module__.split(".")[0] in _DATABASE_MODULES for klass in exc_type.__mro__[:-2])


def safe_exception_text(exc: BaseException) -> str:
    """Return a traceback of ``exc`` (and its causes) without the text of any database error.

    A database error's text can repeat the values of the statement (PostgreSQL's ``DETAIL: Key
    (…)=(…)``, ``invalid input syntax … "…"``); engines already hide bound parameters
    (``hide_parameters``), and the error's own text is replaced here. Frames stay, for debugging.
    """
    te = traceback.TracebackException.from_exception(exc)
    seen: set[int] = set()
    stack = [te]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if current.exc_type is not None and _is_database_error(current.exc_type):
            current.__dict__["_str"] = WITHHELD  # the message line only (a private field); the frames stay
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return redact_my_numbers("".join(te.format()).rstrip("\n"))


class RedactingFilter(logging.Filter):
    """Redact My Numbers from a record's message and arguments before any handler sees it.

    A record's traceback is formatted here once, without database error text and with My Numbers
    redacted, so that every handler prints that version.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None and not getattr(record, "_pmh_safe_exc", False):
            record.exc_text = safe_exception_text(record.exc_info[1])
            record._pmh_safe_exc = True
        record.msg = redact_my_numbers(str(record.msg))
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(redact_my_numbers(str(a)) if isinstance(a, str) else a for a in args)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, redact_my_numbers(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = record.exc_text or safe_exception_text(record.exc_info[1] or Exception())
        return redact_my_numbers(json.dumps(data, ensure_ascii=False, default=str))


class PlainFormatter(logging.Formatter):
    """``LEVEL logger message`` lines, tracebacks without database error text, My Numbers redacted."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s %(message)s")

    def formatException(self, ei: Any) -> str:
        return safe_exception_text(ei[1]) if ei and ei[1] is not None else super().formatException(ei)

    def format(self, record: logging.LogRecord) -> str:
        return redact_my_numbers(super().format(record))


def install_redaction(logger: logging.Logger) -> None:
    """Attach the redacting filter to a logger and to each of its handlers (idempotent)."""
    for target in (logger, *logger.handlers):
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())


def configure_logging(level: str = "INFO", as_json: bool = True) -> None:
    """Configure the root logger and the server's loggers once per process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else PlainFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "pmh"):
        install_redaction(logging.getLogger(name))
