"""The Digital Agency's 医療費助成対象者情報登録API (自治体) 0.1.1 body, as ``POST /certificates/batch`` takes it.

The body is a top-level JSON array of records. Each record is checked here against the published
field list — names, JSON types, ``required`` flags, lengths and character classes — and then mapped
to the upload file's column aliases and validated by the same
:class:`~pmh.registry.parsing.RecordValidator` as a file row, so both doors store identical
certificates. Every problem names its column (the file's Japanese header, or the JSON field for
fields the file has no column for) and :func:`pointer` turns it into an RFC 6901 JSON pointer
(``/3/basicFiveInfo/dateOfBirth``).

What the published page does not show (the inner shapes of ``maxCopaymentAmount`` and
``certificationDetail``, the separator of ``designatedMedicalInstitutions``, the lengths of
``certificationSubKey``, ``segment``, ``incomeSegment`` and ``historyKey``) is pmh's choice,
documented in docs/upload-format.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pmh.errors import FieldError, InvalidInput
from pmh.registry.parsing import ROW_FIELD, ProgramRule, RecordValidator
from pmh.registry.rows import CertificateRow, RowProblem

MAX_RECORDS = 10_000
"""The most records one batch may carry."""

TYPE_ID_FIELD = "機関別受給者証種別ID"

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ALNUM = re.compile(r"[0-9A-Za-z]+")
_DIGITS = re.compile(r"[0-9]+")

_TEXT_CAP = 1000
"""A bound on any string the page gives no length for (the file rules then apply their own)."""


@dataclass(frozen=True)
class _Field:
    """One field of the published record: JSON name, column it maps to, type and limits."""

    name: str
    column: str
    kind: str  # "string", "boolean", "object", "array", "date", "flag01"
    required: bool = False
    max_length: int | None = None
    exact_length: int | None = None
    chars: re.Pattern[str] | None = None
    chars_label: str = ""


_RECORD_FIELDS: tuple[_Field, ...] = (
    _Field("orgSpecificCertificateTypeId", TYPE_ID_FIELD, "string", True, 50, None, _ALNUM, "半角英数"),
    _Field("myNumber", "個人番号", "string", True, None, 12, _DIGITS, "半角数字"),
    _Field("basicFiveInfo", "基本5情報", "object", True),
    _Field("isNotDisclosed", "非開示", "boolean", True),
    _Field("medicalSubsidyInsurerNumber", "公費負担者番号", "string", False, None, 8, _DIGITS, "半角数字"),
    _Field("certificationName", "証区分名称", "string", True, 100),
    _Field("medicalSubsidyRecipientNumber", "公費受給者番号", "string", False, 30),
    _Field("certificationSubKey", "証サブキー", "string", False, 50),
    _Field("segment", "区分", "string", False, 50),
    _Field("incomeSegment", "所得区分", "string", False, 50),
    _Field("additionalConditions", "付加条件", "string", False, _TEXT_CAP * 10),
    _Field("designatedMedicalInstitutions", "指定医療機関コード", "string", False, _TEXT_CAP * 2),
    _Field("isAlwaysReimbursement", "常に償還払い", "flag01", True),
    _Field("maxCopaymentAmount", "自己負担上限額", "object"),
    _Field("validFrom", "有効開始日", "date", True),
    _Field("validTo", "有効終了日", "date", True),
    _Field("historyKey", "履歴キー", "string", True, 100),
    _Field("isDeleted", "処理区分", "boolean", True),
    _Field("certificationDetail", "券面記載事項", "array", True),
    # pmh extensions (not in the published page; documented as such)
    _Field("diseases", "疾病名", "array"),
    _Field("guardianName", "保護者氏名", "string", False, 100),
)
_BY_NAME = {spec.name: spec for spec in _RECORD_FIELDS}

_FIVE_FIELDS: tuple[_Field, ...] = (
    _Field("name", "氏名", "string", True, 100),
    _Field("nameKana", "氏名カナ", "string", True, 100),
    _Field("address", "住所", "string", False, 200),
    _Field("dateOfBirth", "生年月日", "date", True),
    _Field("sex", "性別", "string", True, 1),
)
_FIVE_BY_NAME = {spec.name: spec for spec in _FIVE_FIELDS}

_CAP_FIELDS: dict[str, tuple[str, str]] = {
    "monthly": ("自己負担上限額", "monthly_cap"),
    "inpatient": ("入院上限額", "inpatient_cap"),
    "copayRate": ("負担割合", "copay_rate"),
    "isCapManaged": ("上限額管理", "cap_managed"),
}

POINTERS: dict[str, str] = {
    ROW_FIELD: "",
    "基本5情報": "/basicFiveInfo",
    **{spec.column: f"/{spec.name}" for spec in _RECORD_FIELDS if spec.column != "基本5情報"},
    **{spec.column: f"/basicFiveInfo/{spec.name}" for spec in _FIVE_FIELDS},
    **{column: f"/maxCopaymentAmount/{name}" for name, (column, _) in _CAP_FIELDS.items()},
}
"""Column (Japanese header, as problems name it) → the field's path inside one record."""


def pointer(index: int, column: str) -> str:
    """Return the JSON pointer of a problem: ``/<index>`` plus the field's path.

    A column that already is a path (``/maxCopaymentAmount/extra`` for an unknown field) is used
    as it is; an unknown column points at the record.
    """
    path = column if column.startswith("/") else POINTERS.get(column, "")
    return f"/{index}{path}"


def records_of(body: Any) -> list[Any]:
    """Return the records of a registration-API body, or refuse a body that is not 1–10,000 of them."""
    if not isinstance(body, list):
        message = "リクエストボディは受給者証の記録の配列（JSON array）です"
        raise InvalidInput(message, [FieldError("", "invalid_type", message)])
    if not body:
        message = "記録が1件もありません"
        raise InvalidInput(message, [FieldError("", "empty", message)])
    if len(body) > MAX_RECORDS:
        message = f"1回に登録できる記録は{MAX_RECORDS:,}件までです（{len(body):,}件）"
        raise InvalidInput(message, [FieldError("", "too_many_records", message)])
    return body


def refuse_nul(body: Any) -> None:
    """Refuse a body with a NUL character anywhere (no record needs one, and PostgreSQL text cannot hold it).

    The body guard checks small bodies; the batch is a large body, so it is checked here, naming the
    JSON pointer of the first NUL found.
    """
    where = _nul_at(body, "")
    if where is not None:
        message = f"NUL 文字（U+0000）を含む値は受け付けません（{where or '/'}）"
        raise InvalidInput(message, [FieldError(where or "/", "nul_character", message)])


def _nul_at(value: Any, pointer: str) -> str | None:
    if isinstance(value, str):
        return pointer if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            step = "/" + str(key).replace("~", "~0").replace("/", "~1")
            if "\x00" in str(key):
                return pointer + step
            found = _nul_at(item, pointer + step)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_at(item, f"{pointer}/{index}")
            if found is not None:
                return found
    return None


def registration_rows(
    records: Sequence[Any],
    programs: Mapping[str, ProgramRule],
    certificate_types: Mapping[str, str],
    gaiji_map: Mapping[str, str] | None = None,
) -> Iterator[CertificateRow | RowProblem]:
    """Validate registration-API records one by one, exactly as upload-file rows are validated.

    ``certificate_types`` maps the municipality's 機関別受給者証種別ID to the program code. Row
    numbers are 1-based (record index + 1), as for file rows.
    """
    validator = RecordValidator(programs, gaiji_map, allow_upsert=True, row_unit="件目")
    for index, record in enumerate(records):
        row = index + 1
        if not isinstance(record, dict):
            message = f"{row}件目の記録がJSONオブジェクトではありません"
            yield RowProblem(row, (FieldError(ROW_FIELD, "invalid_type", message, row),))
            continue
        raw, errors, shown = record_values(record, row, programs, certificate_types)
        result = validator.validate(raw, row, extra_errors=errors)
        if not errors:
            yield result
            continue
        # A field this module already refused is not reported a second time by the validator.
        refused = {error.field for error in errors}
        later = result.errors[len(errors) :] if isinstance(result, RowProblem) else ()
        merged = (*errors, *(error for error in later if error.field not in refused))
        values = dict(result.values) if isinstance(result, RowProblem) else {}
        values.update((error.field, shown[error.field]) for error in errors if error.field in shown)
        yield RowProblem(row, merged, values)


def record_values(
    record: Mapping[str, Any],
    row: int,
    programs: Mapping[str, ProgramRule],
    certificate_types: Mapping[str, str],
) -> tuple[dict[str, str], list[FieldError], dict[str, str]]:
    """Check one record against the published field list and map it to ``{column alias: text}``.

    Returns the mapping, the problems found (a refused field is left out of the mapping) and the
    refused values as received, for the error report (a My Number masked).
    """
    reader = _Reader(row)
    reader.check_object(record, _BY_NAME, "")
    five = reader.take(record, _BY_NAME["basicFiveInfo"])
    if isinstance(five, dict):
        reader.check_object(five, _FIVE_BY_NAME, "/basicFiveInfo")
    raw: dict[str, str] = {}

    def put(alias: str, value: Any) -> None:
        if value is None:
            return
        raw[alias] = ("1" if value else "0") if isinstance(value, bool) else str(value)

    deleted = reader.take(record, _BY_NAME["isDeleted"])
    put("op", "end" if deleted is True else "upsert")
    put("my_number", reader.take(record, _BY_NAME["myNumber"]))
    if isinstance(five, dict):
        put("name", reader.take(five, _FIVE_BY_NAME["name"]))
        put("name_kana", reader.take(five, _FIVE_BY_NAME["nameKana"]))
        put("address", reader.take(five, _FIVE_BY_NAME["address"]))
        put("birth_date", reader.take(five, _FIVE_BY_NAME["dateOfBirth"]))
        put("sex", reader.take(five, _FIVE_BY_NAME["sex"]))
    put("not_disclosed", reader.take(record, _BY_NAME["isNotDisclosed"]))
    put("certification_name", reader.take(record, _BY_NAME["certificationName"]))
    put("recipient_number", reader.take(record, _BY_NAME["medicalSubsidyRecipientNumber"]))
    put("sub_key", reader.take(record, _BY_NAME["certificationSubKey"]))
    put("segment", reader.take(record, _BY_NAME["segment"]))
    put("income_category", reader.take(record, _BY_NAME["incomeSegment"]))
    conditions = reader.take(record, _BY_NAME["additionalConditions"])
    # The page writes the joining hyphen as ‐ (U+2010); both it and "-" are accepted.
    put("additional_conditions", conditions.replace("\u2010", "-") if isinstance(conditions, str) else None)
    put("designated_institutions", reader.take(record, _BY_NAME["designatedMedicalInstitutions"]))
    put("always_reimbursement", reader.take(record, _BY_NAME["isAlwaysReimbursement"]))
    put("valid_from", reader.take(record, _BY_NAME["validFrom"]))
    put("valid_to", reader.take(record, _BY_NAME["validTo"]))
    put("history_key", reader.take(record, _BY_NAME["historyKey"]))
    put("guardian_name", reader.take(record, _BY_NAME["guardianName"]))
    cap = reader.take(record, _BY_NAME["maxCopaymentAmount"])
    if isinstance(cap, dict):
        for alias, value in reader.cap_values(cap).items():
            put(alias, value)
    details = reader.take(record, _BY_NAME["certificationDetail"])
    if isinstance(details, list):
        put("certificate_details", reader.detail_items(details))
    diseases = reader.take(record, _BY_NAME["diseases"])
    if isinstance(diseases, list):
        put("diseases", reader.disease_items(diseases))
    payer = reader.take(record, _BY_NAME["medicalSubsidyInsurerNumber"])
    type_id = reader.take(record, _BY_NAME["orgSpecificCertificateTypeId"])
    put("payer_number", reader.resolve_payer(type_id, payer, programs, certificate_types))
    return raw, reader.errors, reader.shown


class _Reader:
    """Collects one record's problems while its fields are read."""

    def __init__(self, row: int) -> None:
        self.row = row
        self.errors: list[FieldError] = []
        self.shown: dict[str, str] = {}
        self._refused: set[str] = set()

    def fail(self, column: str, code: str, message: str, value: Any = None) -> None:
        if column in self._refused:
            return
        self._refused.add(column)
        self.errors.append(FieldError(column, code, message, self.row))
        if value is not None:
            text = value if isinstance(value, str) else repr(value)
            self.shown[column] = "*" * len(text) if column == "個人番号" else text[:200]

    def check_object(self, data: Mapping[str, Any], fields: Mapping[str, _Field], base: str) -> None:
        """Refuse unknown members: a misspelt ``validTo`` silently dropped would leave a certificate open."""
        for key in data:
            if key not in fields:
                path = f"{base}/{key}"[:50]
                self.fail(path, "unknown_field", f"{path[1:]} は登録APIにない項目です", None)

    def take(self, data: Mapping[str, Any], spec: _Field) -> Any:
        """Return a field's value when it has the published type and limits, else ``None`` (and a problem)."""
        value = data.get(spec.name)
        label = f"{spec.column}（{spec.name}）"
        if value is None:
            if spec.required:
                self.fail(spec.column, "required", f"{label}は必須です")
            return None
        expected = {
            "string": str,
            "date": str,
            "flag01": str,
            "boolean": bool,
            "object": dict,
            "array": list,
        }[spec.kind]
        if not isinstance(value, expected):
            names = {"string": "文字列", "date": "文字列（YYYY-MM-DD）", "flag01": '文字列（"0" または "1"）'}
            names |= {"boolean": "真偽値（true/false）", "object": "オブジェクト", "array": "配列"}
            self.fail(spec.column, "invalid_type", f"{label}は{names[spec.kind]}で指定してください", value)
            return None
        if isinstance(value, str):
            return self._checked_text(spec, label, value)
        return value

    def _checked_text(self, spec: _Field, label: str, value: str) -> str | None:
        if spec.kind == "date" and not _ISO_DATE.fullmatch(value):
            message = f"{label}は YYYY-MM-DD 形式の日付で指定してください（入力「{value[:40]}」）"
            self.fail(spec.column, "invalid_date_format", message, value)
            return None
        if spec.kind == "flag01" and value not in ("0", "1"):
            self.fail(spec.column, "invalid_choice", f'{label}は "0" または "1" です（入力「{value[:40]}」）', value)
            return None
        if spec.exact_length is not None and len(value) != spec.exact_length:
            message = f"{label}は{spec.exact_length}桁で指定してください（入力は{len(value)}桁）"
            self.fail(spec.column, "invalid_length", message, value)
            return None
        limit = spec.max_length if spec.max_length is not None else _TEXT_CAP
        if len(value) > limit:
            message = f"{label}は{limit}桁以内で指定してください（入力は{len(value)}桁）"
            self.fail(spec.column, "too_long", message, value)
            return None
        if spec.chars is not None and not spec.chars.fullmatch(value):
            message = f"{label}は{spec.chars_label}で指定してください（入力「{value[:40]}」）"
            self.fail(spec.column, "invalid_characters", message, value)
            return None
        return value

    def cap_values(self, cap: Mapping[str, Any]) -> dict[str, Any]:
        """Read ``maxCopaymentAmount`` (pmh's shape: monthly, inpatient, copayRate integers; isCapManaged boolean)."""
        values: dict[str, Any] = {}
        for key in cap:
            if key not in _CAP_FIELDS:
                path = f"/maxCopaymentAmount/{key}"[:50]
                self.fail(path, "unknown_field", f"{path[1:]} は自己負担上限額の項目ではありません")
        for key, (column, alias) in _CAP_FIELDS.items():
            value = cap.get(key)
            if value is None:
                continue
            if key == "isCapManaged":
                if not isinstance(value, bool):
                    message = f"{column}（{key}）は真偽値（true/false）で指定してください"
                    self.fail(column, "invalid_type", message, value)
                    continue
            elif isinstance(value, bool) or not isinstance(value, int | str):
                self.fail(column, "invalid_type", f"{column}（{key}）は整数で指定してください", value)
                continue
            elif isinstance(value, str) and len(value) > 64:
                self.fail(column, "too_long", f"{column}（{key}）が長すぎます", value)
                continue
            values[alias] = value
        return values

    def detail_items(self, details: list[Any]) -> str | None:
        """Join ``certificationDetail`` items ``{name, value}`` into the file's ``name=value;…``."""
        parts: list[str] = []
        column = "券面記載事項"
        for position, item in enumerate(details, start=1):
            if (
                not isinstance(item, dict)
                or set(item) - {"name", "value"}
                or not isinstance(item.get("name"), str)
                or not isinstance(item.get("value", ""), str)
            ):
                message = (
                    f"券面記載事項（certificationDetail）の{position}件目は {{name, value}}（文字列）で指定してください"
                )
                self.fail(column, "invalid_type", message, item)
                return None
            name, value = item["name"], item.get("value", "")
            if not name or any(char in name for char in "=;") or ";" in value:
                message = (
                    f"券面記載事項（{position}件目）の項目名は空にできず、「=」「;」は使えません（値に「;」も不可）"
                )
                self.fail(column, "invalid_syntax", message, item)
                return None
            parts.append(f"{name}={value}")
        return ";".join(parts) or None

    def disease_items(self, diseases: list[Any]) -> str | None:
        """Join the ``diseases`` extension (strings) into the file's ``;``-separated list."""
        if any(not isinstance(item, str) or ";" in item for item in diseases):
            message = "疾病名（diseases）は「;」を含まない文字列の配列で指定してください"
            self.fail("疾病名", "invalid_type", message, diseases)
            return None
        return ";".join(diseases) or None

    def resolve_payer(
        self,
        type_id: str | None,
        payer: str | None,
        programs: Mapping[str, ProgramRule],
        certificate_types: Mapping[str, str],
    ) -> str | None:
        """Resolve the record's program through its 機関別受給者証種別ID and return its 公費負担者番号.

        The payer number given must belong to that program; when none is given and the program has
        exactly one, that one is used.
        """
        if type_id is None:
            return payer
        program_code = certificate_types.get(type_id)
        if program_code is None:
            message = (
                f"機関別受給者証種別ID（orgSpecificCertificateTypeId）「{type_id}」は登録されていません"
                "（制度の登録時に certificate_type_id として登録してください）"
            )
            self.fail(TYPE_ID_FIELD, "unknown_certificate_type", message, type_id)
            return payer
        owned = sorted(number for number, rule in programs.items() if rule.program_code == program_code)
        if payer is None:
            if len(owned) == 1:
                return owned[0]
            message = "公費負担者番号（medicalSubsidyInsurerNumber）は、制度に公費負担者番号が複数あるため必須です"
            self.fail("公費負担者番号", "required", message)
            return None
        if payer in programs and payer not in owned:
            message = (
                f"公費負担者番号「{payer}」は機関別受給者証種別ID「{type_id}」の制度のものではありません"
                f"（{'・'.join(owned) or 'なし'}）"
            )
            self.fail("公費負担者番号", "program_mismatch", message, payer)
            return None
        return payer


def _schema_of(spec: _Field) -> dict[str, Any]:
    kinds: dict[str, dict[str, Any]] = {
        "string": {"type": "string"},
        "date": {"type": "string", "format": "date"},
        "flag01": {"type": "string", "enum": ["0", "1"]},
        "boolean": {"type": "boolean"},
        "object": {"type": "object"},
        "array": {"type": "array"},
    }
    schema = dict(kinds[spec.kind], description=spec.column)
    if spec.max_length is not None and spec.kind == "string":
        schema["maxLength"] = spec.max_length
    if spec.exact_length is not None:
        schema["minLength"] = schema["maxLength"] = spec.exact_length
    return schema


SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_RECORDS,
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": [spec.name for spec in _RECORD_FIELDS if spec.required],
        "properties": {
            **{spec.name: _schema_of(spec) for spec in _RECORD_FIELDS},
            "basicFiveInfo": {
                "type": "object",
                "description": "基本5情報",
                "additionalProperties": False,
                "required": [spec.name for spec in _FIVE_FIELDS if spec.required],
                "properties": {spec.name: _schema_of(spec) for spec in _FIVE_FIELDS},
            },
            "maxCopaymentAmount": {
                "type": "object",
                "description": "自己負担上限額（内部の形は pmh の選択: docs/upload-format.md）",
                "additionalProperties": False,
                "properties": {
                    "monthly": {"type": ["integer", "string"]},
                    "inpatient": {"type": ["integer", "string"]},
                    "copayRate": {"type": ["integer", "string"]},
                    "isCapManaged": {"type": "boolean"},
                },
            },
            "certificationDetail": {
                "type": "array",
                "description": "受給者証券面項目（内部の形は pmh の選択: {name, value}）",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
                },
            },
        },
    },
}
"""JSON Schema of the body, for the OpenAPI document (the checks above are what enforce it)."""
