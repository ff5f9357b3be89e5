"""Structured logging that never carries a My Number, whoever writes the record."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from pmh.privacy import redact_my_numbers

_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class RedactingFilter(logging.Filter):
    """Redact My Numbers from a record's message and arguments before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
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
            data["exception"] = redact_my_numbers(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False, default=str)


def install_redaction(logger: logging.Logger) -> None:
    """Attach the redacting filter to a logger and to each of its handlers (idempotent)."""
    for target in (logger, *logger.handlers):
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())


def configure_logging(level: str = "INFO", as_json: bool = True) -> None:
    """Configure the root logger and the server's loggers once per process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "pmh"):
        install_redaction(logging.getLogger(name))
