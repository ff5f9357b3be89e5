"""Request limits and inputs that used to be server errors: each is a 4xx problem detail now.

- bodies: refused by Content-Length before a byte is read, streamed bodies cut at the limit, an
  upload without a key refused before its body;
- ids beyond 2^63, a NUL in a form field, JSON or query, a 300-character file name, the month
  ``0000-01``;
- a wrong PostgreSQL URL ends ``pmh db upgrade`` and ``pmh serve`` with one line, no traceback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pmh.app import create_app
from pmh.cli import app as cli
from pmh.settings import get_settings
from tests import factories as f
from tests.conftest import PG_ADMIN_URL

GIB = 1024**3


def _settings(monkeypatch: pytest.MonkeyPatch, **values: object) -> None:
    for name, value in values.items():
        monkeypatch.setenv(f"PMH_{name.upper()}", str(value))
    get_settings.cache_clear()


def _call_without_body(path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """Call the app straight through ASGI with a receive that fails the test if the body is read."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("192.0.2.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body was read")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(create_app()(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body) if body else {}


def test_a_huge_upload_without_a_key_is_refused_by_its_length_before_it_is_read() -> None:
    status, problem = _call_without_body(
        "/api/v1/uploads", {"content-length": str(GIB), "content-type": "multipart/form-data; boundary=x"}
    )
    assert (status, problem["code"]) == (413, "upload_too_large")
    assert "上限 100 MB" in problem["detail"]


def test_a_large_body_to_an_ordinary_route_is_refused_by_its_length() -> None:
    status, problem = _call_without_body(
        "/api/v1/codes/check", {"content-length": str(200 * 1024 * 1024), "content-type": "application/json"}
    )
    assert (status, problem["code"], problem["status"]) == (413, "request_too_large", 413)


def test_an_upload_without_a_key_is_refused_before_its_body() -> None:
    status, problem = _call_without_body(
        "/api/v1/uploads", {"content-length": "1000", "content-type": "multipart/form-data; boundary=x"}
    )
    assert (status, problem["code"]) == (401, "not_authenticated")


@pytest.fixture
def municipality_key(db_session: Session) -> str:
    return f.api_key(db_session, f.municipality(db_session), "municipality")


@pytest.fixture
def institution_key(db_session: Session) -> str:
    return f.api_key(db_session, f.institution(db_session), "institution")


def test_an_upload_with_a_wrong_key_is_refused_before_its_body(client: TestClient) -> None:
    response = client.post(
        "/api/v1/uploads", files={"file": ("a.csv", b"x" * 1000)}, headers=f.bearer("pmh_000000000000_wrong")
    )
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    for _ in range(total // size):
        yield b"x" * size


def test_a_streamed_body_is_cut_off_at_the_limit(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    _settings(monkeypatch, max_body_kb=64)
    response = client.post(
        "/api/v1/codes/check", content=_chunks(256 * 1024), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and response.json()["code"] == "request_too_large"


def test_a_streamed_upload_is_cut_off_at_the_upload_limit(
    client: TestClient, municipality_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _settings(monkeypatch, max_upload_mb=1)
    boundary = "pmhboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from _chunks(3 * 1024 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        "/api/v1/uploads",
        content=body(),
        headers=f.bearer(municipality_key) | {"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("reception_id", ["99999999999999999999", str(2**63), "0"])
def test_ids_beyond_int64_are_invalid_input(client: TestClient, institution_key: str, reception_id: str) -> None:
    response = client.get(f"/api/v1/receptions/{reception_id}/eligibility", headers=f.bearer(institution_key))
    assert response.status_code == 422 and response.json()["code"] == "invalid_input"
    copay = client.delete(f"/api/v1/copay-entries/{reception_id}", headers=f.bearer(institution_key))
    assert copay.status_code == 422


def test_the_largest_int64_id_is_simply_not_found(client: TestClient, institution_key: str) -> None:
    response = client.get(f"/api/v1/receptions/{2**63 - 1}/eligibility", headers=f.bearer(institution_key))
    assert response.status_code == 404


def test_a_huge_id_in_a_body_is_invalid_input(client: TestClient, institution_key: str) -> None:
    body = {
        "reception_id": 2**64,
        "payer_number": "54136015",
        "recipient_number": "1234567",
        "service_date": "2026-11-01",
        "total_cost": 1000,
    }
    response = client.post("/api/v1/copay-quotes", json=body, headers=f.bearer(institution_key))
    assert response.status_code == 422


def test_a_nul_in_the_sign_in_form_is_invalid_input(client: TestClient) -> None:
    response = client.post("/login", data={"login": "demo\x00", "password": "x" * 12, "totp": "123456"})
    assert response.status_code == 422 and response.json()["code"] == "nul_character"


def test_a_nul_in_json_or_a_query_is_invalid_input(client: TestClient, institution_key: str) -> None:
    card = client.post(
        "/api/v1/card-sessions",
        content=b'{"card_serial": "AB\\u0000", "auth": "pin"}',
        headers=f.bearer("x") | {"content-type": "application/json"},
    )
    assert card.status_code == 422 and card.json()["code"] == "nul_character"
    query = client.get("/api/v1/receptions?date=%00", headers=f.bearer(institution_key))
    assert query.status_code == 422 and query.json()["code"] == "nul_character"
    escaped = client.post(
        "/api/v1/codes/check",
        content=b'{"value": "\\\\u0000", "kind": "payer"}',
        headers={"content-type": "application/json"},
    )
    assert escaped.status_code != 422 or escaped.json()["code"] != "nul_character"  # a literal backslash-u


def test_a_300_character_file_name_is_invalid_input(client: TestClient, municipality_key: str) -> None:
    response = client.post(
        "/api/v1/uploads", files={"file": ("a" * 300 + ".csv", b"x\n")}, headers=f.bearer(municipality_key)
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "invalid_filename"


@pytest.mark.parametrize("month", ["0000-01", "9999-12", "2026-13"])
def test_an_impossible_recheck_month_is_invalid_input(client: TestClient, institution_key: str, month: str) -> None:
    response = client.post("/api/v1/eligibility/recheck", json={"month": month}, headers=f.bearer(institution_key))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "month"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres:hunter2-secret@127.0.0.1:1/pmh",  # nothing listens there
        PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgres@", "postgres:hunter2-secret@") + "/pmh_no_such_database",
    ],
)
@pytest.mark.parametrize("command", [["db", "upgrade"], ["serve"]])
def test_a_wrong_database_url_gives_one_clear_line(
    url: str, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _settings(monkeypatch, database_url=url)
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("エラー: データベースに接続できません: postgresql+psycopg://postgres:***@")
    assert "hunter2-secret" not in result.output and "Traceback" not in result.output
