"""audit: several hash chains, so that appenders of different chains never wait for each other

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 04:21:51.241687

Rules for every revision (see docs/development.md):
- runs on SQLite (batch mode) and PostgreSQL alike; downgrade undoes upgrade exactly;
- no data backfills here: those are CLI commands;
- never drops or rewrites personal data without a reviewed plan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# SQLite's batch mode rebuilds the table, which drops its triggers: the append-only guard is taken
# down around the change and put back exactly as revision 0001 made it.
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


def upgrade() -> None:
    # Existing entries form chain 0, whose hash form is unchanged: the log verifies as before.
    _drop_audit_guard()
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain", sa.SmallInteger(), server_default="0", nullable=False))
        batch_op.drop_constraint(batch_op.f("uq_audit_entries_prev_hash"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_audit_entries_seq"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_audit_entries_chain_prev_hash"), ["chain", "prev_hash"])
        batch_op.create_unique_constraint(batch_op.f("uq_audit_entries_chain_seq"), ["chain", "seq"])
    _create_audit_guard()


def downgrade() -> None:
    # Only possible while every entry is on chain 0 (the single-chain constraints come back).
    _drop_audit_guard()
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_entries_chain_seq"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_audit_entries_chain_prev_hash"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_audit_entries_seq"), ["seq"])
        batch_op.create_unique_constraint(batch_op.f("uq_audit_entries_prev_hash"), ["prev_hash"])
        batch_op.drop_column("chain")
    _create_audit_guard()
