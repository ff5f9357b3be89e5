"""The earlier JSON body of ``POST /certificates/batch`` (``{"records": [...], "allowPartial": …}``, pmh's
own field shapes), kept as an alias; the documented body is the registration API's top-level array
(:mod:`pmh.registry.registration`). Validated exactly like the upload file.

Each record is first mapped to the file's column aliases (the common vocabulary), then checked by
the same :class:`~pmh.registry.parsing.RecordValidator`. The models only bound sizes and JSON
types; every rule with a Japanese message lives in the validator. Unknown fields are refused
(``extra="forbid"``): a misspelt ``validTo`` silently dropped would leave a certificate open-ended.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from pmh.errors import FieldError
from pmh.registry.parsing import ProgramRule, RecordValidator
from pmh.registry.rows import CertificateRow, RowProblem

MAX_RECORDS = 10_000
"""The most records one batch may carry."""

_Short = Annotated[str, Field(max_length=64)]
_Text = Annotated[str, Field(max_length=400)]
_Amount = StrictInt | _Short


class _Strict(BaseModel):
    """Base of the batch models: unknown fields are an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class BasicFiveInfo(_Strict):
    """基本5情報: name, kana, address, birth date (ISO 2026-05-15 or 和暦) and sex (1 男, 2 女)."""

    name: _Text | None = None
    nameKana: _Text | None = None
    address: _Text | None = None
    birthDate: _Short | None = None
    sex: StrictInt | _Short | None = None


class AdditionalCondition(_Strict):
    """One 付加条件: a code and its value (file column 付加条件 ``code-value``)."""

    code: _Short
    value: _Text = ""


class CertificationDetail(_Strict):
    """One item printed on the certificate (券面記載事項): its name and value (file ``name=value``)."""

    name: _Short
    value: _Text = ""


class MaxCopaymentAmount(_Strict):
    """The copay cap object (自己負担上限額): monthly and inpatient yen, copay rate in percent, and
    whether the monthly cap is managed across institutions (上限額管理)."""

    monthly: _Amount | None = None
    inpatient: _Amount | None = None
    copayRate: _Amount | None = None
    isCapManaged: bool | None = None


class CertificateRecord(_Strict):
    """One certificate record of the PMH registration API v0.1.1, plus pmh's extensions
    ``operation``, ``diseases`` and ``guardianName``.

    ``operation`` defaults to ``end`` when ``isDeleted`` is true and to ``upsert`` otherwise (add
    when the certificate does not exist, else change). Key fields are optional here so that a
    missing one is reported per record like any other rule, not as a malformed request.
    """

    operation: Literal["add", "change", "end", "withdraw"] | None = None
    myNumber: _Short | None = None
    basicFiveInfo: BasicFiveInfo | None = None
    isNotDisclosed: bool | None = None
    medicalSubsidyInsurerNumber: _Short | None = None
    certificationName: _Text | None = None
    medicalSubsidyRecipientNumber: _Short | None = None
    certificationSubKey: _Text | None = None
    segment: _Text | None = None
    incomeSegment: _Text | None = None
    additionalConditions: Annotated[list[AdditionalCondition], Field(max_length=200)] | None = None
    designatedMedicalInstitutions: Annotated[list[_Short], Field(max_length=1000)] | None = None
    isAlwaysReimbursement: bool | None = None
    maxCopaymentAmount: MaxCopaymentAmount | None = None
    validFrom: _Short | None = None
    validTo: _Short | None = None
    historyKey: _Text | None = None
    isDeleted: bool | None = None
    certificationDetail: Annotated[list[CertificationDetail], Field(max_length=200)] | None = None
    diseases: Annotated[list[_Text], Field(max_length=200)] | None = None
    guardianName: _Text | None = None


class CertificateBatch(_Strict):
    """The body of ``POST /certificates/batch``: 1–10,000 records; all or nothing unless
    ``allowPartial``."""

    records: Annotated[list[CertificateRecord], Field(min_length=1, max_length=MAX_RECORDS)]
    allowPartial: bool = False


def batch_rows(
    batch: CertificateBatch,
    programs: Mapping[str, ProgramRule],
    gaiji_map: Mapping[str, str] | None = None,
) -> Iterator[CertificateRow | RowProblem]:
    """Validate a batch record by record, exactly as the upload file's rows are validated.

    Row numbers are 1-based indexes into ``records``; duplicates of (payer number, recipient
    number) within the batch are reported like duplicates within a file.
    """
    validator = RecordValidator(programs, gaiji_map, allow_upsert=True, row_unit="件目")
    for row, record in enumerate(batch.records, start=1):
        raw, errors = record_values(record, row)
        yield validator.validate(raw, row, extra_errors=errors)


def record_values(record: CertificateRecord, row: int) -> tuple[dict[str, str], list[FieldError]]:
    """Map a record to ``{column alias: text}`` as the file would carry it.

    Returns the mapping and the problems that only JSON can have: list items holding the file's
    separators (``;``, and ``-`` in a condition code or ``=`` in an item name), which the file
    syntax could not represent, and ``isDeleted`` contradicting ``operation``. A column with such
    a problem is left out of the mapping so it is not reported twice.
    """
    raw: dict[str, str] = {}
    errors: list[FieldError] = []

    def put(alias: str, value: str | int | bool | None) -> None:
        if value is None:
            return
        if isinstance(value, bool):
            raw[alias] = "1" if value else "0"
        else:
            raw[alias] = str(value)

    if record.isDeleted and record.operation not in (None, "end", "withdraw"):
        message = f"isDeleted が true の記録の operation は end か withdraw です（operation「{record.operation}」）"
        errors.append(FieldError("処理区分", "invalid_choice", message, row))
    put("op", record.operation or ("end" if record.isDeleted else "upsert"))
    put("payer_number", record.medicalSubsidyInsurerNumber)
    put("recipient_number", record.medicalSubsidyRecipientNumber)
    put("my_number", record.myNumber)
    info = record.basicFiveInfo
    if info is not None:
        put("name", info.name)
        put("name_kana", info.nameKana)
        put("birth_date", info.birthDate)
        put("sex", info.sex)
        put("address", info.address)
    put("valid_from", record.validFrom)
    put("valid_to", record.validTo)
    cap = record.maxCopaymentAmount
    if cap is not None:
        put("monthly_cap", cap.monthly)
        put("inpatient_cap", cap.inpatient)
        put("copay_rate", cap.copayRate)
        put("cap_managed", cap.isCapManaged)
    put("income_category", record.incomeSegment)
    put("guardian_name", record.guardianName)
    put("certification_name", record.certificationName)
    put("not_disclosed", record.isNotDisclosed)
    put("always_reimbursement", record.isAlwaysReimbursement)
    put("sub_key", record.certificationSubKey)
    put("segment", record.segment)
    put("history_key", record.historyKey)
    if record.diseases is not None:
        items = [(item, "") for item in record.diseases]
        _put_items(raw, errors, row, "diseases", "疾病名", items, "", "")
    if record.designatedMedicalInstitutions is not None:
        items = [(item, "") for item in record.designatedMedicalInstitutions]
        _put_items(raw, errors, row, "designated_institutions", "指定医療機関コード", items, "", "")
    if record.additionalConditions is not None:
        items = [(item.code, item.value) for item in record.additionalConditions]
        _put_items(raw, errors, row, "additional_conditions", "付加条件", items, "-", "コード")
    if record.certificationDetail is not None:
        items = [(item.name, item.value) for item in record.certificationDetail]
        _put_items(raw, errors, row, "certificate_details", "券面記載事項", items, "=", "項目名")
    return raw, errors


def _put_items(
    raw: dict[str, str],
    errors: list[FieldError],
    row: int,
    alias: str,
    header: str,
    items: list[tuple[str, str]],
    separator: str,
    key_label: str,
) -> None:
    """Join list items (``key`` or ``key<separator>value``) with ``;`` as the file column would.

    An item that holds a character the file syntax reserves is an error instead.
    """
    parts: list[str] = []
    for position, (key, value) in enumerate(items, start=1):
        reserved = ";" + separator
        if any(char in key for char in reserved):
            shown = "「;」" if not separator else f"「{separator}」「;」"
            label = f"の{key_label}" if key_label else ""
            message = f"{header}（{position}件目）{label}に{shown}は使えません"
            errors.append(FieldError(header, "invalid_syntax", message, row))
            return
        if ";" in value:
            message = f"{header}（{position}件目）の値に「;」は使えません"
            errors.append(FieldError(header, "invalid_syntax", message, row))
            return
        parts.append(f"{key}{separator}{value}" if separator else key)
    if parts:
        raw[alias] = ";".join(parts)
