"""name forms: the JIS X 0213 and JIS X 0208 forms of a certificate version's name, derived at import

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 04:50:00

Rules for every revision (see docs/development.md):
- runs on SQLite (batch mode) and PostgreSQL alike; downgrade undoes upgrade exactly;
- no data backfills here: those are CLI commands;
- never drops or rewrites personal data without a reviewed plan.

Versions stored before this revision keep NULL in the three columns; readers derive the forms from
the name of record then (``pmh.registry.names.name_forms``), so nothing needs backfilling.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("certificate_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_jisx0213", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("name_jisx0208", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("name_unmapped", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("certificate_versions", schema=None) as batch_op:
        batch_op.drop_column("name_unmapped")
        batch_op.drop_column("name_jisx0208")
        batch_op.drop_column("name_jisx0213")
