"""reception numbers (受付番号 per institution and day) and file lines of upload problems

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 05:00:00

Rules for every revision (see docs/development.md):
- runs on SQLite (batch mode) and PostgreSQL alike; downgrade undoes upgrade exactly;
- no data backfills here: those are CLI commands;
- never drops or rewrites personal data without a reviewed plan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reception_days",
        sa.Column("institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["organisations.id"], name=op.f("fk_reception_days_institution_id_organisations")
        ),
        sa.PrimaryKeyConstraint("institution_id", "day", name=op.f("pk_reception_days")),
    )
    with op.batch_alter_table("receptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("day_number", sa.Integer(), nullable=True))
    with op.batch_alter_table("upload_problems", schema=None) as batch_op:
        batch_op.add_column(sa.Column("line", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("upload_problems", schema=None) as batch_op:
        batch_op.drop_column("line")
    with op.batch_alter_table("receptions", schema=None) as batch_op:
        batch_op.drop_column("day_number")
    op.drop_table("reception_days")
