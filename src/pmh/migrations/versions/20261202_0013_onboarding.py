"""onboarding: reported readiness steps and the deadlines of each fiscal year

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 04:40:00

Rules for every revision (see docs/development.md):
- runs on SQLite (batch mode) and PostgreSQL alike; downgrade undoes upgrade exactly;
- no data backfills here: those are CLI commands;
- never drops or rewrites personal data without a reviewed plan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _base_columns(table: str) -> list[sa.Column[object] | sa.PrimaryKeyConstraint]:
    return [
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def upgrade() -> None:
    op.create_table(
        "onboarding_steps",
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("program_code", sa.String(length=32), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("pia_template", sa.String(length=16), nullable=True),
        sa.Column("pia_evaluation", sa.String(length=16), nullable=True),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        *_base_columns("onboarding_steps"),
        sa.UniqueConstraint(
            "fiscal_year",
            "municipality_code",
            "program_code",
            "step",
            name=op.f("uq_onboarding_steps_fiscal_year_municipality_code_program_code_step"),
        ),
    )
    with op.batch_alter_table("onboarding_steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_onboarding_steps_municipality_code"), ["municipality_code"], unique=False)
    op.create_table(
        "onboarding_deadlines",
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("opens_on", sa.Date(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("set_by", sa.String(length=100), nullable=False),
        *_base_columns("onboarding_deadlines"),
        sa.UniqueConstraint("fiscal_year", "step", name=op.f("uq_onboarding_deadlines_fiscal_year_step")),
    )


def downgrade() -> None:
    op.drop_table("onboarding_deadlines")
    with op.batch_alter_table("onboarding_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_onboarding_steps_municipality_code"))
    op.drop_table("onboarding_steps")
