"""eligibility: card sessions, receptions, patient registry

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 03:38:32.668368

Rules for every revision (see docs/development.md):
- runs on SQLite (batch mode) and PostgreSQL alike; downgrade undoes upgrade exactly;
- no data backfills here: those are CLI commands;
- never drops or rewrites personal data without a reviewed plan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "card_sessions",
        sa.Column("token", sa.String(length=43), nullable=False),
        sa.Column("institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("person_digest", sa.String(length=64), nullable=False),
        sa.Column("card_serial", sa.String(length=12), nullable=False),
        sa.Column("auth_method", sa.String(length=8), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offered", sa.Text(), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["organisations.id"], name=op.f("fk_card_sessions_institution_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_sessions")),
        sa.UniqueConstraint("token", name=op.f("uq_card_sessions_token")),
    )
    with op.batch_alter_table("card_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_card_sessions_institution_id"), ["institution_id"], unique=False)

    op.create_table(
        "patients",
        sa.Column("institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("patient_number", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_kana", sa.String(length=200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.SmallInteger(), nullable=False),
        sa.Column("person_digest", sa.String(length=64), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["organisations.id"], name=op.f("fk_patients_institution_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("institution_id", "patient_number", name=op.f("uq_patients_institution_id_patient_number")),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index("ix_patients_candidates", ["institution_id", "birth_date"], unique=False)
        batch_op.create_index("ix_patients_person", ["institution_id", "person_digest"], unique=False)

    op.create_table(
        "receptions",
        sa.Column("institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("card_session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("person_digest", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("subsidy_consent", sa.String(length=8), nullable=False),
        sa.Column("patient_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("link_method", sa.String(length=8), nullable=True),
        sa.Column("linked_by", sa.String(length=100), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_session_id"], ["card_sessions.id"], name=op.f("fk_receptions_card_session_id_card_sessions")
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["organisations.id"], name=op.f("fk_receptions_institution_id_organisations")
        ),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_receptions_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receptions")),
        sa.UniqueConstraint("card_session_id", name=op.f("uq_receptions_card_session_id")),
    )
    with op.batch_alter_table("receptions", schema=None) as batch_op:
        batch_op.create_index("ix_receptions_day", ["institution_id", "received_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_receptions_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_receptions_person_digest"), ["person_digest"], unique=False)

    op.create_table(
        "reception_certificates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("reception_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("certificate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("offered_order", sa.Integer(), nullable=False),
        sa.Column("first_read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_read", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["certificate_id"], ["certificates.id"], name=op.f("fk_reception_certificates_certificate_id_certificates")
        ),
        sa.ForeignKeyConstraint(
            ["reception_id"], ["receptions.id"], name=op.f("fk_reception_certificates_reception_id_receptions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reception_certificates")),
        sa.UniqueConstraint(
            "reception_id", "certificate_id", name=op.f("uq_reception_certificates_reception_id_certificate_id")
        ),
    )
    with op.batch_alter_table("reception_certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reception_certificates_certificate_id"), ["certificate_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reception_certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reception_certificates_certificate_id"))

    op.drop_table("reception_certificates")
    with op.batch_alter_table("receptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receptions_person_digest"))
        batch_op.drop_index(batch_op.f("ix_receptions_patient_id"))
        batch_op.drop_index("ix_receptions_day")

    op.drop_table("receptions")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index("ix_patients_person")
        batch_op.drop_index("ix_patients_candidates")

    op.drop_table("patients")
    with op.batch_alter_table("card_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_sessions_institution_id"))

    op.drop_table("card_sessions")
