"""fee prices: the year's introduction total as a 64-bit integer (national totals exceed 2^31 yen)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 06:20:00

Rules for every revision (see docs/development.md):
- runs on SQLite (batch mode) and PostgreSQL alike; downgrade undoes upgrade exactly;
- no data backfills here: those are CLI commands;
- never drops or rewrites personal data without a reviewed plan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("fee_prices", schema=None) as batch_op:
        batch_op.alter_column("introduction_total", existing_type=sa.Integer(), type_=sa.BigInteger())


def downgrade() -> None:
    with op.batch_alter_table("fee_prices", schema=None) as batch_op:
        batch_op.alter_column("introduction_total", existing_type=sa.BigInteger(), type_=sa.Integer())
