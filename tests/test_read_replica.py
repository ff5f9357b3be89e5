"""Reports read on ``PMH_DATABASE_READ_URL`` when it is fresh enough, else on the primary (both databases).

The read URL points at the test's own database (a replica with no lag); the lag is stubbed to
show the fall-back, and an unreachable replica (PostgreSQL) falls back too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

import pmh.db
import pmh.deps
from pmh.app import create_app
from pmh.db import get_read_engine, make_engine, replica_is_fresh, replica_lag_seconds
from pmh.migrate import upgrade
from pmh.settings import get_settings
from tests import factories as f
from tests.conftest import BACKENDS, _pg_database

REPORTS = (
    "/api/v1/directory/municipalities",
    "/api/v1/directory/institutions",
    "/api/v1/stats/participation",
    "/api/v1/fees?fiscal_year=2027",
)


@pytest.fixture(params=BACKENDS)
def reports(
    request: pytest.FixtureRequest, tmp_path: Path, worker_name: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, str, str, list[str]]]:
    """The app on a committed database whose read URL is the same database; an operator key; the URL."""
    sqlite = f"sqlite:///{tmp_path / 'replica.sqlite3'}"
    url = sqlite if request.param == "sqlite" else _pg_database(f"replica_{worker_name}")
    engine = make_engine(url)
    with engine.begin() as connection:
        upgrade(connection)
    with Session(engine) as session, session.begin():
        caller = f.municipality_caller(session)
        f.program(session, caller, "kodomo", (f.KODOMO_PAYER,))
        f.institution(session)
        key = f.api_key(session, f.operator(session), "operator")
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    monkeypatch.setattr(pmh.db, "get_sessionmaker", lambda: factory)
    monkeypatch.setattr(pmh.deps, "get_sessionmaker", lambda: factory)
    monkeypatch.setenv("PMH_DATABASE_READ_URL", url)
    get_settings.cache_clear()
    get_read_engine.cache_clear()
    served: list[str] = []
    real = pmh.db.open_replica_session

    def spy() -> Session | None:
        replica = real()
        served.append("replica" if replica is not None else "primary")
        return replica

    monkeypatch.setattr(pmh.deps, "open_replica_session", spy)
    try:
        with TestClient(create_app()) as client:
            price = {"fiscal_year": 2027, "version": "estimate", "unit_price": "10.5"}
            assert client.put("/api/v1/fees/prices", json=price, headers=f.bearer(key)).status_code == 200
            yield client, key, url, served
    finally:
        read = get_read_engine()
        if read is not None:
            read.dispose()
        get_read_engine.cache_clear()
        engine.dispose()


def _get_all(client: TestClient, key: str) -> list[Any]:
    answers = []
    for path in REPORTS:
        response = client.get(path, headers=f.bearer(key))
        assert response.status_code == 200, (path, response.text)
        answers.append(response.json())
    return answers


def test_reports_read_on_the_replica_and_answer_as_the_primary_would(
    reports: tuple[TestClient, str, str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, key, _, served = reports
    on_replica = _get_all(client, key)
    assert served == ["replica"] * len(REPORTS)
    assert on_replica[0], "the directory lists the registered municipality"
    page = client.get("/directory", headers={"accept": "text/html"})
    assert page.status_code == 200 and served[-1] == "replica"
    served.clear()
    monkeypatch.setattr(pmh.db, "replica_lag_seconds", lambda session: 60.0)  # far behind
    on_primary = _get_all(client, key)
    assert served == ["primary"] * len(REPORTS)
    assert on_primary == on_replica


def test_writes_and_audited_reads_never_use_the_replica(reports: tuple[TestClient, str, str, list[str]]) -> None:
    client, key, _, served = reports
    body = {"fiscal_year": 2027}
    assert client.post("/api/v1/contracts/build", json=body, headers=f.bearer(key)).status_code == 200
    assert client.get("/api/v1/subsidy-applications", headers=f.bearer(key)).status_code == 200
    assert served == []


@pytest.mark.parametrize("reports", ["postgresql"], indirect=True)
def test_an_unreachable_replica_falls_back_to_the_primary(
    reports: tuple[TestClient, str, str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, key, url, served = reports
    monkeypatch.setenv("PMH_DATABASE_READ_URL", url.replace(":5432/", ":1/"))
    get_settings.cache_clear()
    get_read_engine.cache_clear()
    _get_all(client, key)
    assert served == ["primary"] * len(REPORTS)


def test_the_lag_of_a_primary_or_sqlite_is_zero(db_session: Session) -> None:
    assert replica_lag_seconds(db_session) == 0.0


@pytest.mark.parametrize(
    ("lag", "bound", "fresh"),
    [(0.0, 5.0, True), (5.0, 5.0, True), (5.1, 5.0, False), (None, 5.0, False), (0.0, 0.0, True), (0.1, 0.0, False)],
)
def test_the_decision_between_replica_and_primary(lag: float | None, bound: float, fresh: bool) -> None:
    assert replica_is_fresh(lag, bound) is fresh
