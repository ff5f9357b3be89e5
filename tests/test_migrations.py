"""Migrations: upgrade → downgrade → upgrade on both databases, and models match the revisions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from pmh.db import make_engine
from pmh.migrate import downgrade, upgrade
from pmh.models import Base
from tests.conftest import BACKENDS, _pg_database


@pytest.fixture(params=BACKENDS)
def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path, worker_name: str) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
    else:
        url = _pg_database(f"migrate_{worker_name}")
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_upgrade_downgrade_upgrade(fresh_engine: Engine) -> None:
    with fresh_engine.begin() as connection:
        upgrade(connection)
    assert "audit_entries" in inspect(fresh_engine).get_table_names()
    with fresh_engine.begin() as connection:
        downgrade(connection, "base")
    assert set(inspect(fresh_engine).get_table_names()) <= {"alembic_version"}
    with fresh_engine.begin() as connection:
        upgrade(connection)
    assert "organisations" in inspect(fresh_engine).get_table_names()


def test_models_match_the_migrations(fresh_engine: Engine) -> None:
    with fresh_engine.begin() as connection:
        upgrade(connection)
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
