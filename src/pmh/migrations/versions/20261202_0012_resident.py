"""resident: sessions opened with the card, consent withdrawal, audit entries found by subject

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 04:30:00.000000

Rules for every revision (see docs/development.md):
- runs on SQLite (batch mode) and PostgreSQL alike; downgrade undoes upgrade exactly;
- no data backfills here: those are CLI commands;
- never drops or rewrites personal data without a reviewed plan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "resident_sessions",
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("person_digest", sa.String(length=64), nullable=False),
        sa.Column("card_serial", sa.String(length=12), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_sessions")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_resident_sessions_token_digest")),
    )
    op.create_index(op.f("ix_resident_sessions_person_digest"), "resident_sessions", ["person_digest"])
    with op.batch_alter_table("receptions") as batch:
        batch.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_audit_entries_subject", "audit_entries", ["subject_type", "subject_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_entries_subject", table_name="audit_entries")
    with op.batch_alter_table("receptions") as batch:
        batch.drop_column("withdrawn_at")
    op.drop_index(op.f("ix_resident_sessions_person_digest"), table_name="resident_sessions")
    op.drop_table("resident_sessions")
