"""Attempts against the promise that a My Number is never kept or logged in plain text (and the smaller
attempts of issue 11 that touch the same files: formulas in CSV, file modes, future birth dates)."""

from __future__ import annotations

import csv
import io
import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pmh import csvfiles, db
from pmh.logs import JsonFormatter, PlainFormatter, RedactingFilter
from pmh.models import Base
from pmh.privacy import REDACTED, redact_my_numbers
from pmh.registry.parsing import RecordValidator, today_in_japan
from pmh.settings import Settings
from tests import factories as f
from tests.registry.test_import import HEADER, line

NUMBER = f.my_number(424242)
FULL_WIDTH = NUMBER.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
FORMS = {
    "plain": NUMBER,
    "hyphenated": f"{NUMBER[:4]}-{NUMBER[4:8]}-{NUMBER[8:]}",
    "spaced": f"{NUMBER[:4]} {NUMBER[4:8]} {NUMBER[8:]}",
    "full-width": FULL_WIDTH,
    "full-width hyphenated": f"{FULL_WIDTH[:4]}－{FULL_WIDTH[4:8]}－{FULL_WIDTH[8:]}",
    "ideographic space": f"{FULL_WIDTH[:4]}\u3000{FULL_WIDTH[4:8]}\u3000{FULL_WIDTH[8:]}",
    "percent-encoded": "".join(f"%{b:02X}" for b in NUMBER.encode()),
    "percent-encoded hyphens": f"{NUMBER[:4]}%2D{NUMBER[4:8]}%2D{NUMBER[8:]}",
    "percent-encoded full-width": "".join(f"%{b:02X}" for b in FULL_WIDTH.encode()),
    "query plus": f"q={NUMBER[:4]}+{NUMBER[4:8]}+{NUMBER[8:]}",
}


def _digits(value: str) -> str:
    from urllib.parse import unquote

    plain = unquote(value).translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    return "".join(c for c in plain if c.isdigit())


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_written_form_is_redacted(form: str) -> None:
    redacted = redact_my_numbers(f"検索 {FORMS[form]} です")
    assert REDACTED in redacted and NUMBER not in _digits(redacted)


def test_numbers_that_are_not_my_numbers_stay() -> None:
    text_ = "電話 03-1234-5678 受給者 1234567 日付 2026-04-01 口座 0001-2345-6789"
    bad = f"{NUMBER[:11]}{(int(NUMBER[11]) + 1) % 10}"
    assert redact_my_numbers(text_) == text_
    assert redact_my_numbers(f"{bad[:4]}-{bad[4:8]}-{bad[8:]}") == f"{bad[:4]}-{bad[4:8]}-{bad[8:]}"


# --- a My Number in the wrong column of an upload -------------------------------------------------


@pytest.fixture
def key(db_session: Session) -> str:
    caller = f.municipality_caller(db_session)
    f.program(db_session, caller)
    return f.api_key(db_session, f.municipality(db_session), "municipality")


def _upload(client: TestClient, key: str, *lines: str) -> dict[str, Any]:
    body = ("\n".join((HEADER, *lines)) + "\n").encode("utf-8")
    response = client.post("/api/v1/uploads", files={"file": ("c.csv", body, "text/csv")}, headers=f.bearer(key))
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_my_number_in_the_wrong_column_is_masked_before_it_is_stored(
    client: TestClient, db_session: Session, key: str
) -> None:
    lines = [
        line(recipient=1, birth=FORMS["hyphenated"]),  # 生年月日: invalid_date, value kept for the report
        line(recipient=2, kana=FORMS["full-width"]),  # 氏名カナ: not_katakana
        line(recipient=3, kana=FORMS["spaced"]),
        line(recipient=4, birth=FORMS["full-width hyphenated"]),
    ]
    result = _upload(client, key, *lines)
    assert result["status"] == "rejected" and result["error_count"] >= 4
    assert {e["column"] for e in result["errors"]} >= {"生年月日", "氏名カナ"}
    stored = []
    for table in Base.metadata.sorted_tables:
        if table.name == "upload_problems":
            stored = [" ".join(str(v) for v in row) for row in db_session.execute(select(table))]
    assert stored and all(NUMBER not in _digits(row) for row in stored), stored
    assert any(REDACTED in row for row in stored)
    as_json = client.get(f"/api/v1/uploads/{result['id']}/errors", headers=f.bearer(key))
    as_csv = client.get(f"/api/v1/uploads/{result['id']}/errors?format=csv", headers=f.bearer(key))
    for body in (str(result), as_json.text, as_csv.text):
        assert NUMBER not in _digits(body.replace(f.my_number(1), "")), body


# --- logs ------------------------------------------------------------------------------------------


def _log_through(formatter: logging.Formatter, emit: Any) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("pmh.test.attempts")
    logger.handlers, logger.propagate = [handler], False
    try:
        emit(logger)
    finally:
        logger.handlers = []
    return stream.getvalue()


@pytest.mark.parametrize("formatter", [JsonFormatter(), PlainFormatter()], ids=["json", "plain"])
def test_no_form_reaches_a_log(formatter: logging.Formatter) -> None:
    def emit(logger: logging.Logger) -> None:
        for form in FORMS.values():
            logger.info("GET /api/v1/patients?q=%s", form, extra={"query": form})
        try:
            raise ValueError(f"bad value {FORMS['percent-encoded hyphens']}")
        except ValueError:
            logger.exception("failed %s", FORMS["spaced"])

    output = _log_through(formatter, emit)
    assert NUMBER not in _digits(output)


def test_database_errors_reach_the_log_without_their_values(db_session: Session) -> None:
    secret = f"佐藤花子 {FORMS['hyphenated']}"
    db_session.execute(text("CREATE TEMPORARY TABLE attempt_values (v VARCHAR(100) UNIQUE)"))
    db_session.execute(text("INSERT INTO attempt_values (v) VALUES (:v)"), {"v": secret})
    error: BaseException | None = None
    try:
        with db_session.begin_nested():
            db_session.execute(text("INSERT INTO attempt_values (v) VALUES (:v)"), {"v": secret})
    except Exception as exc:
        error = exc
    assert error is not None
    assert "佐藤花子" not in str(error).split("DETAIL")[0], "bound parameters are hidden (hide_parameters)"

    def emit(logger: logging.Logger) -> None:
        assert error is not None
        logger.error("request failed", exc_info=(type(error), error, error.__traceback__))

    for formatter in (JsonFormatter(), PlainFormatter()):
        output = _log_through(formatter, emit)
        assert "佐藤花子" not in output and NUMBER not in _digits(output), output
        assert "IntegrityError" in output  # the kind of failure and the frames stay


def test_the_server_writes_no_access_log(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from pmh import cli, migrate

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))
    monkeypatch.setattr(migrate, "upgrade", lambda *a, **k: None)
    result = CliRunner().invoke(cli.app, ["serve", "--port", "8999"])
    assert result.exit_code == 0, result.output
    assert seen["access_log"] is False  # uvicorn's access log writes query strings
    logging.getLogger().handlers = []


# --- CSV formulas -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-500", "-500"),
        ("+12.5", "+12.5"),
        (-500, -500),
        ("佐藤", "佐藤"),
        ("", ""),
    ],
)
def test_csv_cells_are_never_formulas(cell: Any, written: Any) -> None:
    assert csvfiles.safe_cell(cell) == written


def test_the_error_report_neutralises_formulas(client: TestClient, key: str) -> None:
    result = _upload(client, key, line(recipient=1, kana="=HYPERLINK(A1)"), line(recipient=2, kana="@SUM(A1)"))
    report = client.get(f"/api/v1/uploads/{result['id']}/errors?format=csv", headers=f.bearer(key))
    cells = [cell for row in csv.reader(io.StringIO(report.text.lstrip("\ufeff"))) for cell in row]
    assert "'=HYPERLINK(A1)" in cells and "'@SUM(A1)" in cells, cells
    assert not any(c.startswith(csvfiles.FORMULA_TRIGGERS) and not c.lstrip("+-").isdigit() for c in cells)


def test_every_csv_writer_goes_through_the_shared_one() -> None:
    source = Path(__file__).parents[1] / "src" / "pmh"
    direct = [
        str(p.relative_to(source))
        for p in source.rglob("*.py")
        if p.name != "csvfiles.py" and ("csv.writer(" in p.read_text() or "csv.DictWriter(" in p.read_text())
    ]
    assert direct == []


# --- file modes ----------------------------------------------------------------------------------


def test_the_database_file_and_the_secret_are_private(tmp_path: Path) -> None:
    previous = os.umask(0)  # even a permissive umask must not open them up
    try:
        secret = Settings(data_dir=tmp_path / "var", secret_key=None).effective_secret_key
        database = tmp_path / "var" / "pmh.sqlite3"
        engine = db.make_engine(f"sqlite:///{database}")
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (v TEXT)")
            conn.exec_driver_sql("INSERT INTO t VALUES ('x')")
        wal = Path(f"{database}-wal")
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (database, wal, tmp_path / "var" / "secret.key")}
        engine.dispose()
    finally:
        os.umask(previous)
    assert len(secret) == 64
    assert modes == {"pmh.sqlite3": 0o600, "pmh.sqlite3-wal": 0o600, "secret.key": 0o600}


# --- birth dates in the future ---------------------------------------------------------------------


def test_a_birth_date_in_the_future_is_refused_at_upload(client: TestClient, key: str) -> None:
    import datetime as dt

    tomorrow = today_in_japan() + dt.timedelta(days=1)
    refused = _upload(client, key, line(recipient=1, birth=tomorrow.isoformat()))
    assert refused["status"] == "rejected"
    assert [(e["row"], e["column"], e["code"]) for e in refused["errors"]] == [(1, "生年月日", "future_date")]
    applied = _upload(client, key, line(recipient=2, birth=today_in_japan().isoformat()))
    assert applied["status"] in ("applied",), applied


def test_a_birth_date_in_the_future_is_refused_in_a_batch(client: TestClient, key: str) -> None:
    record = {
        "myNumber": f.my_number(1),
        "basicFiveInfo": {"name": "高橋 一郎", "nameKana": "タカハシ イチロウ", "birthDate": "2999-01-01", "sex": "1"},
        "medicalSubsidyInsurerNumber": f.KODOMO_PAYER,
        "medicalSubsidyRecipientNumber": f.recipient(1),
        "validFrom": "2026-04-01",
    }
    refused = client.post("/api/v1/certificates/batch", json={"records": [record]}, headers=f.bearer(key)).json()
    assert refused["status"] == "rejected"
    assert [(e["row"], e["code"]) for e in refused["errors"]] == [(1, "future_date")]


def test_the_birth_date_check_uses_the_given_day() -> None:
    import datetime as dt

    from pmh.registry.parsing import ProgramRule

    programs = {f.KODOMO_PAYER: ProgramRule("kodomo", national=False)}
    raw = {
        "op": "1",
        "payer_number": f.KODOMO_PAYER,
        "recipient_number": f.recipient(1),
        "my_number": f.my_number(1),
        "name": "高橋 一郎",
        "name_kana": "タカハシ イチロウ",
        "birth_date": "2030-01-02",
        "sex": "1",
        "valid_from": "2030-01-01",
    }
    early = RecordValidator(programs, today=dt.date(2030, 1, 1)).validate(raw, 1)
    late = RecordValidator(programs, today=dt.date(2030, 1, 2)).validate(raw, 1)
    assert getattr(early, "codes", ()) == ("future_date",)
    assert not hasattr(late, "codes"), late


def test_the_request_log_names_routes_not_values(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    name = "佐藤花子"
    with caplog.at_level(logging.INFO, logger="pmh.http"):
        client.get(f"/api/v1/receptions/{NUMBER}/eligibility", params={"q": name})
        client.get(f"/reception/{FORMS['hyphenated']}/eligibility")
        client.get(f"/{name}/{NUMBER}", params={"q": FORMS["percent-encoded"]})
    paths = [getattr(r, "path", "") for r in caplog.records if r.name == "pmh.http"]
    assert "/api/v1/receptions/{reception_id}/eligibility" in paths, paths
    text_ = " ".join(paths) + " ".join(r.getMessage() for r in caplog.records)
    assert NUMBER not in _digits(text_) and name not in text_ and "q=" not in text_
    assert "(no route)" in paths
