"""Reading the certificate upload file (受給者証データ, 手動連携) and validating its records.

:func:`read_certificates` streams a CSV file row by row in bounded memory and yields a
:class:`~pmh.registry.rows.CertificateRow` for each valid row and a
:class:`~pmh.registry.rows.RowProblem` for each invalid one. The JSON batch (``batch.py``) feeds
the same :class:`RecordValidator`, so both paths apply exactly the same rules. See
``docs/upload-format.md`` for the format, every error code and the choices made here.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from pmh.codes import (
    DateFormatError,
    NumberKind,
    check_number,
    hiragana_to_katakana,
    is_katakana,
    modulus10_weight21_check_digit,
    my_number_check_digit,
    normalize_text,
    parse_date,
)
from pmh.codes.charsets import is_han, is_selector, misplaced_selectors
from pmh.db import utcnow
from pmh.errors import FieldError, InvalidInput
from pmh.registry.rows import (
    API_ONLY_COLUMNS,
    COLUMN_BY_HEADER,
    COLUMNS,
    OPERATION_LABELS,
    ROW_DEFAULTS,
    CertificateRow,
    Column,
    Operation,
    RowProblem,
)

__all__ = [
    "FILE_FIELD",
    "HEAD_SIZE",
    "MAX_LINE_BYTES",
    "ROW_FIELD",
    "ProgramRule",
    "RecordValidator",
    "UploadFileError",
    "detect_encoding",
    "read_certificates",
    "validate_record",
]

HEAD_SIZE = 64 * 1024
"""How many bytes at the start of a file decide its encoding."""

MAX_LINE_BYTES = 1024 * 1024
"""The longest physical line accepted; a longer one refuses the file (it is not a certificate row)."""

ROW_FIELD = "行全体"
"""``FieldError.field`` of a problem that concerns a whole row rather than one column."""

FILE_FIELD = "ファイル"
"""``FieldError.field`` of a problem that concerns the whole file."""

_MAX_AMOUNT = 99_999_999
_MAX_COPAY_RATE = 30
_LOCAL_RECIPIENT_MAX = 30
JST = ZoneInfo("Asia/Tokyo")


def today_in_japan() -> date:
    """Return today's date in Japan, from :func:`pmh.db.utcnow` (never the server's local date)."""
    return utcnow().astimezone(JST).date()


_CACHE_LIMIT = 50_000  # words of names kept by _normalize and institution codes
_NUMBER_LENGTHS: dict[str, tuple[int, ...]] = {"payer": (8,), "recipient": (7,), "my_number": (12,)}

# A value matching _PLAIN_ASCII or _NORMAL_FORM is exactly what normalize_text would return, so the
# call can be skipped: the classes leave out every character normalize_text folds or removes
# (spaces of any kind, full-width ASCII, half-width kana and voicing marks, U+2212, U+200B, U+FEFF),
# control characters, lone surrogates and the Private Use Area. A property test pins the equivalence.
_PLAIN_ASCII = re.compile(r"[!-~]+(?: [!-~]+)*")
_NORMAL_CHAR = r"[^\s\x00-\x1f\x7f-\x9f\u200b\u2212\u3099\u309a\ud800-\udfff\ue000-\uf8ff\ufeff\uff01-\uff9f]"
_NORMAL_FORM = re.compile(f"{_NORMAL_CHAR}+(?: {_NORMAL_CHAR}+)*")
_KATAKANA_FORM = re.compile(r"[\u30a1-\u30fe]+(?: [\u30a1-\u30fe]+)*")
_KATAKANA_LETTER = re.compile(r"[\u30a1-\u30fa\u30fd\u30fe]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\udc80-\udcff]")
_UNDECODED = re.compile(r"[\udc80-\udcff\x80\uf8f0-\uf8f3]")
_PRIVATE_USE = re.compile(r"[\ue000-\uf8ff\U000f0000-\U0010ffff]")
_AMOUNT = re.compile(r"(-?)(\d{1,3}(?:,\d{3})+|\d+)円?", re.ASCII)
_PERCENT = re.compile(r"(-?)(\d+)%?", re.ASCII)
_LOCAL_RECIPIENT = re.compile(r"[A-Za-z0-9-]+", re.ASCII)
_ISO_DATE = re.compile(r"(\d{4})(-?)(\d{2})\2(\d{2})", re.ASCII)

# Characters JIS X 0208 has but no Python codec encodes, because of the Shift_JIS mapping variants
# (0x815C is U+2015 in CP932 and U+2014 in other tables).
_JIS_MAPPING_VARIANTS = frozenset("\u2014")

_OPERATIONS: dict[str, Operation] = {
    "1": "add",
    "2": "change",
    "3": "end",
    "4": "withdraw",
    "新規": "add",
    "変更": "change",
    "終了": "end",
    "取消": "withdraw",
    "add": "add",
    "change": "change",
    "end": "end",
    "withdraw": "withdraw",
}
_SEXES = {"1": 1, "2": 2, "男": 1, "女": 2, "男性": 1, "女性": 2}
_FLAGS = {"0": False, "1": True}

_ALWAYS_REQUIRED = tuple(column for column in COLUMNS if column.required_in_header)

# Columns whose text is stored as written, so a 外字 in them must be mapped or refused; the other
# kinds (numbers, dates, choices) refuse anything they cannot read anyway.
_TEXT_KINDS = frozenset({"text", "kana", "list", "conditions", "details"})

# Name columns also take what 行政事務標準文字 (MJ) defines: ideographs outside the JIS sets and
# Ideographic Variation Sequences (docs/registry.md, pmh.codes.charsets). Private use stays 外字.
_NAME_ALIASES = frozenset({"name", "guardian_name"})


@dataclass(frozen=True)
class ProgramRule:
    """How a municipality registered one payer number (公費負担者番号): its program and whether
    recipient numbers (公費受給者番号) carry a check digit.

    National programs always use 7-digit recipient numbers with a check digit; a local (地単)
    program may be configured without one, and then accepts 1–30 ASCII letters, digits and hyphens.
    """

    program_code: str
    national: bool
    recipient_check_digit: bool = True

    @property
    def checks_recipient_digit(self) -> bool:
        """Whether recipient numbers under this payer must be 7 digits with a valid check digit."""
        return self.national or self.recipient_check_digit


class UploadFileError(InvalidInput):
    """The file as a whole cannot be read as a certificate upload (empty, wrong header, not CSV …).

    Each ``FieldError`` has ``row=None`` for the file, ``0`` for the header row, or the data row
    near which reading stopped.
    """

    code = "invalid_upload_file"
    title = "アップロードファイルを読み込めません"


def _file_error(code: str, message: str, field: str = FILE_FIELD, row: int | None = None) -> UploadFileError:
    """Build an :class:`UploadFileError` carrying one problem."""
    return UploadFileError(message, [FieldError(field, code, message, row)])


def _code_points(chars: Sequence[str]) -> str:
    """Write distinct characters as U+XXXX, at most five, for staff messages."""
    distinct = list(dict.fromkeys(chars))
    shown = "、".join(f"U+{ord(char):04X}" for char in distinct[:5])
    return shown + ("など" if len(distinct) > 5 else "")


def _bad_bytes(value: str) -> str:
    """Write the undecodable bytes (surrogate-escaped) of ``value`` as 0xXX, at most six."""
    found = _SURROGATE.findall(value)
    shown = " ".join(f"0x{ord(char) - 0xDC00:02X}" for char in found[:6])
    return shown + (" …" if len(found) > 6 else "")


def _is_gaiji(char: str) -> bool:
    """Return whether ``char`` is a 外字: private use, or in neither JIS X 0208 (CP932) nor JIS X 0213."""
    if _PRIVATE_USE.match(char):
        return True
    if char in _JIS_MAPPING_VARIANTS:
        return False
    for encoding in ("cp932", "shift_jis_2004"):
        try:
            char.encode(encoding)
        except UnicodeEncodeError:
            continue
        return False
    return True


def _find_gaiji(value: str, checked_private_use: bool = False) -> list[str]:
    """Return the 外字 in a non-ASCII ``value`` (usually none, found without a per-character loop).

    ``checked_private_use`` says the caller already knows ``value`` has no private-use character.
    """
    if checked_private_use or not _PRIVATE_USE.search(value):
        for encoding in ("cp932", "shift_jis_2004"):
            try:
                value.encode(encoding)
            except UnicodeEncodeError:
                continue
            return []
    return [char for char in value if _is_gaiji(char)]


def _find_name_gaiji(value: str) -> list[str]:
    """Return the 外字 in a name: what :func:`_find_gaiji` finds, less MJ ideographs and IVS.

    A variation selector counts as 外字 only where it selects nothing (not right after an ideograph).
    """
    found = _find_gaiji(value)
    if not found:
        return []
    misplaced = set(misplaced_selectors(value)) if any(is_selector(char) for char in found) else set()
    return [
        char
        for char in found
        if _PRIVATE_USE.match(char)
        or (is_selector(char) and char in misplaced)
        or not (is_han(char) or is_selector(char))
    ]


_Handler = Callable[[Column, str, int, list[FieldError], dict[str, Any]], Any]
_Outcome = tuple[bool, Any, tuple[tuple[str, str, str], ...]]
"""What reading one value gave: whether it was non-empty, the parsed value, and (field, code, message)."""

# Columns whose values repeat across rows and whose outcome depends on the value alone (not on
# other columns): each validator remembers the outcome per distinct value as received, up to a
# limit per column (then it starts afresh) that keeps the worst case — every value distinct — to a
# few megabytes. Birth dates get room for a century of days.
_REPEATING: dict[str, int] = {
    alias: 4096
    for alias in (
        "op",
        "payer_number",
        "sex",
        "valid_from",
        "valid_to",
        "monthly_cap",
        "inpatient_cap",
        "copay_rate",
        "income_category",
        "cap_managed",
        "diseases",
        "designated_institutions",
        "certification_name",
        "not_disclosed",
        "always_reimbursement",
        "additional_conditions",
        "certificate_details",
        "sub_key",
        "segment",
    )
} | {"birth_date": 40_000}


class RecordValidator:
    """Validate records given as ``{column alias: raw value}`` and turn them into rows.

    One validator serves one upload (file or batch): it remembers the keys it has seen to report
    duplicates, and the outcome of each distinct value of the columns whose values repeat (payer
    numbers, dates, amounts, flags, program texts …).
    ``allow_upsert`` accepts the batch-only operation ``upsert``; ``row_unit`` is the word
    messages use for a row (行目 for files, 件目 for batch records).
    """

    def __init__(
        self,
        programs: Mapping[str, ProgramRule],
        gaiji_map: Mapping[str, str] | None = None,
        *,
        allow_upsert: bool = False,
        row_unit: str = "行目",
        today: date | None = None,
    ) -> None:
        self._today = today or today_in_japan()
        self._programs = programs
        self._gaiji = _GaijiMapper(gaiji_map)
        self._has_gaiji_map = bool(self._gaiji)
        self._allow_upsert = allow_upsert
        self._row_unit = row_unit
        self._seen: dict[int | str, int] = {}
        self._institution_cache: dict[str, tuple[str, str] | None] = {}
        self._word_cache: dict[str, str] = {}
        self._present_cache: dict[int, frozenset[str]] = {}
        handlers: dict[str, _Handler] = {
            "op": self._op,
            "payer": self._payer,
            "recipient": self._recipient,
            "my_number": self._my_number,
            "text": self._text,
            "kana": self._kana,
            "date": self._date,
            "sex": self._sex,
            "amount": self._amount,
            "percent": self._percent,
            "flag": self._flag,
            "list": self._list,
            "institutions": self._institutions,
            "conditions": self._pairs,
            "details": self._pairs,
        }
        columns = COLUMNS + API_ONLY_COLUMNS
        self._bits = {column.alias: 1 << index for index, column in enumerate(columns)}
        self._plan: tuple[tuple[Column, int, _Handler, dict[str, _Outcome] | None, int], ...] = tuple(
            (
                column,
                1 << index,
                handlers[column.kind],
                {} if column.alias in _REPEATING else None,
                _REPEATING.get(column.alias, 0),
            )
            for index, column in enumerate(columns)
        )
        self._required: dict[str, tuple[tuple[Column, int], ...]] = {
            op: tuple((column, self._bits[column.alias]) for column in columns if op in column.required_for)
            for op in OPERATION_LABELS
        }
        self._always_required = tuple((column, self._bits[column.alias]) for column in _ALWAYS_REQUIRED)

    def validate(
        self,
        raw: Mapping[str, str],
        row: int,
        *,
        bad_bytes: bool = False,
        extra_errors: Sequence[FieldError] = (),
    ) -> CertificateRow | RowProblem:
        """Validate one record and return the row, or every problem found in it.

        ``raw`` maps column aliases to values as received (unknown keys are ignored);
        ``bad_bytes`` says the row's text held undecodable bytes (surrogate-escaped);
        ``extra_errors`` are problems the caller already found (they come first in the report).
        """
        errors: list[FieldError] = list(extra_errors)
        parsed: dict[str, Any] = {}
        mask = 0
        get = raw.get
        plain = _PLAIN_ASCII.fullmatch
        value: str | None
        for column, bit, handler, outcomes, limit in self._plan:
            received = get(column.alias)
            if not received:
                continue
            if outcomes is not None and not bad_bytes:
                outcome = outcomes.get(received)
                if outcome is None:
                    outcome = self._outcome(column, handler, received)
                    if len(outcomes) >= limit:
                        outcomes.clear()
                    outcomes[received] = outcome
                given, result, problems = outcome
                if given:
                    mask |= bit
                if result is not None:
                    parsed[column.alias] = result
                for field, code, message in problems:
                    errors.append(FieldError(field, code, message, row))
                continue
            if plain(received):
                value = received
            else:
                value = self._clean(column, received, row, errors, bad_bytes)
                if value is None:
                    mask |= bit
                    continue
                if not value:
                    continue
            mask |= bit
            result = handler(column, value, row, errors, parsed)
            if result is not None:
                parsed[column.alias] = result
        if bad_bytes and not any(error.code == "encoding" for error in errors):
            errors.append(FieldError(ROW_FIELD, "encoding", _ENCODING_MESSAGE_ROW, row))
        op: Operation | None = parsed.get("op")
        self._check_required(op, mask, row, errors)
        self._check_period(parsed, row, errors)
        self._check_duplicate(parsed, row, errors)
        if errors:
            return RowProblem(row, tuple(errors), _report_values(raw, errors))
        values = ROW_DEFAULTS.copy()
        values.update(parsed)  # every alias is also the name of its CertificateRow field
        values["row"] = row
        values["present"] = self._present(mask)
        return CertificateRow.from_values(values)

    def _outcome(self, column: Column, handler: _Handler, received: str) -> _Outcome:
        """Read one value of a column whose outcome depends on the value alone, for the cache."""
        errors: list[FieldError] = []
        value = received if _PLAIN_ASCII.fullmatch(received) else self._clean(column, received, 0, errors, False)
        if value == "":
            return (False, None, ())
        result = handler(column, value, 0, errors, {}) if value is not None else None
        return (True, result, tuple((error.field, error.code, error.message) for error in errors))

    # --- normalisation shared by every column -------------------------------------------------

    def _clean(self, column: Column, received: str, row: int, errors: list[FieldError], bad_bytes: bool) -> str | None:
        """Normalise a value (width, spaces, 外字 mapping) or record why it cannot be read.

        Plain printable ASCII never gets here (the caller takes it as it is).
        """
        value = received
        if not value.isascii():
            if bad_bytes and _SURROGATE.search(value):
                message = f"{column.header}に文字コードとして読めないバイト（{_bad_bytes(value)}）があります。"
                errors.append(FieldError(column.header, "encoding", message + _ENCODING_HINT, row))
                return None
            if self._has_gaiji_map:
                value = self._gaiji.apply(value)
        checked_private_use = True
        if not _NORMAL_FORM.fullmatch(value):
            spaced = value.replace("\u3000", " ") if "\u3000" in value else None
            if spaced is not None and _NORMAL_FORM.fullmatch(spaced):
                # Only ideographic spaces to fold (the usual 山田　太郎): what normalize_text would give.
                value = spaced
            else:
                value = self._normalize(value)
                checked_private_use = False
                if _CONTROL.search(value):
                    found = _code_points(_CONTROL.findall(value))
                    message = f"{column.header}に使用できない制御文字（{found}）が含まれています"
                    errors.append(FieldError(column.header, "invalid_character", message, row))
                    return None
        if column.kind in _TEXT_KINDS and not value.isascii():
            if column.alias in _NAME_ALIASES:
                gaiji = _find_name_gaiji(value)
            else:
                gaiji = _find_gaiji(value, checked_private_use)
            if gaiji:
                message = (
                    f"{column.header}に外字（{_code_points(gaiji)}）が含まれています。"
                    "外字対応表に登録してから再送してください"
                )
                errors.append(FieldError(column.header, "gaiji", message, row))
                return None
        return value

    def _normalize(self, value: str) -> str:
        """Return ``normalize_text(value)``, word by word through a cache.

        Folding never crosses a space (a voicing mark cannot join a space, and spaces only
        separate), so normalising each whitespace-separated word and joining the non-empty results
        with one space is the same as normalising the whole; words (surnames, given names, kana
        readings) repeat far more than whole values. A property test pins the equivalence.
        """
        cache = self._word_cache
        words: list[str] = []
        for word in value.split():
            folded = cache.get(word)
            if folded is None:
                folded = normalize_text(word)
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                cache[word] = folded
            if folded:
                words.append(folded)
        return " ".join(words)

    # --- one handler per column kind: return the parsed value, or None after recording errors ---

    def _op(self, column: Column, value: str, row: int, errors: list[FieldError], parsed: dict[str, Any]) -> Any:
        """Read 処理区分: 1/2/3/4, 新規/変更/終了/取消, add/change/end/withdraw (and upsert from the batch)."""
        op = _OPERATIONS.get(value) or _OPERATIONS.get(value.lower())
        if op is None and self._allow_upsert and value.lower() == "upsert":
            op = "upsert"
        if op is None:
            message = f"{column.header}は1（新規）・2（変更）・3（終了）・4（取消）のいずれかです（入力「{value}」）"
            errors.append(FieldError(column.header, "invalid_choice", message, row))
        return op

    def _payer(self, column: Column, value: str, row: int, errors: list[FieldError], parsed: dict[str, Any]) -> Any:
        """Check a 公費負担者番号: shape, check digit, then registration by this municipality."""
        problem = _number_problem(value, "payer")
        if problem is not None:
            errors.append(FieldError(column.header, problem[0], column.header + problem[1], row))
            return None
        if value not in self._programs:
            message = "この自治体で登録されていない公費負担者番号です"
            errors.append(FieldError(column.header, "unknown_payer", message, row))
            return None
        return value

    def _recipient(self, column: Column, value: str, row: int, errors: list[FieldError], parsed: dict[str, Any]) -> Any:
        """Check a 公費受給者番号 by the rule of its payer's program."""
        payer = parsed.get("payer_number")
        rule = self._programs.get(payer) if payer is not None else None
        if rule is not None and rule.checks_recipient_digit:
            # Fast path for the common valid number; check_number words the message otherwise.
            if _is_digits(value, 7) and modulus10_weight21_check_digit(value[:6]) == ord(value[6]) - 48:
                return value
            problem = _number_problem(value, "recipient")
        else:
            problem = _local_recipient_problem(value)
        if problem is None:
            return value
        errors.append(FieldError(column.header, problem[0], column.header + problem[1], row))
        return None

    def _my_number(self, column: Column, value: str, row: int, errors: list[FieldError], parsed: dict[str, Any]) -> Any:
        """Check a 個人番号: 12 digits and its check digit."""
        if _is_digits(value, 12) and my_number_check_digit(value[:11]) == ord(value[11]) - 48:
            return value
        problem = _number_problem(value, "my_number")
        if problem is None:
            return value
        errors.append(FieldError(column.header, problem[0], column.header + problem[1], row))
        return None

    def _text(self, column: Column, value: str, row: int, errors: list[FieldError], parsed: dict[str, Any]) -> Any:
        """Accept text within the column's length limit."""
        if column.max_length is not None and len(value) > column.max_length:
            errors.append(_too_long(column, value, row))
            return None
        return value

    def _kana(self, column: Column, value: str, row: int, errors: list[FieldError], parsed: dict[str, Any]) -> Any:
        """Read a 氏名カナ: hiragana becomes katakana; anything else but katakana is refused."""
        if not (_KATAKANA_FORM.fullmatch(value) and _KATAKANA_LETTER.search(value)):
            value = hiragana_to_katakana(value)
            if not is_katakana(value):
                message = f"{column.header}はカタカナで入力してください（漢字・英数字・記号は使えません）"
                errors.append(FieldError(column.header, "not_katakana", message, row))
                return None
        return self._text(column, value, row, errors, parsed)

    def _date(self, column: Column, value: str, row: int, errors: list[FieldError], parsed: dict[str, Any]) -> Any:
        """Read a date in any form parse_date knows."""
        result = _parse_date(value)
        if isinstance(result, date):
            if column.alias == "birth_date" and result > self._today:
                message = f"{column.header}が未来の日付です（入力「{value}」、本日 {self._today.isoformat()}）"
                errors.append(FieldError(column.header, "future_date", message, row))
                return None
            return result
        errors.append(FieldError(column.header, "invalid_date", f"{column.header}：{result}", row))
        return None

    def _sex(self, column: Column, value: str, row: int, errors: list[FieldError], parsed: dict[str, Any]) -> Any:
        """Read 性別: 1/男 or 2/女."""
        sex = _SEXES.get(value)
        if sex is None:
            message = f"{column.header}は1（男）・2（女）のいずれかです（入力「{value}」）"
            errors.append(FieldError(column.header, "invalid_choice", message, row))
        return sex

    def _amount(self, column: Column, value: str, row: int, errors: list[FieldError], parsed: dict[str, Any]) -> Any:
        """Read a yen amount: a non-negative integer, commas and 円 allowed."""
        if len(value) <= 8 and value.isascii() and value.isdigit():
            return int(value)
        match = _AMOUNT.fullmatch(value)
        if match is None:
            message = f"{column.header}は0以上の整数（円）で入力してください（入力「{value}」）"
            errors.append(FieldError(column.header, "invalid_number", message, row))
            return None
        amount = int(match[2].replace(",", ""))
        if match[1] or amount > _MAX_AMOUNT:
            message = f"{column.header}は0円から{_MAX_AMOUNT:,}円までです（入力「{value}」）"
            errors.append(FieldError(column.header, "out_of_range", message, row))
            return None
        return amount

    def _percent(self, column: Column, value: str, row: int, errors: list[FieldError], parsed: dict[str, Any]) -> Any:
        """Read 負担割合: an integer percent 0–30."""
        if len(value) <= 2 and value.isascii() and value.isdigit() and int(value) <= _MAX_COPAY_RATE:
            return int(value)
        match = _PERCENT.fullmatch(value)
        if match is None:
            message = f"{column.header}は0〜{_MAX_COPAY_RATE}の整数（%）で入力してください（入力「{value}」）"
            errors.append(FieldError(column.header, "invalid_number", message, row))
            return None
        rate = int(match[2])
        if match[1] or rate > _MAX_COPAY_RATE:
            message = f"{column.header}は0〜{_MAX_COPAY_RATE}（%）の範囲です（入力「{value}」）"
            errors.append(FieldError(column.header, "out_of_range", message, row))
            return None
        return rate

    def _flag(self, column: Column, value: str, row: int, errors: list[FieldError], parsed: dict[str, Any]) -> Any:
        """Read a 0/1 flag."""
        flag = _FLAGS.get(value)
        if flag is None:
            message = f"{column.header}は0（いいえ）または1（はい）です（入力「{value}」）"
            errors.append(FieldError(column.header, "invalid_choice", message, row))
        return flag

    def _list(self, column: Column, value: str, row: int, errors: list[FieldError], parsed: dict[str, Any]) -> Any:
        """Read a ``;``-separated list of texts."""
        items = _split_items(value)
        if not self._check_items(column, items, row, errors):
            return None
        limit = column.max_length
        for position, item in enumerate(items, start=1):
            if limit is not None and len(item) > limit:
                message = (
                    f"{column.header}（{position}件目）は{limit}文字以内で入力してください（入力は{len(item)}文字）"
                )
                errors.append(FieldError(column.header, "too_long", message, row))
                return None
        return items

    def _institutions(
        self, column: Column, value: str, row: int, errors: list[FieldError], parsed: dict[str, Any]
    ) -> Any:
        """Read ``;``-separated 医療機関コード, reporting each invalid one."""
        items = _split_items(value)
        if not self._check_items(column, items, row, errors):
            return None
        cache = self._institution_cache
        ok = True
        for position, item in enumerate(items, start=1):
            if item in cache:
                problem = cache[item]
            else:
                problem = _number_problem(item, "institution")
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                cache[item] = problem
            if problem is not None:
                label = f"{column.header}（{position}件目「{item}」）"
                errors.append(FieldError(column.header, problem[0], label + problem[1], row))
                ok = False
        return items if ok else None

    def _pairs(self, column: Column, value: str, row: int, errors: list[FieldError], parsed: dict[str, Any]) -> Any:
        """Read ``code-value;…`` (付加条件) or ``name=value;…`` (券面記載事項) pairs."""
        separator, shape = ("-", "コード-値") if column.kind == "conditions" else ("=", "項目名=値")
        items = _split_items(value)
        if not self._check_items(column, items, row, errors):
            return None
        pairs: list[tuple[str, str]] = []
        limit = column.max_length
        for position, item in enumerate(items, start=1):
            key, found, rest = item.partition(separator)
            key, rest = key.strip(), rest.strip()
            if not found or not key:
                message = f"{column.header}は「{shape}」を「;」で区切って入力してください（{position}件目「{item}」）"
                errors.append(FieldError(column.header, "invalid_syntax", message, row))
                return None
            if limit is not None and len(item) > limit:
                message = (
                    f"{column.header}（{position}件目）は{limit}文字以内で入力してください（入力は{len(item)}文字）"
                )
                errors.append(FieldError(column.header, "too_long", message, row))
                return None
            pairs.append((key, rest))
        return tuple(pairs)

    def _check_items(self, column: Column, items: tuple[str, ...], row: int, errors: list[FieldError]) -> bool:
        """Record an error when a list column has more items than it may."""
        if column.max_items is not None and len(items) > column.max_items:
            message = f"{column.header}は{column.max_items}件までです（入力は{len(items)}件）"
            errors.append(FieldError(column.header, "too_many", message, row))
            return False
        return True

    # --- checks across columns ------------------------------------------------------------------

    def _check_required(self, op: Operation | None, mask: int, row: int, errors: list[FieldError]) -> None:
        """Record a ``required`` error for each column the row's operation needs but lacks."""
        required = self._required[op] if op is not None else self._always_required
        for column, bit in required:
            if mask & bit:
                continue
            if column.required_in_header:
                message = f"{column.header}が入力されていません"
            else:
                message = f"{column.header}は処理区分が{OPERATION_LABELS[op or 'add']}の行では必須です"
            errors.append(FieldError(column.header, "required", message, row))

    def _check_period(self, parsed: dict[str, Any], row: int, errors: list[FieldError]) -> None:
        """Record an error when 有効終了日 comes before 有効開始日."""
        valid_from: date | None = parsed.get("valid_from")
        valid_to: date | None = parsed.get("valid_to")
        if valid_from is not None and valid_to is not None and valid_to < valid_from:
            message = f"有効終了日（{_western(valid_to)}）が有効開始日（{_western(valid_from)}）より前です"
            errors.append(FieldError("有効終了日", "end_before_start", message, row))

    def _check_duplicate(self, parsed: dict[str, Any], row: int, errors: list[FieldError]) -> None:
        """Record an error when the row's certificate key already appeared in this upload."""
        payer = parsed.get("payer_number")
        recipient = parsed.get("recipient_number")
        if payer is None or recipient is None:
            return
        # Payer numbers are always 8 digits, so no separator is needed; an all-digit key is kept as
        # an int (half the memory of the str), its leading 1 preserving leading zeros.
        key: int | str = payer + recipient
        if recipient.isdigit() and recipient.isascii():
            key = int("1" + payer + recipient)
        first = self._seen.setdefault(key, row)
        if first != row:
            message = f"公費負担者番号・公費受給者番号の組が{first}{self._row_unit}と重複しています"
            errors.append(FieldError("公費受給者番号", "duplicate_in_file", message, row))

    def _present(self, mask: int) -> frozenset[str]:
        """Return the aliases whose bits are set (one shared frozenset per distinct pattern)."""
        present = self._present_cache.get(mask)
        if present is None:
            present = frozenset(alias for alias, bit in self._bits.items() if mask & bit)
            self._present_cache[mask] = present
        return present


_ENCODING_HINT = "ファイルの文字コード（UTF-8 または Shift_JIS）を確認してください"
_ENCODING_MESSAGE_ROW = f"この行に文字コードとして読めないバイトがあります。{_ENCODING_HINT}"


def _parse_date(value: str) -> date | str:
    """Return the date ``value`` names, or parse_date's Japanese message saying why it names none.

    2026-05-15 and 20260515 — what the JSON batch and most systems send — are read directly; every
    other form, and every failure, goes through :func:`parse_date`.
    """
    match = _ISO_DATE.fullmatch(value)
    if match is not None and match[1] != "0000":
        try:
            return date(int(match[1]), int(match[3]), int(match[4]))
        except ValueError:
            pass
    try:
        return parse_date(value)
    except DateFormatError as exc:
        return str(exc)


def _is_digits(value: str, length: int) -> bool:
    """Return whether ``value`` is exactly ``length`` ASCII digits."""
    return len(value) == length and value.isascii() and value.isdigit()


_CODE_POINT = re.compile(r"U\+([0-9A-F]{4,6})", re.IGNORECASE)


class _GaijiMapper:
    """Apply a municipality's 外字対応表 (外字 → standard text) to a value.

    A key is one character, a ``U+XXXX`` code point, or a sequence of characters (a kanji with an
    ideographic variation selector, say); longer keys win over shorter ones. Empty keys are ignored.
    """

    def __init__(self, gaiji_map: Mapping[str, str] | None) -> None:
        self._single: dict[int, str] = {}
        sequences: dict[str, str] = {}
        for key, replacement in (gaiji_map or {}).items():
            if match := _CODE_POINT.fullmatch(key.strip()):
                key = chr(int(match[1], 16))
            if len(key) == 1:
                self._single[ord(key)] = replacement
            elif key:
                sequences[key] = replacement
        self._sequences = sequences
        alternatives = "|".join(re.escape(key) for key in sorted(sequences, key=len, reverse=True))
        self._pattern = re.compile(alternatives) if sequences else None

    def __bool__(self) -> bool:
        return bool(self._single or self._sequences)

    def apply(self, value: str) -> str:
        """Return ``value`` with every registered 外字 replaced."""
        if self._pattern is not None:
            value = self._pattern.sub(lambda match: self._sequences[match[0]], value)
        return value.translate(self._single) if self._single else value


def _number_problem(value: str, kind: str) -> tuple[str, str] | None:
    """Check a number with :func:`check_number`; return (code, message tail after the column name).

    The tail starts with the particle that fits the reason (の検証番号が… / に数字以外… / は8桁の…),
    so the caller writes ``label + tail``.
    """
    number_kind: NumberKind = "mynumber" if kind == "my_number" else kind  # type: ignore[assignment]
    result = check_number(value, number_kind)
    if result.valid:
        return None
    reason = result.reason or ""
    if result.expected_check_digit is not None:
        return ("invalid_check_digit", f"の{reason}")
    if not (value.isascii() and value.isdigit()):
        return ("not_digits", f"に{reason}")
    if len(value) not in _NUMBER_LENGTHS.get(kind, (10,)):
        return ("invalid_length", f"は{reason}")
    return ("invalid_format", f"の{reason}")


def _local_recipient_problem(value: str) -> tuple[str, str] | None:
    """Check a recipient number of a program without check digit: 1–30 ASCII letters, digits, hyphens."""
    if len(value) > _LOCAL_RECIPIENT_MAX:
        return ("invalid_length", f"は{_LOCAL_RECIPIENT_MAX}文字以内で入力してください（入力は{len(value)}文字）")
    if not _LOCAL_RECIPIENT.fullmatch(value):
        return ("invalid_character", "に使用できない文字が含まれています（半角英数字とハイフンのみ）")
    return None


def _split_items(value: str) -> tuple[str, ...]:
    """Split a ``;``-separated value, dropping empty items and repeats but keeping the order."""
    if ";" not in value:
        return (value,)  # already normalised: no surrounding spaces
    return tuple(dict.fromkeys(item for part in value.split(";") if (item := part.strip())))


def _too_long(column: Column, value: str, row: int) -> FieldError:
    """Build the ``too_long`` error of a text column."""
    message = f"{column.header}は{column.max_length}文字以内で入力してください（入力は{len(value)}文字）"
    return FieldError(column.header, "too_long", message, row)


def _western(d: date) -> str:
    """Format ``d`` as 2026年5月15日 for messages."""
    return f"{d.year}年{d.month}月{d.day}日"


def _report_values(raw: Mapping[str, str], errors: Sequence[FieldError]) -> dict[str, str]:
    """Return the values as received of the columns named in ``errors`` and of the key columns.

    A 個人番号 is masked; undecodable bytes are shown as U+FFFD so the report can be written out.
    """
    headers = dict.fromkeys(["公費負担者番号", "公費受給者番号", *(error.field for error in errors)])
    values: dict[str, str] = {}
    for header in headers:
        column = COLUMN_BY_HEADER.get(header)
        received = raw.get(column.alias) if column is not None else None
        if not received:
            continue
        if column is not None and column.kind == "my_number":
            received = "*" * len(received)
        values[header] = _SURROGATE.sub("\ufffd", received)
    return values


def validate_record(
    raw: Mapping[str, str],
    row: int,
    programs: Mapping[str, ProgramRule],
    gaiji_map: Mapping[str, str] | None = None,
    *,
    allow_upsert: bool = False,
) -> CertificateRow | RowProblem:
    """Validate one record given as ``{column alias: raw value}`` on its own (no duplicate check
    across records — use one :class:`RecordValidator` for a whole upload)."""
    return RecordValidator(programs, gaiji_map, allow_upsert=allow_upsert).validate(raw, row)


# --- the file: encoding, lines, header --------------------------------------------------------


def detect_encoding(head: bytes) -> str:
    """Return the encoding of a file from its first bytes: 'utf-8-sig', 'utf-8' or 'cp932'.

    A UTF-8 byte-order mark decides at once. Otherwise the head is decoded as UTF-8, ignoring a
    character cut at its end; it is UTF-8 when that succeeds, or when valid multibyte characters
    outnumber invalid bytes ten to one (a UTF-8 file with a stray byte is still UTF-8, and its bad
    row is reported). Anything else is read as CP932 (Shift_JIS with Microsoft's extensions).
    An ASCII-only head gives 'utf-8'.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    good, bad = _decode_counts(head, "utf-8")
    if bad == 0 or bad * 10 <= good:
        return "utf-8"
    return "cp932"


def _decode_counts(data: bytes, encoding: str) -> tuple[int, int]:
    """Return (non-ASCII characters decoded, undecodable bytes) of ``data``, ignoring a cut-off tail.

    Python's CP932 decodes the single bytes 0x80, 0xA0 and 0xFD–0xFF (to U+0080 and U+F8F0–F8F3);
    no Shift_JIS text has them, so they count as undecodable too.
    """
    decoder = codecs.getincrementaldecoder(encoding)("surrogateescape")
    text = decoder.decode(data, final=False)
    bad = len(_UNDECODED.findall(text)) if encoding == "cp932" else len(_SURROGATE.findall(text))
    non_ascii = sum(1 for char in text if char > "\x7f")
    return non_ascii - bad, bad


def _decodes(line: bytes, encoding: str) -> bool:
    """Return whether ``line`` decodes strictly in ``encoding``."""
    try:
        line.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


class _Lines:
    """The file's physical lines, decoded one at a time; remembers whether a line had bad bytes.

    Lines are split at LF on the bytes (LF never occurs inside a UTF-8 or CP932 character), so a
    bad byte spoils only its own line. While the file has been pure ASCII the encoding is still
    open: the first line with other bytes settles it.
    """

    def __init__(self, stream: BinaryIO, head: bytes, encoding: str) -> None:
        self._stream = stream
        self._head = head
        self.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        self._settled = not head.isascii()
        self.bad_bytes = False
        self.line_number = 0

    def __iter__(self) -> Iterator[str]:
        encoding = self.encoding
        for line in self._byte_lines():
            if not self._settled and not line.isascii():
                self._settled = True
                if not _decodes(line, encoding) and _decodes(line, "cp932"):
                    encoding = self.encoding = "cp932"
            try:
                text = line.decode(encoding)
            except UnicodeDecodeError:
                self.bad_bytes = True
                text = line.decode(encoding, "surrogateescape")
            yield text

    def _byte_lines(self) -> Iterator[bytes]:
        """Yield the raw lines, refusing one longer than :data:`MAX_LINE_BYTES`."""
        stream = self._stream
        head = self._head[len(codecs.BOM_UTF8) :] if self._head.startswith(codecs.BOM_UTF8) else self._head
        for line in io.BytesIO(head):
            if not line.endswith(b"\n"):
                line += stream.readline(MAX_LINE_BYTES + 1)
            self._check_length(line)
            yield line
        while line := stream.readline(MAX_LINE_BYTES + 1):
            self._check_length(line)
            yield line

    def _check_length(self, line: bytes) -> None:
        self.line_number += 1
        if len(line) > MAX_LINE_BYTES:
            message = f"{self.line_number}行目が長すぎます（1行は{MAX_LINE_BYTES // 1024 // 1024}MBまで）"
            raise _file_error("line_too_long", message)


def _refuse_non_csv(head: bytes) -> None:
    """Refuse an empty file and files that are plainly not CSV text (Excel, UTF-16, binary)."""
    if not head.removeprefix(codecs.BOM_UTF8).strip():
        raise _file_error("empty_file", "ファイルが空です")
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise _file_error(
            "not_csv", "Excel形式のファイルは読み込めません。CSV（UTF-8 または Shift_JIS）で保存し直してください"
        )
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _file_error("not_csv", "UTF-16のファイルは読み込めません。UTF-8 または Shift_JIS で保存し直してください")
    if b"\x00" in head:
        raise _file_error("not_csv", "CSVファイルではありません（テキストでないデータが含まれています）")
    if b"\n" not in head and b"\r" in head:
        raise _file_error("unsupported_newline", "改行コードがCRだけのファイルには対応していません（CRLF または LF）")


def _check_decodable(head: bytes, encoding: str) -> None:
    """Refuse a file whose head is mostly undecodable in the detected encoding."""
    if encoding != "cp932":
        return
    good, bad = _decode_counts(head, "cp932")
    if bad and bad * 10 > good:
        raise _file_error(
            "encoding", "ファイルの文字コードを判別できません。UTF-8 または Shift_JIS（CP932）で保存してください"
        )


def _read_header(reader: Iterator[list[str]]) -> list[Column | None]:
    """Read the header row and map each cell to its column (``None`` for an empty cell)."""
    for cells in reader:
        if any(cell.strip() for cell in cells):
            break
    else:
        raise _file_error("empty_file", "ファイルが空です")
    lookup: dict[str, Column] = {column.header: column for column in COLUMNS + API_ONLY_COLUMNS}
    lookup.update((column.alias, column) for column in COLUMNS + API_ONLY_COLUMNS)
    columns: list[Column | None] = []
    errors: list[FieldError] = []
    seen: set[str] = set()
    for position, cell in enumerate(cells, start=1):
        name = normalize_text(_SURROGATE.sub("\ufffd", cell))
        if not name:
            columns.append(None)
            continue
        column = lookup.get(name) or lookup.get(name.lower())
        if column is None:
            message = f"見出し『{name}』（{position}列目）は認識できません"
            errors.append(FieldError(name, "unknown_column", message, 0))
        elif column.alias in seen:
            message = f"見出し『{name}』（{position}列目）の列『{column.header}』が2回あります"
            errors.append(FieldError(column.header, "duplicate_column", message, 0))
        seen.add(column.alias if column is not None else name)
        columns.append(column)
    for column in _ALWAYS_REQUIRED:
        if column.alias not in seen:
            message = f"見出し行に必須の列『{column.header}』がありません"
            errors.append(FieldError(column.header, "missing_column", message, 0))
    if errors:
        summary = errors[0].message if len(errors) == 1 else f"見出し行に{len(errors)}件の誤りがあります"
        raise UploadFileError(summary, errors)
    return columns


def read_certificates(
    stream: BinaryIO,
    programs: Mapping[str, ProgramRule],
    gaiji_map: Mapping[str, str] | None = None,
) -> Iterator[CertificateRow | RowProblem]:
    """Read a certificate upload file and yield one row or problem per data row, in file order.

    Problems of the file as a whole (empty, not CSV, undecodable, a bad header, a line over 1 MB,
    an unclosed quote, no data rows) raise :class:`UploadFileError` while iterating — nothing is
    read before the first ``next()``. Memory stays bounded whatever the size: one line is decoded
    at a time; only the certificate keys seen are kept, to report duplicates.
    ``programs`` maps each payer number the municipality registered to its rule; ``gaiji_map`` is
    the municipality's 外字対応表 (one character → its replacement).
    """
    head = stream.read(HEAD_SIZE)
    _refuse_non_csv(head)
    encoding = detect_encoding(head)
    _check_decodable(head, encoding)
    lines = _Lines(stream, head, encoding)
    reader = csv.reader(lines)
    try:
        header = _read_header(reader)
    except csv.Error as exc:
        raise _csv_error(exc, lines.line_number) from None
    validator = RecordValidator(programs, gaiji_map)
    yield from _data_rows(reader, lines, header, validator)


def _csv_error(exc: csv.Error, line_number: int) -> UploadFileError:
    """Turn a CSV syntax failure into a file-level error naming the line."""
    message = (
        f'{line_number}行目付近のCSVの形式が正しくありません。引用符（"）が閉じられているか確認してください（{exc}）'
    )
    return _file_error("invalid_csv", message)


def _data_rows(
    reader: Iterator[list[str]], lines: _Lines, header: list[Column | None], validator: RecordValidator
) -> Iterator[CertificateRow | RowProblem]:
    """Yield the validated data rows; ``row`` counts records after the header, blank ones included."""
    width = len(header)
    aliases = [column.alias if column is not None else "" for column in header]
    unnamed = [index for index, column in enumerate(header) if column is None]
    row = 0
    any_data = False
    while True:
        lines.bad_bytes = False
        start = lines.line_number + 1  # the header is line 1; a record may span several lines
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise _csv_error(exc, lines.line_number) from None
        row += 1
        if not any(fields) or (len(fields) == 1 and not fields[0].strip()):
            continue
        any_data = True
        if len(fields) != width:
            if len(fields) < width or any(fields[width:]):
                yield _at_line(_field_count_problem(row, width, len(fields), lines.bad_bytes), start)
                continue
            del fields[width:]
        extra: list[FieldError] = []
        for index in unnamed:
            if fields[index].strip():
                message = f"見出しのない{index + 1}列目に値があります"
                extra.append(FieldError(f"{index + 1}列目", "value_without_header", message, row))
        yield _at_line(
            validator.validate(
                dict(zip(aliases, fields, strict=True)), row, bad_bytes=lines.bad_bytes, extra_errors=extra
            ),
            start,
        )
    if not any_data:
        raise _file_error("no_rows", "データ行がありません（見出し行だけのファイルです）")


def _at_line(item: CertificateRow | RowProblem, start: int) -> CertificateRow | RowProblem:
    """Note the file line of a record that does not start on ``row + 1`` (rare: only after multi-line values)."""
    return item if start == item.row + 1 else dataclasses.replace(item, line=start)


def _field_count_problem(row: int, width: int, count: int, bad_bytes: bool) -> RowProblem:
    """Build the problem of a row whose number of fields differs from the header's."""
    message = (
        f'列の数が見出し（{width}列）と合いません（この行は{count}列）。値の中の改行やカンマは「"」で囲んでください'
    )
    errors = [FieldError(ROW_FIELD, "field_count", message, row)]
    if bad_bytes:
        errors.append(FieldError(ROW_FIELD, "encoding", _ENCODING_MESSAGE_ROW, row))
    return RowProblem(row, tuple(errors))
