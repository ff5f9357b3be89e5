"""The PostgreSQL role the hub runs as: ordinary reads and writes, but no way to rewrite the audit log.

Migrations run as the database owner (``PMH_MIGRATION_DATABASE_URL``); the hub itself connects as an
application role that owns nothing, so it can neither drop nor disable the append-only triggers, and
that holds only ``SELECT, INSERT`` on ``audit_entries`` plus ``UPDATE`` of the three link columns
(``seq, prev_hash, entry_hash``): the sealer that runs in every server process fills an unsealed
entry's empty link once, and the append-only trigger refuses any other change, of a sealed entry
above all. ``audit_head`` needs ``UPDATE`` as well: sealing moves its chain's head, and the head row
is locked while a sealer moves it. Someone with the application
role's rights can therefore move a head, or link an unsealed entry with a wrong link, but cannot
remove or rewrite sealed entries, so the chain then fails verification; the keyed links and the
signed checkpoints cover the rest (docs/security.md).
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, text

from pmh.errors import InvalidInput

APPEND_ONLY = {
    "audit_entries": "SELECT, INSERT, UPDATE (seq, prev_hash, entry_hash)",
    "audit_head": "SELECT, INSERT, UPDATE",
}
"""The audit tables and everything the application role may do with them."""
READ_ONLY = ("alembic_version",)
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _check_name(role: str) -> None:
    if not _ROLE_NAME.fullmatch(role):
        raise InvalidInput(f"ロール名 {role!r} は英小文字・数字・_ で63文字以内にしてください。")


def app_role_sql(role: str, database: str, password: str | None) -> list[str]:
    """Return the statements that create (or bring up to date) the application role ``role``.

    They are idempotent: run them again after every upgrade so that new tables are covered (tables
    created later by the same owner are covered by its default privileges too).
    """
    _check_name(role)
    name = _identifier(role)
    login = f"LOGIN PASSWORD {_literal(password)}" if password is not None else "LOGIN"
    statements = [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_literal(role)}) "
        f"THEN CREATE ROLE {name}; END IF; END $$",
        f"ALTER ROLE {name} {login} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT",
        f"GRANT CONNECT ON DATABASE {_identifier(database)} TO {name}",
        f"GRANT USAGE ON SCHEMA public TO {name}",
        f"REVOKE CREATE ON SCHEMA public FROM {name}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {name}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {name}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {name}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {name}",
    ]
    for table, allowed in APPEND_ONLY.items():
        statements.append(f"REVOKE ALL ON {table} FROM {name}")
        statements.append(f"GRANT {allowed} ON {table} TO {name}")
    for table in READ_ONLY:
        statements.append(f"REVOKE ALL ON {table} FROM {name}")
        statements.append(f"GRANT SELECT ON {table} TO {name}")
    return statements


def create_app_role(connection: Connection, role: str, password: str | None) -> None:
    """Create or update the application role in the database ``connection`` is on (run as its owner)."""
    _check_name(role)
    if connection.dialect.name != "postgresql":
        raise InvalidInput("アプリケーション用ロールは PostgreSQL でのみ作成できます（SQLite にロールはありません）。")
    owner = connection.execute(
        text("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass('audit_entries')")
    ).scalar()
    if owner is None:
        raise InvalidInput("audit_entries がありません。先に `pmh db upgrade` を所有者のロールで実行してください。")
    if owner == role:
        raise InvalidInput(f"ロール {role} はテーブルの所有者です。所有者とは別のロールを指定してください。")
    database = str(connection.execute(text("SELECT current_database()")).scalar_one())
    cursor = connection.connection.cursor()  # the driver's own: no parameters, so a % in a password stays
    try:
        for statement in app_role_sql(role, database, password):
            cursor.execute(statement)
    finally:
        cursor.close()
