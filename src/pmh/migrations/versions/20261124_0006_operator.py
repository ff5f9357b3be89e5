"""operator: fee prices, contact windows, delegations, contracts, subsidy applications

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 03:39:21.057619

Rules for every revision (see docs/development.md):
- runs on SQLite (batch mode) and PostgreSQL alike; downgrade undoes upgrade exactly;
- no data backfills here: those are CLI commands;
- never drops or rewrites personal data without a reviewed plan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_windows",
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("department", sa.String(length=200), nullable=False),
        sa.Column("contact_name", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("payment", sa.String(length=8), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_windows")),
        sa.UniqueConstraint("municipality_code", name=op.f("uq_contact_windows_municipality_code")),
    )
    op.create_table(
        "contracts",
        sa.Column("prefecture_code", sa.String(length=2), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("annex", sa.Text(), nullable=False),
        sa.Column("delegations", sa.Text(), nullable=False),
        sa.Column("built_by", sa.String(length=100), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contracts")),
        sa.UniqueConstraint("prefecture_code", "fiscal_year", name=op.f("uq_contracts_prefecture_code_fiscal_year")),
    )
    op.create_table(
        "delegations",
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("prefecture_code", sa.String(length=2), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("programs", sa.Text(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegations")),
        sa.UniqueConstraint(
            "municipality_code", "fiscal_year", name=op.f("uq_delegations_municipality_code_fiscal_year")
        ),
    )
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delegations_prefecture_code"), ["prefecture_code"], unique=False)

    op.create_table(
        "fee_prices",
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=8), nullable=False),
        sa.Column("unit_price_sen", sa.Integer(), nullable=False),
        sa.Column("introduction_total", sa.Integer(), nullable=True),
        sa.Column("introducing_municipalities", sa.Integer(), nullable=True),
        sa.Column("set_by", sa.String(length=100), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_prices")),
        sa.UniqueConstraint("fiscal_year", "version", name=op.f("uq_fee_prices_fiscal_year_version")),
    )
    op.create_table(
        "subsidy_applications",
        sa.Column("institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("facility", sa.String(length=16), nullable=False),
        sa.Column("option", sa.SmallInteger(), nullable=False),
        sa.Column("cost", sa.Integer(), nullable=False),
        sa.Column("reception_machine", sa.Boolean(), nullable=False),
        sa.Column("large_chain", sa.Boolean(), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("cost_ceiling", sa.Integer(), nullable=False),
        sa.Column("rate", sa.String(length=8), nullable=False),
        sa.Column("maximum", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=300), nullable=False),
        sa.Column("documents", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["organisations.id"], name=op.f("fk_subsidy_applications_institution_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidy_applications")),
        sa.UniqueConstraint("institution_id", name=op.f("uq_subsidy_applications_institution_id")),
    )


def downgrade() -> None:
    op.drop_table("subsidy_applications")
    op.drop_table("fee_prices")
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delegations_prefecture_code"))

    op.drop_table("delegations")
    op.drop_table("contracts")
    op.drop_table("contact_windows")
