"""My Number (個人番号) never appears in plain text in the database or the logs."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pmh.cli import app as cli
from pmh.codes.checkdigits import my_number_check_digit
from pmh.logs import JsonFormatter, RedactingFilter
from pmh.models import Base
from pmh.privacy import REDACTED, my_number_digest, redact_my_numbers

MY_NUMBER = "123456789018"


def _with_check_digit(eleven: str) -> str:
    return eleven + str(my_number_check_digit(eleven))


def _database_text(session: Session) -> str:
    """Return every value of every table as one string."""
    parts = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(select(table)):
            parts.extend(str(value) for value in row)
    return "\n".join(parts)


@given(st.from_regex(r"[0-9]{11}", fullmatch=True), st.text(max_size=20), st.text(max_size=20))
def test_redaction_removes_any_valid_my_number(eleven: str, before: str, after: str) -> None:
    number = _with_check_digit(eleven)
    redacted = redact_my_numbers(f"{before} {number} {after}")
    assert number not in redacted
    assert REDACTED in redacted


def test_redaction_keeps_other_numbers() -> None:
    assert redact_my_numbers("受給者番号 1234567 公費 54016027 電話 123456789012") == (
        "受給者番号 1234567 公費 54016027 電話 123456789012"
    )


def test_redaction_catches_full_width_digits() -> None:
    assert "１２３４５６７８９０１８" not in redact_my_numbers("番号は１２３４５６７８９０１８です")


def test_digest_is_keyed_and_stable() -> None:
    assert my_number_digest(MY_NUMBER, b"a") == my_number_digest(MY_NUMBER, b"a")
    assert my_number_digest(MY_NUMBER, b"a") != my_number_digest(MY_NUMBER, b"b")
    assert MY_NUMBER not in my_number_digest(MY_NUMBER, b"a")


def test_log_records_are_redacted_whatever_the_logger(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("some.library")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO):
        logger.info("looked up %s", MY_NUMBER, extra={"number": MY_NUMBER})
    record = caplog.records[-1]
    assert MY_NUMBER not in JsonFormatter().format(record)


def test_my_number_passing_through_the_hub_is_not_kept(
    client: TestClient, db_session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = client.post("/api/v1/codes/check", json={"value": MY_NUMBER, "kind": "mynumber"})
    assert response.json()["valid"] is True
    assert MY_NUMBER not in response.text
    result = CliRunner().invoke(cli, ["codes", "check", MY_NUMBER, "--kind", "mynumber", "--json"])
    assert result.exit_code == 0
    assert MY_NUMBER not in result.stdout
    assert MY_NUMBER not in _database_text(db_session)
    assert MY_NUMBER not in caplog.text
