"""Tables of the registry: programs and their payer numbers, certificates and their versions,
uploads with their problems, the linking guard's review queue and the 外字 mapping tables."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pmh.db import Base, BigId, TimestampedBase, UTCDateTime, utcnow


class Program(TimestampedBase):
    """A subsidy program (制度) a municipality runs, from the catalogue (``program_code``)."""

    __tablename__ = "programs"
    __table_args__ = (
        UniqueConstraint("municipality_id", "program_code"),
        UniqueConstraint("municipality_id", "certificate_type_id"),
    )

    municipality_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"), index=True)
    program_code: Mapped[str] = mapped_column(String(32))
    start_date: Mapped[dt.date] = mapped_column(Date)
    planned_recipients: Mapped[int] = mapped_column(Integer, default=0)
    recipient_check_digit: Mapped[bool] = mapped_column(Boolean, default=True)
    certificate_type_id: Mapped[str | None] = mapped_column(String(50))
    """機関別受給者証種別ID: how the municipality's system names this program in the registration API
    (``orgSpecificCertificateTypeId``); unique per municipality."""


class PayerNumber(Base):
    """A 公費負担者番号 of a program; one program may have several."""

    __tablename__ = "payer_numbers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    payer_number: Mapped[str] = mapped_column(String(8), unique=True)
    program_id: Mapped[int] = mapped_column(BigId, ForeignKey("programs.id"), index=True)


class Certificate(TimestampedBase):
    """A recipient certificate (受給者証), identified by (公費負担者番号, 公費受給者番号).

    ``link_status`` is the linking guard's verdict: ``linked`` certificates are visible to
    institutions; ``held`` ones wait in the review queue; ``rejected`` ones stay invisible.
    """

    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("payer_number", "recipient_number"),)

    municipality_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"), index=True)
    program_id: Mapped[int] = mapped_column(BigId, ForeignKey("programs.id"))
    payer_number: Mapped[str] = mapped_column(String(8))
    recipient_number: Mapped[str] = mapped_column(String(30))
    person_digest: Mapped[str] = mapped_column(String(64), index=True)
    link_status: Mapped[str] = mapped_column(String(16))
    current_version: Mapped[int] = mapped_column(Integer, default=1)


class CertificateVersion(Base):
    """One version of a certificate's contents, effective from ``effective_from``.

    新規 creates version 1; 変更 and 終了 add versions. The version in force on a date is the one
    with the latest ``effective_from`` not after it (ties: the higher version number).
    """

    __tablename__ = "certificate_versions"
    __table_args__ = (
        UniqueConstraint("certificate_id", "version"),
        Index("ix_certificate_versions_lookup", "certificate_id", "effective_from"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    certificate_id: Mapped[int] = mapped_column(BigId, ForeignKey("certificates.id"))
    version: Mapped[int] = mapped_column(Integer)
    operation: Mapped[str] = mapped_column(String(8))
    effective_from: Mapped[dt.date] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    upload_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("uploads.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # The name of record is kept exactly as sent (IVS and MJ characters included); its JIS X 0213 and
    # JIS X 0208 forms and the characters without a counterpart are derived once at import
    # (pmh.codes.charsets). NULL on versions stored before they existed: derived on read then.
    name_jisx0213: Mapped[str | None] = mapped_column(String(100))
    name_jisx0208: Mapped[str | None] = mapped_column(String(100))
    name_unmapped: Mapped[str | None] = mapped_column(String(300))
    name_kana: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[int] = mapped_column(SmallInteger)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    monthly_cap: Mapped[int | None] = mapped_column(Integer)
    inpatient_cap: Mapped[int | None] = mapped_column(Integer)
    copay_rate: Mapped[int | None] = mapped_column(SmallInteger)
    income_category: Mapped[str | None] = mapped_column(String(50))
    cap_managed: Mapped[bool] = mapped_column(Boolean, default=False)
    diseases: Mapped[str] = mapped_column(Text, default="")
    designated_institutions: Mapped[str] = mapped_column(Text, default="")
    guardian_name: Mapped[str | None] = mapped_column(String(100))
    certification_name: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(String(300))
    not_disclosed: Mapped[bool] = mapped_column(Boolean, default=False)
    always_reimbursement: Mapped[bool] = mapped_column(Boolean, default=False)
    additional_conditions: Mapped[str] = mapped_column(Text, default="")
    certificate_details: Mapped[str] = mapped_column(Text, default="")
    history_key: Mapped[str | None] = mapped_column(String(100))
    """履歴キー of the registration API record that made this version (None from files)."""
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    """When a later upload withdrew this version (取消): kept in the history, never in force again."""
    withdrawn_upload_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("uploads.id"))
    previous_person_digest: Mapped[str | None] = mapped_column(String(64))
    """On a version that changed the certificate's My Number: the digest before it (a withdrawal restores
    it); None on every other version."""


class Upload(TimestampedBase):
    """One upload of certificate records through any door (file, API batch, CLI) and its result."""

    __tablename__ = "uploads"
    __table_args__ = (Index("ix_uploads_content", "municipality_id", "content_digest"),)

    municipality_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"), index=True)
    source: Mapped[str] = mapped_column(String(8))
    filename: Mapped[str | None] = mapped_column(String(255))
    content_digest: Mapped[str] = mapped_column(String(64))
    allow_partial: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    held_for_review: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    actor: Mapped[str] = mapped_column(String(100))


class UploadProblem(Base):
    """One problem found in an upload: row (None for the file itself), column, code, message, value."""

    __tablename__ = "upload_problems"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    upload_id: Mapped[int] = mapped_column(BigId, ForeignKey("uploads.id"), index=True)
    row: Mapped[int | None] = mapped_column(Integer)
    line: Mapped[int | None] = mapped_column(Integer)
    """The line of the file as Excel numbers it (header = 1); null for API batches and the file itself."""
    column: Mapped[str] = mapped_column(String(50))
    code: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[str] = mapped_column(Text, default="")
    pointer: Mapped[str | None] = mapped_column(String(120))
    """RFC 6901 pointer into a registration-API batch (``/3/basicFiveInfo/dateOfBirth``); null for files."""


class LinkReview(TimestampedBase):
    """A certificate version the linking guard held: why, and how staff resolved it."""

    __tablename__ = "link_reviews"

    municipality_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"), index=True)
    certificate_id: Mapped[int] = mapped_column(BigId, ForeignKey("certificates.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    upload_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("uploads.id"))
    reason_codes: Mapped[str] = mapped_column(String(200))
    reasons: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    resolution_note: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class RegisteredCountDate(Base):
    """A reference date whose registered counts (``registered_counts``) are kept up to date.

    Only dates listed here are read from the summary; any other date is counted from the versions.
    """

    __tablename__ = "registered_count_dates"

    reference_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    built_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RegisteredCount(Base):
    """How many people one program registered on a tracked reference date (登録対象者数, the fee basis).

    Kept in the transaction of every change to certificates (uploads, API batches, review decisions)
    so that the fees read one row per program instead of every version (docs/operator.md). A program
    without a row counts 0.
    """

    __tablename__ = "registered_counts"

    reference_date: Mapped[dt.date] = mapped_column(
        Date, ForeignKey("registered_count_dates.reference_date"), primary_key=True
    )
    program_id: Mapped[int] = mapped_column(BigId, ForeignKey("programs.id"), primary_key=True)
    registered: Mapped[int] = mapped_column(Integer, default=0)


class GaijiMapping(Base):
    """A municipality's 外字対応表 entry: a private or non-JIS character and what it stands for."""

    __tablename__ = "gaiji_mappings"
    __table_args__ = (UniqueConstraint("municipality_id", "character"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    municipality_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"))
    character: Mapped[str] = mapped_column(String(8))
    replacement: Mapped[str] = mapped_column(String(16))
