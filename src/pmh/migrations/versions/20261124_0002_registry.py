"""registry: programs, certificates, uploads, link reviews, insurance records

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 01:28:37.145344

Rules for every revision (see docs/development.md):
- runs on SQLite (batch mode) and PostgreSQL alike; downgrade undoes upgrade exactly;
- no data backfills here: those are CLI commands;
- never drops or rewrites personal data without a reviewed plan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "insurance_records",
        sa.Column("person_digest", sa.String(length=64), nullable=False),
        sa.Column("insurer_number", sa.String(length=8), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("branch", sa.String(length=4), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_kana", sa.String(length=200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.SmallInteger(), nullable=False),
        sa.Column("copay_rate", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_records")),
        sa.UniqueConstraint("person_digest", name=op.f("uq_insurance_records_person_digest")),
    )
    op.create_table(
        "gaiji_mappings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("municipality_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("character", sa.String(length=8), nullable=False),
        sa.Column("replacement", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_id"], ["organisations.id"], name=op.f("fk_gaiji_mappings_municipality_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gaiji_mappings")),
        sa.UniqueConstraint("municipality_id", "character", name=op.f("uq_gaiji_mappings_municipality_id_character")),
    )
    op.create_table(
        "programs",
        sa.Column("municipality_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("program_code", sa.String(length=32), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("planned_recipients", sa.Integer(), nullable=False),
        sa.Column("recipient_check_digit", sa.Boolean(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_id"], ["organisations.id"], name=op.f("fk_programs_municipality_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programs")),
        sa.UniqueConstraint("municipality_id", "program_code", name=op.f("uq_programs_municipality_id_program_code")),
    )
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_programs_municipality_id"), ["municipality_id"], unique=False)

    op.create_table(
        "uploads",
        sa.Column("municipality_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("content_digest", sa.String(length=64), nullable=False),
        sa.Column("allow_partial", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("held_for_review", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_id"], ["organisations.id"], name=op.f("fk_uploads_municipality_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
    )
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.create_index("ix_uploads_content", ["municipality_id", "content_digest"], unique=False)
        batch_op.create_index(batch_op.f("ix_uploads_municipality_id"), ["municipality_id"], unique=False)

    op.create_table(
        "certificates",
        sa.Column("municipality_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("program_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("payer_number", sa.String(length=8), nullable=False),
        sa.Column("recipient_number", sa.String(length=30), nullable=False),
        sa.Column("person_digest", sa.String(length=64), nullable=False),
        sa.Column("link_status", sa.String(length=16), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_id"], ["organisations.id"], name=op.f("fk_certificates_municipality_id_organisations")
        ),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"], name=op.f("fk_certificates_program_id_programs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint(
            "payer_number", "recipient_number", name=op.f("uq_certificates_payer_number_recipient_number")
        ),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificates_municipality_id"), ["municipality_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_certificates_person_digest"), ["person_digest"], unique=False)

    op.create_table(
        "payer_numbers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("payer_number", sa.String(length=8), nullable=False),
        sa.Column("program_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"], name=op.f("fk_payer_numbers_program_id_programs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payer_numbers")),
        sa.UniqueConstraint("payer_number", name=op.f("uq_payer_numbers_payer_number")),
    )
    with op.batch_alter_table("payer_numbers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payer_numbers_program_id"), ["program_id"], unique=False)

    op.create_table(
        "upload_problems",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("upload_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("row", sa.Integer(), nullable=True),
        sa.Column("column", sa.String(length=50), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"], name=op.f("fk_upload_problems_upload_id_uploads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_problems")),
    )
    with op.batch_alter_table("upload_problems", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_upload_problems_upload_id"), ["upload_id"], unique=False)

    op.create_table(
        "certificate_versions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("certificate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(length=8), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("upload_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_kana", sa.String(length=200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.SmallInteger(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("monthly_cap", sa.Integer(), nullable=True),
        sa.Column("inpatient_cap", sa.Integer(), nullable=True),
        sa.Column("copay_rate", sa.SmallInteger(), nullable=True),
        sa.Column("income_category", sa.String(length=50), nullable=True),
        sa.Column("cap_managed", sa.Boolean(), nullable=False),
        sa.Column("diseases", sa.Text(), nullable=False),
        sa.Column("designated_institutions", sa.Text(), nullable=False),
        sa.Column("guardian_name", sa.String(length=100), nullable=True),
        sa.Column("certification_name", sa.String(length=100), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("not_disclosed", sa.Boolean(), nullable=False),
        sa.Column("always_reimbursement", sa.Boolean(), nullable=False),
        sa.Column("additional_conditions", sa.Text(), nullable=False),
        sa.Column("certificate_details", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"], ["certificates.id"], name=op.f("fk_certificate_versions_certificate_id_certificates")
        ),
        sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"], name=op.f("fk_certificate_versions_upload_id_uploads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_versions")),
        sa.UniqueConstraint("certificate_id", "version", name=op.f("uq_certificate_versions_certificate_id_version")),
    )
    with op.batch_alter_table("certificate_versions", schema=None) as batch_op:
        batch_op.create_index("ix_certificate_versions_lookup", ["certificate_id", "effective_from"], unique=False)
        batch_op.create_index(batch_op.f("ix_certificate_versions_upload_id"), ["upload_id"], unique=False)

    op.create_table(
        "link_reviews",
        sa.Column("municipality_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("certificate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("upload_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reason_codes", sa.String(length=200), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"], ["certificates.id"], name=op.f("fk_link_reviews_certificate_id_certificates")
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"], ["organisations.id"], name=op.f("fk_link_reviews_municipality_id_organisations")
        ),
        sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"], name=op.f("fk_link_reviews_upload_id_uploads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_reviews")),
    )
    with op.batch_alter_table("link_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_link_reviews_certificate_id"), ["certificate_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_link_reviews_municipality_id"), ["municipality_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("link_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_reviews_municipality_id"))
        batch_op.drop_index(batch_op.f("ix_link_reviews_certificate_id"))

    op.drop_table("link_reviews")
    with op.batch_alter_table("certificate_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificate_versions_upload_id"))
        batch_op.drop_index("ix_certificate_versions_lookup")

    op.drop_table("certificate_versions")
    with op.batch_alter_table("upload_problems", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_upload_problems_upload_id"))

    op.drop_table("upload_problems")
    with op.batch_alter_table("payer_numbers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payer_numbers_program_id"))

    op.drop_table("payer_numbers")
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificates_person_digest"))
        batch_op.drop_index(batch_op.f("ix_certificates_municipality_id"))

    op.drop_table("certificates")
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_uploads_municipality_id"))
        batch_op.drop_index("ix_uploads_content")

    op.drop_table("uploads")
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_programs_municipality_id"))

    op.drop_table("programs")
    op.drop_table("gaiji_mappings")
    op.drop_table("insurance_records")
