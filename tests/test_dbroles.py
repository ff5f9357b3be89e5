"""The hub's PostgreSQL application role: ordinary work goes through, rewriting the audit log does not."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pmh.audit import service
from pmh.auth.schemas import Caller
from pmh.cli import app as cli
from pmh.db import make_engine
from pmh.migrate import upgrade
from pmh.settings import get_settings
from tests import factories as f
from tests.conftest import PG_ADMIN_URL, _pg_database


@dataclass
class Roles:
    owner_url: str
    app_url: str
    app: Engine


def _drop_role(role: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    admin.dispose()


@pytest.fixture
def roles(worker_name: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Roles]:
    """A PostgreSQL database at revision 0007 (owner: the admin) and an application role on it."""
    owner_url = _pg_database(f"approle_{worker_name}")
    role = f"{os.environ.get('PMH_TEST_DB_PREFIX', 'pmh_test')}_app_{worker_name}".lower()
    with make_engine(owner_url).begin() as connection:
        upgrade(connection, "0007")
    monkeypatch.setenv("PMH_MIGRATION_DATABASE_URL", owner_url)
    get_settings.cache_clear()
    created = CliRunner().invoke(cli, ["db", "create-app-role", "--role", role, "--password", "x'y%z"])
    assert created.exit_code == 0, created.output
    app_url = make_url(owner_url).set(username=role, password="x'y%z").render_as_string(hide_password=False)
    app = make_engine(app_url)
    try:
        yield Roles(owner_url, app_url, app)
    finally:
        app.dispose()
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{owner_url.rsplit("/", 1)[1]}" WITH (FORCE)'))
        admin.dispose()
        _drop_role(role)


def test_migrations_run_as_the_owner_and_the_app_role_works_but_cannot_rewrite_the_audit_log(
    roles: Roles, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hub serves as the app role; `pmh db upgrade` runs revision 0010 (ALTER TABLE) as the owner.
    monkeypatch.setenv("PMH_DATABASE_URL", roles.app_url)
    get_settings.cache_clear()
    upgraded = CliRunner().invoke(cli, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    with Session(roles.app) as session, session.begin():
        clinic = f.institution(session)  # ordinary DML on other tables
        caller = Caller(clinic.id, clinic.code, clinic.name, "institution", "institution", "key:test")
        for n in range(3):
            service.record(session, caller, "certificate.read", "certificate", str(n))
    refused = {
        "UPDATE audit_entries SET actor = 'x'": "permission denied",
        "DELETE FROM audit_entries": "permission denied",
        "TRUNCATE audit_entries": "permission denied",
        "DELETE FROM audit_head": "permission denied",
        "DROP TRIGGER audit_entries_append_only ON audit_entries": "must be owner",
        "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only": "must be owner",
        "DROP TABLE audit_entries": "must be owner",
        "SET session_replication_role = replica": "permission denied",
        "INSERT INTO alembic_version VALUES ('x')": "permission denied",
        "CREATE TABLE public.sneaky (id int)": "permission denied",
        "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_keyed_only": "must be owner",
        (
            "INSERT INTO audit_entries (chain, seq, occurred_at, actor, role, action, subject_type, subject_id,"
            " detail, prev_hash, entry_hash, form) VALUES (0, 99, now(), 'x', 'x', 'x', 'x', 'x', '{}',"
            " repeat('1', 64), repeat('2', 64), 0)"
        ): "keyed form only",
    }
    with roles.app.connect() as connection:
        for statement, reason in refused.items():
            with pytest.raises((ProgrammingError, DBAPIError), match=reason), connection.begin():
                connection.execute(text(statement))
    with Session(roles.app) as session, session.begin():
        assert service.seal_all(session) == 3  # the sealer runs as the app role (grant from revision 0020)
    with roles.app.connect() as connection:
        for statement in (
            "UPDATE audit_entries SET entry_hash = repeat('0', 64)",
            "UPDATE audit_entries SET seq = NULL, prev_hash = NULL, entry_hash = NULL",
        ):
            with pytest.raises(DBAPIError, match="append-only"), connection.begin():
                connection.execute(text(statement))
    with Session(roles.app) as session:
        result = service.verify_chain(session)
        assert result.ok and result.entries == 3 and result.unsealed.count == 0
        assert service.count_entries(session) == 3
    # At head, the start-up migration of `pmh serve` run as the app role only reads the version.
    monkeypatch.delenv("PMH_MIGRATION_DATABASE_URL")
    get_settings.cache_clear()
    again = CliRunner().invoke(cli, ["db", "upgrade"])
    assert again.exit_code == 0, again.output


def test_creating_the_app_role_again_is_harmless_and_print_sql_hides_the_password(roles: Roles) -> None:
    role = str(make_url(roles.app_url).username)
    again = CliRunner().invoke(cli, ["db", "create-app-role", "--role", role])
    assert again.exit_code == 0, again.output
    shown = CliRunner().invoke(cli, ["db", "create-app-role", "--role", role, "--password", "secret", "--print-sql"])
    assert shown.exit_code == 0 and "secret" not in shown.stdout
    assert f'GRANT SELECT, INSERT, UPDATE (seq, prev_hash, entry_hash) ON audit_entries TO "{role}";' in shown.stdout


def test_bad_role_names_and_sqlite_are_refused() -> None:
    bad = CliRunner().invoke(cli, ["db", "create-app-role", "--role", 'x"; DROP TABLE audit_entries; --'])
    assert bad.exit_code == 1 and "ロール名" in bad.output
    on_sqlite = CliRunner().invoke(cli, ["db", "create-app-role", "--role", "pmh_app"])
    assert on_sqlite.exit_code == 1 and "PostgreSQL でのみ" in on_sqlite.output
