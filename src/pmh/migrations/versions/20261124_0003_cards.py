"""cards: test My Number cards of the simulated card service

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 02:32:59.954936

Rules for every revision (see docs/development.md):
- runs on SQLite (batch mode) and PostgreSQL alike; downgrade undoes upgrade exactly;
- no data backfills here: those are CLI commands;
- never drops or rewrites personal data without a reviewed plan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "test_cards",
        sa.Column("card_serial", sa.String(length=12), nullable=False),
        sa.Column("person_digest", sa.String(length=64), nullable=False),
        sa.Column("pin_hash", sa.String(length=255), nullable=False),
        sa.Column("failed_pin_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_cards")),
        sa.UniqueConstraint("card_serial", name=op.f("uq_test_cards_card_serial")),
    )
    with op.batch_alter_table("test_cards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_test_cards_person_digest"), ["person_digest"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("test_cards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_test_cards_person_digest"))

    op.drop_table("test_cards")
