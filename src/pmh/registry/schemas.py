"""Shapes of the registry's API: programs, upload results, certificates as of a date, link reviews."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from pmh.deps import DbId
from pmh.privacy import mask_my_numbers

PayerNumberStr = Annotated[str, Field(min_length=1, max_length=16)]
CertificateTypeIdStr = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[0-9A-Za-z]+$")]
"""機関別受給者証種別ID as the registration API publishes it: up to 50 ASCII letters and digits."""


class ProgramCreate(BaseModel):
    """A program a municipality registers: catalogue code, payer number(s), start, planned recipients."""

    program_code: Annotated[str, Field(min_length=1, max_length=32)]
    payer_numbers: Annotated[list[PayerNumberStr], Field(min_length=1, max_length=20)]
    start_date: dt.date | None = None
    planned_recipients: Annotated[int, Field(ge=0, le=100_000_000)] = 0
    recipient_check_digit: bool | None = Field(
        default=None, description="受給者番号に検証番号があるか（地単のみ省略可。既定: あり）"
    )
    certificate_type_id: CertificateTypeIdStr | None = Field(
        default=None,
        description="機関別受給者証種別ID（登録APIの orgSpecificCertificateTypeId。半角英数50桁以内、自治体内で一意）",
    )


class ProgramRead(BaseModel):
    """A registered program with any warnings to confirm."""

    id: int
    program_code: str
    program_name: str
    payer_numbers: list[str]
    start_date: dt.date
    planned_recipients: int
    recipient_check_digit: bool
    certificate_type_id: str | None = None
    warnings: list[str] = []


class UploadProblemRead(BaseModel):
    """One problem of an upload: row (from 1; null for the file itself), column, code, message, value.

    Problems of a registration-API batch (a top-level array) also carry ``index`` (the record's
    0-based index in the array) and ``pointer`` (RFC 6901 JSON pointer to the field, such as
    ``/3/basicFiveInfo/dateOfBirth``).
    """

    row: int | None
    line: int | None = Field(
        default=None,
        description="ファイルの行番号（見出し行が 1、Excel の行番号と同じ）。API の一括登録とファイル全体の誤りは null",
    )
    column: str
    code: str
    message: str
    value: str = ""
    index: int | None = None
    pointer: str | None = None

    @field_validator("message", "value")
    @classmethod
    def _no_my_number(cls, text: str) -> str:
        """Mask a My Number on the way out too (problems stored before masking was added)."""
        return mask_my_numbers(text)


class UploadResult(BaseModel):
    """The result of an upload through any door."""

    id: int
    status: Literal["applied", "rejected", "duplicate"]
    accepted: int
    rejected: int
    held_for_review: int
    total_rows: int
    error_count: int
    errors: list[UploadProblemRead]
    errors_truncated: bool = False


class CertificateVersionRead(BaseModel):
    """The contents of one version of a certificate."""

    version: int
    operation: str
    effective_from: dt.date
    recorded_at: dt.datetime
    name: str = Field(description="氏名（送信されたとおり。IVS・MJ文字を含む）")
    name_jisx0213: str = Field(description="氏名の JIS X 0213 形（縮退。対応のない文字は〓）")
    name_jisx0208: str = Field(description="氏名の JIS X 0208 形（国税庁 JIS縮退マップ。対応のない文字は〓）")
    name_unmapped: str = Field(description="対応する文字のない文字（例: 'JIS X 0208: U+29E3D'）。ないときは空")
    name_kana: str
    birth_date: dt.date
    sex: int
    valid_from: dt.date
    valid_to: dt.date | None
    monthly_cap: int | None
    inpatient_cap: int | None
    copay_rate: int | None
    income_category: str | None
    cap_managed: bool
    diseases: list[str]
    designated_institutions: list[str]
    guardian_name: str | None
    certification_name: str | None
    address: str | None
    not_disclosed: bool
    always_reimbursement: bool
    additional_conditions: dict[str, str]
    certificate_details: dict[str, str]
    history_key: str | None = None
    withdrawn_at: dt.datetime | None = Field(
        default=None, description="この版が取り消された日時（取消）。取り消された版は有効になりません"
    )


class CertificateRead(BaseModel):
    """A certificate as of a date, with its whole history."""

    payer_number: str
    recipient_number: str
    program_code: str
    link_status: Literal["linked", "held", "rejected"]
    as_of: dt.date
    status: Literal["valid", "expired", "not_yet_valid", "withdrawn"] = Field(
        description="valid / expired / not_yet_valid、すべての版が取り消されたときは withdrawn（in_force は最新の版）"
    )
    in_force: CertificateVersionRead
    history: list[CertificateVersionRead]


class IdentityView(BaseModel):
    """Name and birth date side by side for a reviewer."""

    name: str
    name_kana: str
    birth_date: dt.date


class LinkReviewRead(BaseModel):
    """A held certificate version waiting for (or resolved by) municipal staff."""

    id: int
    payer_number: str
    recipient_number: str
    program_code: str
    version: int
    reason_codes: list[str]
    reasons: list[str]
    status: Literal["open", "linked", "rejected"]
    certificate: IdentityView
    insurance_record: IdentityView | None
    created_at: dt.datetime
    resolved_by: str | None
    resolved_at: dt.datetime | None
    resolution_note: str | None


class LinkReviewResolve(BaseModel):
    """Staff's decision on a held certificate: link it (same person) or reject it."""

    decision: Literal["link", "reject"]
    note: Annotated[str | None, Field(max_length=1000)] = None


class LinkReviewBulk(BaseModel):
    """One decision for several held certificates (each decided and audited on its own, all or none)."""

    ids: Annotated[list[DbId], Field(min_length=1, max_length=500)]
    decision: Literal["link", "reject"]
    note: Annotated[str | None, Field(max_length=1000)] = None


class GaijiEntry(BaseModel):
    """One 外字対応表 entry: the character (or U+XXXX) and the standard text it stands for."""

    character: Annotated[str, Field(min_length=1, max_length=10)]
    replacement: Annotated[str, Field(min_length=1, max_length=16)]


class GaijiTable(BaseModel):
    """A municipality's whole 外字対応表 (replaces the previous one)."""

    mappings: Annotated[list[GaijiEntry], Field(max_length=10_000)]
