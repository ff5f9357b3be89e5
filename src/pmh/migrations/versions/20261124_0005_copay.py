"""copay: the monthly self-pay ledger

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 03:52:12.429731

Rules for every revision (see docs/development.md):
- runs on SQLite (batch mode) and PostgreSQL alike; downgrade undoes upgrade exactly;
- no data backfills here: those are CLI commands;
- never drops or rewrites personal data without a reviewed plan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "copay_months",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("certificate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("ledger", sa.String(length=10), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"], ["certificates.id"], name=op.f("fk_copay_months_certificate_id_certificates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_copay_months")),
        sa.UniqueConstraint(
            "certificate_id", "month", "ledger", name=op.f("uq_copay_months_certificate_id_month_ledger")
        ),
    )
    op.create_table(
        "copay_entries",
        sa.Column("copay_month_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("certificate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reception_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("inpatient", sa.Boolean(), nullable=False),
        sa.Column("total_cost", sa.Integer(), nullable=False),
        sa.Column("copay_amount", sa.Integer(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=100), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"], ["certificates.id"], name=op.f("fk_copay_entries_certificate_id_certificates")
        ),
        sa.ForeignKeyConstraint(
            ["copay_month_id"], ["copay_months.id"], name=op.f("fk_copay_entries_copay_month_id_copay_months")
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["organisations.id"], name=op.f("fk_copay_entries_institution_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["reception_id"], ["receptions.id"], name=op.f("fk_copay_entries_reception_id_receptions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_copay_entries")),
    )
    with op.batch_alter_table("copay_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_copay_entries_copay_month_id"), ["copay_month_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("copay_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_copay_entries_copay_month_id"))

    op.drop_table("copay_entries")
    op.drop_table("copay_months")
