"""The certificate row every upload path produces, and the column table of the upload file.

The upload file (docs/upload-format.md) and the JSON batch (自動連携, §2) both end up as
:class:`CertificateRow` — or :class:`RowProblem` when a record breaks a rule. The column aliases
of :data:`COLUMNS` are the common vocabulary: the batch maps each JSON field to an alias first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, get_args

from pmh.errors import FieldError

Operation = Literal["add", "change", "end", "upsert", "withdraw"]
"""処理区分: 1 新規 (add), 2 変更 (change), 3 終了 (end), 4 取消 (withdraw: the version named by 履歴キー
is withdrawn, as if never issued); ``upsert`` only from the JSON batch."""

OPERATIONS: tuple[Operation, ...] = get_args(Operation)

OPERATION_LABELS: dict[str, str] = {
    "add": "新規",
    "change": "変更",
    "end": "終了",
    "upsert": "登録（新規または変更）",
    "withdraw": "取消",
}
"""The Japanese name of each operation, as staff know it."""

ColumnKind = Literal[
    "op",
    "payer",
    "recipient",
    "my_number",
    "text",
    "kana",
    "date",
    "sex",
    "amount",
    "percent",
    "flag",
    "list",
    "institutions",
    "conditions",
    "details",
]
"""How a column's value is read and checked."""

_ALL_OPS: frozenset[Operation] = frozenset(OPERATIONS)
_NEW: frozenset[Operation] = frozenset({"add", "upsert"})
_NEW_OR_CHANGE: frozenset[Operation] = frozenset({"add", "change", "upsert"})
_END: frozenset[Operation] = frozenset({"end"})
_WITHDRAW: frozenset[Operation] = frozenset({"withdraw"})
_NEVER: frozenset[Operation] = frozenset()


@dataclass(frozen=True)
class Column:
    """One column of the upload file: its Japanese header, English alias, which operations need it,
    how it is read, and its limits.

    ``max_length`` counts characters after normalisation — of the whole value, or of each item for
    list columns; ``max_items`` bounds list columns.
    """

    header: str
    alias: str
    kind: ColumnKind
    required_for: frozenset[Operation] = _NEVER
    max_length: int | None = None
    max_items: int | None = None

    @property
    def required_in_header(self) -> bool:
        """Whether a file without this column is refused as a whole (every operation needs it)."""
        return self.required_for == _ALL_OPS


COLUMNS: tuple[Column, ...] = (
    Column("処理区分", "op", "op", _ALL_OPS),
    Column("公費負担者番号", "payer_number", "payer", _ALL_OPS),
    Column("公費受給者番号", "recipient_number", "recipient", _ALL_OPS),
    Column("個人番号", "my_number", "my_number", _NEW),
    Column("氏名", "name", "text", _NEW, max_length=100),
    Column("氏名カナ", "name_kana", "kana", _NEW, max_length=100),
    Column("生年月日", "birth_date", "date", _NEW),
    Column("性別", "sex", "sex", _NEW),
    Column("有効開始日", "valid_from", "date", _NEW_OR_CHANGE),
    Column("有効終了日", "valid_to", "date", _END),
    Column("自己負担上限額", "monthly_cap", "amount"),
    Column("入院上限額", "inpatient_cap", "amount"),
    Column("負担割合", "copay_rate", "percent"),
    Column("所得区分", "income_category", "text", max_length=50),
    Column("上限額管理", "cap_managed", "flag"),
    Column("疾病名", "diseases", "list", max_length=100, max_items=50),
    Column("指定医療機関コード", "designated_institutions", "institutions", max_items=100),
    Column("保護者氏名", "guardian_name", "text", max_length=100),
    Column("証区分名称", "certification_name", "text", max_length=100),
    Column("住所", "address", "text", max_length=200),
    Column("非開示", "not_disclosed", "flag"),
    Column("常に償還払い", "always_reimbursement", "flag"),
    Column("付加条件", "additional_conditions", "conditions", max_length=100, max_items=50),
    Column("券面記載事項", "certificate_details", "details", max_length=200, max_items=50),
)
"""The 24 columns of the upload file, in the order of docs/upload-format.md."""

API_ONLY_COLUMNS: tuple[Column, ...] = (
    Column("証サブキー", "sub_key", "text", max_length=50),
    Column("区分", "segment", "text", max_length=50),
    Column("履歴キー", "history_key", "text", _WITHDRAW, max_length=100),
)
"""Fields of the PMH registration API that have no file column (certificationSubKey, segment,
historyKey); they are read like text columns and carried on the row for the service."""

COLUMN_BY_ALIAS: dict[str, Column] = {column.alias: column for column in COLUMNS + API_ONLY_COLUMNS}
COLUMN_BY_HEADER: dict[str, Column] = {column.header: column for column in COLUMNS + API_ONLY_COLUMNS}

IDENTITY_ALIASES: frozenset[str] = frozenset({"my_number", "name", "name_kana", "birth_date", "sex"})
"""Columns that a 変更 row leaves unchanged when it leaves them empty (see :class:`CertificateRow`)."""


@dataclass(frozen=True)
class CertificateRow:
    """One valid certificate record (受給者証) from a file row or a JSON batch record.

    ``row`` is the 1-based data row (file) or record index (batch). Values are normalised: digits
    ASCII, kana full-width katakana, spaces folded. ``my_number`` (個人番号) is plain here, in memory
    only — the service hashes it — and is kept out of ``repr``.

    ``present`` holds the aliases of the columns that were non-empty in the input. For 変更 the
    service keeps the previous value of an identity column (my_number, name, name_kana, birth_date,
    sex) that is not present; every other column replaces the previous version as given, so an
    empty 自己負担上限額 means "no cap" from 有効開始日 on. For 終了 only 有効終了日 is applied.
    """

    row: int
    op: Operation
    payer_number: str
    recipient_number: str
    my_number: str | None = field(repr=False)
    name: str | None
    name_kana: str | None
    birth_date: date | None
    sex: int | None
    valid_from: date | None
    valid_to: date | None
    monthly_cap: int | None
    inpatient_cap: int | None
    copay_rate: int | None
    income_category: str | None
    cap_managed: bool
    diseases: tuple[str, ...]
    designated_institutions: tuple[str, ...]
    guardian_name: str | None
    certification_name: str | None
    address: str | None
    not_disclosed: bool
    always_reimbursement: bool
    additional_conditions: tuple[tuple[str, str], ...]
    certificate_details: tuple[tuple[str, str], ...]
    present: frozenset[str]
    sub_key: str | None = None
    segment: str | None = None
    history_key: str | None = None
    line: int | None = None
    """The file line the record starts on, when it is not ``row + 1`` (a quoted value spanning lines)."""

    @property
    def key(self) -> tuple[str, str]:
        """Return what identifies the certificate: (公費負担者番号, 公費受給者番号)."""
        return (self.payer_number, self.recipient_number)

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> CertificateRow:
        """Build a row from a dict holding every field, taking the dict over as the row's storage.

        The validators build a million rows per upload; the generated ``__init__`` of a frozen
        dataclass sets 29 fields one ``object.__setattr__`` at a time, several times slower than
        this. The caller must pass every field (start from :data:`ROW_DEFAULTS`) and not keep
        the dict.
        """
        row = object.__new__(cls)
        object.__setattr__(row, "__dict__", values)
        return row


ROW_DEFAULTS: dict[str, Any] = {
    "my_number": None,
    "name": None,
    "name_kana": None,
    "birth_date": None,
    "sex": None,
    "valid_from": None,
    "valid_to": None,
    "monthly_cap": None,
    "inpatient_cap": None,
    "copay_rate": None,
    "income_category": None,
    "cap_managed": False,
    "diseases": (),
    "designated_institutions": (),
    "guardian_name": None,
    "certification_name": None,
    "address": None,
    "not_disclosed": False,
    "always_reimbursement": False,
    "additional_conditions": (),
    "certificate_details": (),
    "sub_key": None,
    "segment": None,
    "history_key": None,
}
"""The value of each optional :class:`CertificateRow` field when its column is empty."""


@dataclass(frozen=True)
class RowProblem:
    """Every problem found in one row (or batch record), and the values as received.

    ``errors`` name the column by its Japanese header in ``FieldError.field``. ``values`` maps the
    header of each column named in ``errors`` — plus the two key columns when given — to the value
    as received, for the error report; a 個人番号 is masked (``*`` per character), never echoed.
    """

    row: int
    errors: tuple[FieldError, ...]
    values: dict[str, str] = field(default_factory=dict)
    line: int | None = None
    """The file line the record starts on, when it is not ``row + 1`` (a quoted value spanning lines)."""

    @property
    def codes(self) -> tuple[str, ...]:
        """Return the error codes in order (handy in tests and summaries)."""
        return tuple(error.code for error in self.errors)

    def as_dicts(self) -> list[dict[str, Any]]:
        """Return one report line per error: row, field, code, message and the value as received."""
        return [
            {**error.as_dict(), "row": self.row, "value": self.values.get(error.field, "")} for error in self.errors
        ]
