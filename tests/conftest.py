"""Database fixtures: every database test runs on SQLite and PostgreSQL, isolated per test.

Each test worker gets its own database per backend, migrated once with ``upgrade head``; each
test runs inside an outer transaction that is rolled back, while the code under test commits
to savepoints (``join_transaction_mode="create_savepoint"``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

import pmh.db
from pmh.app import create_app
from pmh.db import make_engine, transaction
from pmh.deps import get_session
from pmh.migrate import upgrade
from pmh.settings import get_settings
from tests.browser import browser

__all__ = ["browser"]  # the headless-Chromium fixture, shared by every page test

PG_ADMIN_URL = os.environ.get("PMH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")


def _pg_database(worker: str) -> str:
    """Create (afresh) this worker's PostgreSQL database and return its URL."""
    # A prefix of one's own lets two checkouts run their suites side by side on one server.
    name = f"{os.environ.get('PMH_TEST_DB_PREFIX', 'pmh_test')}_{worker}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        message = f"PostgreSQL に接続できません（{PG_ADMIN_URL}）: {exc.orig}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " — CI では PostgreSQL のテストは省略できません。", pytrace=False)
        pytest.skip(message)
    finally:
        admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def worker_name(request: pytest.FixtureRequest) -> str:
    """Return the xdist worker id ('main' without xdist)."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, worker_name: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Return the URL of this worker's empty database for the backend under test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'pmh.sqlite3'}"
    return _pg_database(worker_name)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """Return an engine on a database migrated to head once per worker and backend."""
    engine = make_engine(database_url)
    with engine.begin() as connection:
        upgrade(connection)
    yield engine
    engine.dispose()


@pytest.fixture
def backend(engine: Engine) -> str:
    """Return the name of the backend under test ('sqlite' or 'postgresql')."""
    return engine.dialect.name


@pytest.fixture
def db_session(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    """Yield a session whose every commit is rolled back when the test ends.

    The process-wide session factory is pointed at the same connection, so CLI commands and
    services that open their own unit of work see and share the test's data.
    """
    connection = engine.connect()
    outer = connection.begin()
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    monkeypatch.setattr(pmh.db, "get_sessionmaker", lambda: factory)
    session = factory()
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def client(db_session: Session) -> Iterator[TestClient]:
    """Return an HTTP client for the app whose requests run in the test's transaction."""
    app = create_app()

    def _session() -> Iterator[Session]:
        # A savepoint stands in for the request's transaction, with the same commit and rollback rule.
        yield from transaction(db_session, db_session.begin_nested)

    app.dependency_overrides[get_session] = _session
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Give every test its own data directory and secret, never the developer's."""
    monkeypatch.setenv("PMH_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("PMH_SECRET_KEY", "test-secret-not-for-production")
    monkeypatch.delenv("PMH_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
