"""registry: 機関別受給者証種別ID on programs, 履歴キー on certificate versions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 04:30:00

Rules for every revision (see docs/development.md):
- runs on SQLite (batch mode) and PostgreSQL alike; downgrade undoes upgrade exactly;
- no data backfills here: those are CLI commands;
- never drops or rewrites personal data without a reviewed plan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("programs") as batch:
        batch.add_column(sa.Column("certificate_type_id", sa.String(50), nullable=True))
        batch.create_unique_constraint(
            op.f("uq_programs_municipality_id_certificate_type_id"), ["municipality_id", "certificate_type_id"]
        )
    with op.batch_alter_table("certificate_versions") as batch:
        batch.add_column(sa.Column("history_key", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("certificate_versions") as batch:
        batch.drop_column("history_key")
    with op.batch_alter_table("programs") as batch:
        batch.drop_constraint(op.f("uq_programs_municipality_id_certificate_type_id"), type_="unique")
        batch.drop_column("certificate_type_id")
