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


def test_a_log_written_before_the_keyed_form_verifies_after_the_upgrade(fresh_engine: Engine) -> None:
    """Entries of revision 0007's plain SHA-256 chain keep verifying; the keyed form starts after them."""
    import datetime as dt

    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from pmh.audit import service
    from pmh.audit.models import AuditEntry
    from pmh.db import UTCDateTime

    with fresh_engine.begin() as connection:
        upgrade(connection, "0007")
    entries = sa.table(
        "audit_entries",
        *(sa.column(name) for name in ("chain", "seq", "organisation_id", "actor", "role", "action")),
        *(sa.column(name) for name in ("subject_type", "subject_id", "detail", "prev_hash", "entry_hash")),
        sa.column("occurred_at", UTCDateTime()),
    )
    previous = service.GENESIS_HASH
    with fresh_engine.begin() as connection:
        for seq in (1, 2, 3):
            values = {
                "chain": 0,
                "seq": seq,
                "occurred_at": dt.datetime(2026, 11, 30, 1, 2, seq, 123456, tzinfo=dt.UTC),
                "organisation_id": None,
                "actor": "system",
                "role": "system",
                "action": "old.read",
                "subject_type": "certificate",
                "subject_id": str(seq),
                "detail": '{"n": 1}',
                "prev_hash": previous,
            }
            previous = service.entry_hash(AuditEntry(**values, form=service.PLAIN))
            connection.execute(sa.insert(entries).values(**values, entry_hash=previous))
        connection.execute(sa.text("INSERT INTO audit_head (id, seq, entry_hash) VALUES (1, 3, :h)"), {"h": previous})
    with fresh_engine.begin() as connection:
        upgrade(connection)
    with Session(fresh_engine) as session, session.begin():
        session.info[service.SESSION_CHAIN] = 0
        service.record(session, None, "new.read", "certificate", "4")
        service.record(session, None, "new.read", "certificate", "5")
    with Session(fresh_engine) as session, session.begin():
        # PostgreSQL appends unsealed and seals behind (revision 0020); SQLite sealed them at append.
        assert service.seal_all(session) == (2 if fresh_engine.dialect.name == "postgresql" else 0)
    with Session(fresh_engine) as session:
        result = service.verify_chain(session)
    assert result.ok, result.problems
    assert result.unsealed.count == 0
    assert [c.as_dict() for c in result.chains] == [{"chain": 0, "entries": 5, "head_seq": 5, "keyed_from": 4}]


def test_the_sealer_revision_keeps_the_audit_guards_and_downgrades(fresh_engine: Engine) -> None:
    """Revision 0020 rebuilds audit_entries on SQLite: its three triggers must come back, both ways."""
    import sqlalchemy as sa

    def triggers() -> set[str]:
        with fresh_engine.connect() as connection:
            if fresh_engine.dialect.name == "postgresql":
                query = "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_entries'::regclass AND NOT tgisinternal"
            else:
                query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_entries'"
            return set(connection.execute(sa.text(query)).scalars())

    with fresh_engine.begin() as connection:
        upgrade(connection, "0016")
    before = triggers()
    assert len(before) == (2 if fresh_engine.dialect.name == "postgresql" else 3)
    with fresh_engine.begin() as connection:
        upgrade(connection, "0020")
    assert triggers() == before
    with fresh_engine.begin() as connection:
        downgrade(connection, "0016")
    assert triggers() == before
    nullable = {c["name"]: c["nullable"] for c in inspect(fresh_engine).get_columns("audit_entries")}
    assert (nullable["seq"], nullable["prev_hash"], nullable["entry_hash"]) == (False, False, False)
