"""registered counts: per program and tracked reference date, kept at import time (the fee basis)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 09:00:00

Rules for every revision (see docs/development.md):
- runs on SQLite (batch mode) and PostgreSQL alike; downgrade undoes upgrade exactly;
- no data backfills here: those are CLI commands (`pmh fees rebuild-counts` fills the summary);
- never drops or rewrites personal data without a reviewed plan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registered_count_dates",
        sa.Column("reference_date", sa.Date(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("reference_date", name=op.f("pk_registered_count_dates")),
    )
    op.create_table(
        "registered_counts",
        sa.Column("reference_date", sa.Date(), nullable=False),
        sa.Column("program_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("registered", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"], name=op.f("fk_registered_counts_program_id_programs")),
        sa.ForeignKeyConstraint(
            ["reference_date"],
            ["registered_count_dates.reference_date"],
            name=op.f("fk_registered_counts_reference_date_registered_count_dates"),
        ),
        sa.PrimaryKeyConstraint("reference_date", "program_id", name=op.f("pk_registered_counts")),
    )


def downgrade() -> None:
    op.drop_table("registered_counts")
    op.drop_table("registered_count_dates")
