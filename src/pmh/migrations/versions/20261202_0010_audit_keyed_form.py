"""audit: a form per entry, so that keyed (HMAC) links start at a known entry of each chain

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 04:40:00.000000

Rules for every revision (see docs/development.md):
- runs on SQLite (batch mode) and PostgreSQL alike; downgrade undoes upgrade exactly;
- no data backfills here: those are CLI commands;
- never drops or rewrites personal data without a reviewed plan.

Existing entries get form 0 (their plain SHA-256 link, unchanged), so a log written before this
revision verifies as before; the hub writes every new entry in form 1 (HMAC under the audit key).
A trigger refuses any new entry in the plain form: otherwise whoever may INSERT (the application
role) could append plain entries, which need no key, to a chain that has no keyed entry yet.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# SQLite's batch mode may rebuild the table, which drops its triggers: the append-only guard is
# taken down around the change and put back exactly as revision 0001 made it.
_PG_AUDIT_GUARD = """
CREATE FUNCTION pmh_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_entries is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION pmh_audit_append_only();
"""
_SQLITE_AUDIT_GUARD = (
    "CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries "
    "BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END",
    "CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries "
    "BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END",
)


def _create_audit_guard() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_AUDIT_GUARD)
    else:
        for statement in _SQLITE_AUDIT_GUARD:
            op.execute(statement)


def _drop_audit_guard() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_entries_append_only ON audit_entries")
        op.execute("DROP FUNCTION pmh_audit_append_only()")
    else:
        op.execute("DROP TRIGGER audit_entries_no_update")
        op.execute("DROP TRIGGER audit_entries_no_delete")


_PG_KEYED_ONLY = """
CREATE FUNCTION pmh_audit_keyed_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are written in the keyed form only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_entries_keyed_only BEFORE INSERT ON audit_entries
    FOR EACH ROW WHEN (NEW.form <> 1) EXECUTE FUNCTION pmh_audit_keyed_only();
"""
_SQLITE_KEYED_ONLY = (
    "CREATE TRIGGER audit_entries_keyed_only BEFORE INSERT ON audit_entries WHEN NEW.form <> 1 "
    "BEGIN SELECT RAISE(ABORT, 'audit entries are written in the keyed form only'); END"
)


def upgrade() -> None:
    _drop_audit_guard()
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("form", sa.SmallInteger(), server_default="0", nullable=False))
    _create_audit_guard()
    op.execute(_PG_KEYED_ONLY if op.get_bind().dialect.name == "postgresql" else _SQLITE_KEYED_ONLY)


def downgrade() -> None:
    # Only meaningful while no keyed entry exists: a keyed entry read as plain no longer verifies.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_entries_keyed_only ON audit_entries")
        op.execute("DROP FUNCTION pmh_audit_keyed_only()")
    else:
        op.execute("DROP TRIGGER audit_entries_keyed_only")
    _drop_audit_guard()
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_column("form")
    _create_audit_guard()
