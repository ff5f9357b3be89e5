"""audit: entries are appended unsealed and sealed into their chain later by a sealer

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 09:00:00.000000

Rules for every revision (see docs/development.md):
- runs on SQLite (batch mode) and PostgreSQL alike; downgrade undoes upgrade exactly;
- no data backfills here: those are CLI commands;
- never drops or rewrites personal data without a reviewed plan.

An entry's link (``seq``, ``prev_hash``, ``entry_hash``) may now be empty: the hub appends an entry
with one INSERT and a sealer fills exactly these three columns later, once. The append-only trigger
gets one narrow exception for that: an UPDATE that fills the empty link of an unsealed entry and
changes nothing else. Every other UPDATE, every DELETE, and any change of a sealed entry is refused
as before. Existing entries are all sealed and are not touched, so the log verifies as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CONTENT = (
    "id",
    "chain",
    "occurred_at",
    "organisation_id",
    "actor",
    "role",
    "action",
    "subject_type",
    "subject_id",
    "detail",
    "form",
)
"""Every column but the link: a sealing UPDATE must leave them exactly as they are."""

_PG_GUARD_BODY = """
CREATE OR REPLACE FUNCTION pmh_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_entries is append-only';
END;
$$ LANGUAGE plpgsql;
"""
_PG_SEALING_GUARD_BODY = f"""
CREATE OR REPLACE FUNCTION pmh_audit_append_only() RETURNS trigger AS $$
BEGIN
    -- The one exception: a sealer fills the empty link of an unsealed entry, and nothing else.
    IF TG_OP = 'UPDATE'
       AND OLD.seq IS NULL AND OLD.prev_hash IS NULL AND OLD.entry_hash IS NULL
       AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.entry_hash IS NOT NULL
       AND ({", ".join("NEW." + c for c in _CONTENT)}) IS NOT DISTINCT FROM ({", ".join("OLD." + c for c in _CONTENT)})
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_entries is append-only';
END;
$$ LANGUAGE plpgsql;
"""
_SQLITE_SEALING = (
    "OLD.seq IS NULL AND OLD.prev_hash IS NULL AND OLD.entry_hash IS NULL "
    "AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.entry_hash IS NOT NULL AND "
    + " AND ".join(f"NEW.{c} IS OLD.{c}" for c in _CONTENT)
)
_SQLITE_GUARD = (
    "CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries "
    "BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END",
    "CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries "
    "BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END",
    "CREATE TRIGGER audit_entries_keyed_only BEFORE INSERT ON audit_entries WHEN NEW.form <> 1 "
    "BEGIN SELECT RAISE(ABORT, 'audit entries are written in the keyed form only'); END",
)
_SQLITE_SEALING_GUARD = (
    f"CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries WHEN NOT ({_SQLITE_SEALING}) "
    "BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END",
    *_SQLITE_GUARD[1:],
)
_SQLITE_TRIGGERS = ("audit_entries_no_update", "audit_entries_no_delete", "audit_entries_keyed_only")
_LINK = (("seq", sa.BigInteger()), ("prev_hash", sa.String(length=64)), ("entry_hash", sa.String(length=64)))


# Roles that may append (the application role of `pmh db create-app-role`) may also seal: the
# sealer runs in every server process, as that role. The trigger above limits what UPDATE can do.
_PG_GRANT_SEALING = """
DO $$
DECLARE grantee text;
BEGIN
    FOR grantee IN
        SELECT DISTINCT g.grantee FROM information_schema.role_table_grants g
        WHERE g.table_schema = current_schema() AND g.table_name = 'audit_entries'
          AND g.privilege_type = 'INSERT' AND g.grantee <> current_user AND g.grantee <> 'PUBLIC'
    LOOP
        EXECUTE format('GRANT UPDATE (seq, prev_hash, entry_hash) ON audit_entries TO %I', grantee);
    END LOOP;
END $$;
"""
_PG_REVOKE_SEALING = """
DO $$
DECLARE grantee text;
BEGIN
    FOR grantee IN
        SELECT DISTINCT g.grantee FROM information_schema.column_privileges g
        WHERE g.table_schema = current_schema() AND g.table_name = 'audit_entries'
          AND g.privilege_type = 'UPDATE' AND g.grantee <> current_user AND g.grantee <> 'PUBLIC'
    LOOP
        EXECUTE format('REVOKE UPDATE (seq, prev_hash, entry_hash) ON audit_entries FROM %I', grantee);
    END LOOP;
END $$;
"""


def _sqlite() -> bool:
    return op.get_bind().dialect.name != "postgresql"


def _set_link_nullable(nullable: bool) -> None:
    # SQLite's batch mode rebuilds the table, which drops its three triggers: they are taken down
    # before and put back after by the callers.
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        for name, type_ in _LINK:
            batch_op.alter_column(name, existing_type=type_, nullable=nullable)


def upgrade() -> None:
    if _sqlite():
        for trigger in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {trigger}")
    _set_link_nullable(True)
    if _sqlite():
        for statement in _SQLITE_SEALING_GUARD:
            op.execute(statement)
    else:
        op.execute(_PG_SEALING_GUARD_BODY)
        op.execute(_PG_GRANT_SEALING)
    op.create_index(
        "ix_audit_entries_unsealed",
        "audit_entries",
        ["chain", "id"],
        unique=False,
        postgresql_where=sa.text("seq IS NULL"),
        sqlite_where=sa.text("seq IS NULL"),
    )


def downgrade() -> None:
    # Unsealed entries have no place in the old schema: seal them first (`pmh audit seal`).
    unsealed = op.get_bind().execute(sa.text("SELECT count(*) FROM audit_entries WHERE seq IS NULL")).scalar()
    if unsealed:
        raise RuntimeError(f"{unsealed} audit entries are not sealed yet: run `pmh audit seal` before downgrading")
    op.drop_index("ix_audit_entries_unsealed", table_name="audit_entries")
    if _sqlite():
        for trigger in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {trigger}")
    _set_link_nullable(False)
    if _sqlite():
        for statement in _SQLITE_GUARD:
            op.execute(statement)
    else:
        op.execute(_PG_REVOKE_SEALING)
        op.execute(_PG_GUARD_BODY)
