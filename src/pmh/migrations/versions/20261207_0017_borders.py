"""borders: 被保険者区分 on insurance records, JSON pointers of batch problems, withdrawn versions

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 09:00:00

- insurance_records.relationship: JP Core's 被保険者区分 (1 被保険者, 2 被扶養者), null when unknown;
- upload_problems.pointer: the RFC 6901 pointer of a registration-API problem (null for files);
- certificate_versions.withdrawn_at / withdrawn_upload_id: a version withdrawn (取消) by a later
  upload, kept in the history but no longer in force; previous_person_digest: on a version that
  changed the My Number, the digest before it (what a withdrawal restores).

Rules for every revision (see docs/development.md):
- runs on SQLite (batch mode) and PostgreSQL alike; downgrade undoes upgrade exactly;
- no data backfills here: those are CLI commands;
- never drops or rewrites personal data without a reviewed plan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("insurance_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("relationship", sa.SmallInteger(), nullable=True))
    with op.batch_alter_table("upload_problems", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pointer", sa.String(length=120), nullable=True))
    with op.batch_alter_table("certificate_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("withdrawn_upload_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_certificate_versions_withdrawn_upload_id_uploads"),
            "uploads",
            ["withdrawn_upload_id"],
            ["id"],
        )
        batch_op.add_column(sa.Column("previous_person_digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("certificate_versions", schema=None) as batch_op:
        batch_op.drop_column("previous_person_digest")
        batch_op.drop_constraint(batch_op.f("fk_certificate_versions_withdrawn_upload_id_uploads"), type_="foreignkey")
        batch_op.drop_column("withdrawn_upload_id")
        batch_op.drop_column("withdrawn_at")
    with op.batch_alter_table("upload_problems", schema=None) as batch_op:
        batch_op.drop_column("pointer")
    with op.batch_alter_table("insurance_records", schema=None) as batch_op:
        batch_op.drop_column("relationship")
