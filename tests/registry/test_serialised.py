"""Two uploads of one municipality never interleave: the second waits for the first to finish."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from pmh.auth.schemas import Caller
from pmh.db import make_engine
from pmh.migrate import upgrade
from pmh.registry import importer
from pmh.registry.schemas import UploadResult
from tests import factories as f
from tests.conftest import BACKENDS, _pg_database
from tests.registry.test_import import HEADER, line


@pytest.fixture(params=BACKENDS)
def committed(request: pytest.FixtureRequest, tmp_path: Path, worker_name: str) -> Iterator[tuple[Engine, Caller]]:
    """A database of its own with a municipality and its program committed (other connections see them)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'serial.sqlite3'}"
    else:
        url = _pg_database(f"serial_{worker_name}")
    engine = make_engine(url)
    with engine.begin() as connection:
        upgrade(connection)
    with Session(engine) as session, session.begin():
        caller = f.municipality_caller(session)
        f.program(session, caller)
    yield engine, caller
    engine.dispose()


def _import(engine: Engine, caller: Caller, results: list[UploadResult]) -> None:
    stream = io.BytesIO((f"{HEADER}\n{line(recipient=1)}\n").encode())
    with Session(engine) as session, session.begin():
        results.append(
            importer.run_import(
                session, caller, importer.file_reader(stream), digest=importer.content_digest(stream), source="file"
            )
        )


def test_second_upload_waits_for_the_first(committed: tuple[Engine, Caller]) -> None:
    engine, caller = committed
    first = engine.connect()
    transaction = first.begin()  # on SQLite this already holds the write lock (BEGIN IMMEDIATE)
    if engine.dialect.name == "postgresql":  # what an upload in progress holds
        first.execute(
            text("SELECT pg_advisory_xact_lock(:ns, :id)"),
            {"ns": importer.UPLOAD_LOCK_NAMESPACE, "id": caller.organisation_id},
        )
    results: list[UploadResult] = []
    second = threading.Thread(target=_import, args=(engine, caller, results))
    second.start()
    time.sleep(1.5)
    assert second.is_alive() and results == [], "the second upload ran while the first held the municipality"
    transaction.rollback()
    first.close()
    second.join(timeout=30)
    assert [r.status for r in results] == ["applied"]
