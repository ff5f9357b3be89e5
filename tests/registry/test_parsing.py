"""Reading the certificate upload file: encodings, headers, every column rule, file-level refusals."""

from __future__ import annotations

import io
import random
import tempfile
import tracemalloc
from collections.abc import Iterable, Mapping
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmh.codes import check_number, modulus10_weight21_check_digit, normalize_text, parse_date
from pmh.errors import FieldError
from pmh.registry import parsing
from pmh.registry.parsing import (
    ProgramRule,
    RecordValidator,
    UploadFileError,
    detect_encoding,
    read_certificates,
    validate_record,
)
from pmh.registry.rows import COLUMN_BY_ALIAS, COLUMNS, ROW_DEFAULTS, CertificateRow, RowProblem

NATIONAL = "54016027"  # 難病 (法別54), 東京都
LOCAL_FREE = "81136244"  # 八王子市 ひとり親, recipient numbers without check digit
LOCAL_CHECKED = "88138243"  # 八王子市 乳幼児, configured with the check digit
UNREGISTERED = "81137242"  # a valid payer number this municipality did not register
PROGRAMS = {
    NATIONAL: ProgramRule("nanbyo", national=True),
    LOCAL_FREE: ProgramRule("hitorioya", national=False, recipient_check_digit=False),
    LOCAL_CHECKED: ProgramRule("kodomo", national=False, recipient_check_digit=True),
}
RECIPIENT = "1234566"
OTHER_RECIPIENT = "7654320"
MY_NUMBER = "123456789018"
INSTITUTION = "0110113719"
OTHER_INSTITUTION = "1310112345"

VALID = {
    "op": "1",
    "payer_number": NATIONAL,
    "recipient_number": RECIPIENT,
    "my_number": MY_NUMBER,
    "name": "山田 太郎",
    "name_kana": "ヤマダ タロウ",
    "birth_date": "1985-04-01",
    "sex": "1",
    "valid_from": "2026-04-01",
    "valid_to": "2027-03-31",
    "monthly_cap": "10000",
    "inpatient_cap": "20000",
    "copay_rate": "20",
    "income_category": "一般所得Ⅰ",
    "cap_managed": "1",
    "diseases": "パーキンソン病;多発性硬化症",
    "designated_institutions": f"{INSTITUTION};{OTHER_INSTITUTION}",
    "guardian_name": "山田 花子",
    "certification_name": "特定医療費（指定難病）受給者証",
    "address": "東京都八王子市元本郷町三丁目24番1号",
    "not_disclosed": "0",
    "always_reimbursement": "1",
    "additional_conditions": "01-入院時食事療養費;02-なし",
    "certificate_details": "備考=重症;階層区分=一般",
}
"""A valid 新規 row with every column filled (column aliases → values as a municipality writes them)."""


def csv_bytes(
    rows: Iterable[Mapping[str, str]],
    *,
    headers: str = "ja",
    columns: Iterable[str] | None = None,
    encoding: str = "utf-8",
    newline: str = "\r\n",
) -> bytes:
    """Build an upload file from rows keyed by alias; headers in Japanese ('ja') or aliases ('en')."""
    aliases = list(columns) if columns is not None else [column.alias for column in COLUMNS]
    names = [COLUMN_BY_ALIAS[alias].header if headers == "ja" else alias for alias in aliases]
    lines = [",".join(names)]
    lines += [",".join(_quoted(row.get(alias, "")) for alias in aliases) for row in rows]
    return (newline.join(lines) + newline).encode(encoding)


def _quoted(value: str) -> str:
    return f'"{value}"' if any(char in value for char in ',"\n') else value


def read(data: bytes, gaiji_map: Mapping[str, str] | None = None) -> list[CertificateRow | RowProblem]:
    """Read a whole upload file into a list."""
    return list(read_certificates(io.BytesIO(data), PROGRAMS, gaiji_map))


def one(data: bytes, gaiji_map: Mapping[str, str] | None = None) -> CertificateRow | RowProblem:
    [result] = read(data, gaiji_map)
    return result


def valid_row(**changes: str) -> CertificateRow:
    """Read one row (VALID with ``changes``) and insist it is valid."""
    result = one(csv_bytes([VALID | changes]))
    assert isinstance(result, CertificateRow), result
    return result


def problem(**changes: str) -> RowProblem:
    """Read one row (VALID with ``changes``) and insist it is a problem."""
    result = one(csv_bytes([VALID | changes]))
    assert isinstance(result, RowProblem), result
    return result


def file_error(data: bytes) -> UploadFileError:
    with pytest.raises(UploadFileError) as caught:
        read(data)
    return caught.value


# --- a valid row -------------------------------------------------------------------------------


def test_valid_row_reads_every_column() -> None:
    row = valid_row()
    assert row == CertificateRow(
        row=1,
        op="add",
        payer_number=NATIONAL,
        recipient_number=RECIPIENT,
        my_number=MY_NUMBER,
        name="山田 太郎",
        name_kana="ヤマダ タロウ",
        birth_date=date(1985, 4, 1),
        sex=1,
        valid_from=date(2026, 4, 1),
        valid_to=date(2027, 3, 31),
        monthly_cap=10000,
        inpatient_cap=20000,
        copay_rate=20,
        income_category="一般所得Ⅰ",
        cap_managed=True,
        diseases=("パーキンソン病", "多発性硬化症"),
        designated_institutions=(INSTITUTION, OTHER_INSTITUTION),
        guardian_name="山田 花子",
        certification_name="特定医療費(指定難病)受給者証",  # full-width ASCII is folded
        address="東京都八王子市元本郷町三丁目24番1号",
        not_disclosed=False,
        always_reimbursement=True,
        additional_conditions=(("01", "入院時食事療養費"), ("02", "なし")),
        certificate_details=(("備考", "重症"), ("階層区分", "一般")),
        present=frozenset(VALID),
    )
    assert row.key == (NATIONAL, RECIPIENT)


def test_my_number_is_kept_out_of_repr() -> None:
    assert MY_NUMBER not in repr(valid_row())


def test_fast_constructor_builds_the_same_row_as_the_dataclass_init() -> None:
    row = valid_row()
    values = {name: getattr(row, name) for name in [*ROW_DEFAULTS, "row", "op", "payer_number", "recipient_number"]}
    rebuilt = CertificateRow.from_values(values | {"present": row.present})
    assert rebuilt == row
    assert repr(rebuilt) == repr(row)
    with pytest.raises(AttributeError):
        rebuilt.name = "x"  # type: ignore[misc]


def test_empty_optional_columns_give_defaults_and_are_not_present() -> None:
    kept = ("op", "payer_number", "recipient_number", "valid_from")
    row = one(csv_bytes([{**VALID, "op": "2"}], columns=kept))
    assert isinstance(row, CertificateRow)
    assert row.op == "change"
    assert (row.my_number, row.name, row.monthly_cap, row.valid_to) == (None, None, None, None)
    assert (row.cap_managed, row.not_disclosed, row.always_reimbursement) == (False, False, False)
    assert row.diseases == row.designated_institutions == ()
    assert row.additional_conditions == row.certificate_details == ()
    assert row.present == frozenset(kept)


def test_present_lists_the_non_empty_columns_including_explicit_zero_flags() -> None:
    row = valid_row(op="2", my_number="", name="", name_kana="  ", birth_date="", sex="", monthly_cap="")
    assert row.present == frozenset(VALID) - {"my_number", "name", "name_kana", "birth_date", "sex", "monthly_cap"}
    assert "not_disclosed" in row.present  # "0" was written, so it replaces the previous value


# --- encodings and headers ---------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_utf8_bom_and_cp932_files_give_identical_rows(encoding: str) -> None:
    rows = [VALID, VALID | {"recipient_number": OTHER_RECIPIENT, "name": "髙橋 﨑子", "address": "東京都①番地"}]
    assert read(csv_bytes(rows, encoding=encoding)) == read(csv_bytes(rows))


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_lf_and_crlf_line_ends_are_both_read(newline: str) -> None:
    assert read(csv_bytes([VALID], newline=newline)) == [valid_row()]


def test_japanese_english_and_mixed_headers_give_identical_rows() -> None:
    japanese = read(csv_bytes([VALID], headers="ja"))
    english = read(csv_bytes([VALID], headers="en"))
    mixed_header = ",".join(
        column.header if index % 2 else f" {column.alias.upper()} " for index, column in enumerate(COLUMNS)
    )
    mixed = csv_bytes([VALID]).split(b"\r\n", 1)[1]
    assert japanese == english == read(mixed_header.encode() + b"\r\n" + mixed)


def test_full_width_alias_headers_and_a_bom_before_the_header_are_accepted() -> None:
    data = "\ufeffＯＰ,ｐａｙｅｒ＿ｎｕｍｂｅｒ,公費受給者番号,有効終了日\r\n3,54016027,1234566,2027-03-31\r\n"
    [row] = read(data.encode())
    assert isinstance(row, CertificateRow)
    assert row.op == "end"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xef\xbb\xbfop,payer_number", "utf-8-sig"),
        (b"op,payer_number\n", "utf-8"),
        ("処理区分,氏名\n".encode(), "utf-8"),
        ("処理区分,氏名\n".encode("cp932"), "cp932"),
        ("ｱｲｳ半角カナ,髙橋\n".encode("cp932"), "cp932"),
        # A character cut in two by the 64 KiB boundary is still UTF-8.
        ("処理区分,氏名\n".encode()[:-2], "utf-8"),
        # A UTF-8 file with one stray byte is still UTF-8 (the bad row is reported later).
        ("処理区分,公費負担者番号,氏名\n1,2,山田太郎\n".encode() + b"\xff\n", "utf-8"),
    ],
)
def test_detect_encoding(head: bytes, expected: str) -> None:
    assert detect_encoding(head) == expected


def test_a_multibyte_character_cut_at_the_64_kib_boundary_does_not_confuse_detection() -> None:
    filler = {**VALID, "address": "東" * 150}
    data = csv_bytes([filler | {"recipient_number": _recipient(i)} for i in range(400)])
    assert len(data) > parsing.HEAD_SIZE
    for cut in range(parsing.HEAD_SIZE - 3, parsing.HEAD_SIZE + 1):
        assert detect_encoding(data[:cut]) == "utf-8"
    assert all(isinstance(row, CertificateRow) for row in read(data))


def test_an_ascii_start_then_cp932_rows_are_decoded_as_cp932() -> None:
    columns = ("op", "payer_number", "recipient_number", "valid_to", "name")
    end = {"op": "3", "payer_number": LOCAL_FREE, "valid_to": "2027-03-31"}
    ending = [end | {"recipient_number": f"R{i}"} for i in range(4000)]
    data = csv_bytes(
        [*ending, end | {"recipient_number": "LATE", "name": "髙橋 太郎"}],
        headers="en",
        columns=columns,
        encoding="cp932",
    )
    assert data[: parsing.HEAD_SIZE].isascii()
    rows = read(data)
    assert all(isinstance(row, CertificateRow) for row in rows)
    last = rows[-1]
    assert isinstance(last, CertificateRow) and last.name == "髙橋 太郎"


# --- normalisation -----------------------------------------------------------------------------


def test_full_width_digits_half_width_kana_and_ideographic_spaces_are_normalised() -> None:
    row = valid_row(
        op="１",
        payer_number="５４０１６０２７",
        recipient_number="　１２３４５６６　",
        my_number="１２３４５６７８９０１８",
        name="山田　　太郎",
        name_kana="ﾔﾏﾀﾞ ﾀﾛｳ",
        birth_date="１９８５－０４－０１",
        sex="１",
        monthly_cap="１０，０００",
        copay_rate="２０％",
        designated_institutions="０１１０１１３７１９；１３１０１１２３４５",
        guardian_name="ＡＢＣ　ｶﾞｸｴﾝ",
    )
    assert row == valid_row(guardian_name="ABC ガクエン")


@pytest.mark.parametrize(("kana", "expected"), [("やまだ たろう", "ヤマダ タロウ"), ("ｳﾞｧｲｵﾘﾝ", "ヴァイオリン")])
def test_hiragana_and_half_width_kana_readings_become_katakana(kana: str, expected: str) -> None:
    assert valid_row(name_kana=kana).name_kana == expected


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("0", 0), ("1000", 1000), ("1,000", 1000), ("１，０００", 1000), ("12,345,678", 12345678), ("5000円", 5000)],
)
def test_amounts_accept_grouping_commas_full_width_and_yen(amount: str, expected: int) -> None:
    assert valid_row(monthly_cap=amount).monthly_cap == expected


@pytest.mark.parametrize(
    "written",
    [
        "2026-04-01",
        "2026/4/1",
        "2026.04.01",
        "20260401",
        "2026年4月1日",
        "令和8年4月1日",
        "令和８年４月１日",
        "令8年4月1日",
        "R8.4.1",
        "R08.04.01",
        "r8/4/1",
        "R080401",
        "Ｒ８．４．１",
        "5080401",
        "㋿8年4月1日",
    ],
)
def test_dates_in_every_western_and_wareki_form(written: str) -> None:
    assert valid_row(valid_from=written).valid_from == date(2026, 4, 1)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("令和元年5月1日", date(2019, 5, 1)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("H31.4.30", date(2019, 4, 30)),
        ("㍻元年1月8日", date(1989, 1, 8)),
        ("昭和64年1月7日", date(1989, 1, 7)),
        ("S60.4.1", date(1985, 4, 1)),
        ("3600401", date(1985, 4, 1)),
        ("大正15年12月24日", date(1926, 12, 24)),
        ("明治45年7月29日", date(1912, 7, 29)),
    ],
)
def test_birth_dates_in_older_eras(written: str, expected: date) -> None:
    assert valid_row(birth_date=written).birth_date == expected


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=12))
@settings(max_examples=300, deadline=None)
def test_iso_fast_path_agrees_with_parse_date(text: str) -> None:
    candidates = [text, f"2026-{text[:2]}-{text[2:4]}", f"{text[:4]}{text[4:8]}"]
    for value in candidates:
        try:
            expected: date | str = parse_date(value)
        except ValueError as exc:
            expected = str(exc)
        assert parsing._parse_date(value) == expected


# The characters normalize_text treats specially, mixed with ordinary ones.
_TRICKY = st.sampled_from(list("ｶﾀﾞﾟﾞﾟ \u3000\t\n\u00a0\u200b\ufeff\u3099\u309aかカ山ａＡA1１-−－～〜ー\x07"))


@given(
    st.one_of(
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20),
        st.text(alphabet=_TRICKY, max_size=12),
    )
)
@settings(max_examples=800, deadline=None)
def test_normalisation_shortcuts_agree_with_normalize_text(text: str) -> None:
    validator = RecordValidator(PROGRAMS)
    if parsing._PLAIN_ASCII.fullmatch(text) or parsing._NORMAL_FORM.fullmatch(text):
        assert normalize_text(text) == text
    spaced = text.replace("\u3000", " ")
    if parsing._NORMAL_FORM.fullmatch(spaced):
        assert normalize_text(text) == spaced
    assert validator._normalize(text) == normalize_text(text)


@given(st.from_regex(r"[0-9０-９a-z\- ]{0,14}", fullmatch=True))
@settings(max_examples=300, deadline=None)
def test_number_fast_paths_agree_with_check_number(text: str) -> None:
    value = normalize_text(text)
    if not value:
        return
    errors: list[FieldError] = []
    validator = RecordValidator(PROGRAMS)
    recipient_ok = validator._recipient(
        COLUMN_BY_ALIAS["recipient_number"], value, 1, errors, {"payer_number": NATIONAL}
    )
    assert (recipient_ok is not None) == check_number(value, "recipient").valid
    my_number_ok = validator._my_number(COLUMN_BY_ALIAS["my_number"], value, 1, errors, {})
    assert (my_number_ok is not None) == check_number(value, "mynumber").valid


# --- every column, wrong in every way ----------------------------------------------------------


FIELD_CASES = [
    ("op", "5", "invalid_choice"),
    ("op", "upsert", "invalid_choice"),
    ("op", "追加", "invalid_choice"),
    ("payer_number", "54016028", "invalid_check_digit"),
    ("payer_number", "5401602", "invalid_length"),
    ("payer_number", "540160271", "invalid_length"),
    ("payer_number", "5401-6027", "not_digits"),
    ("payer_number", "54996027", "invalid_format"),
    ("payer_number", UNREGISTERED, "unknown_payer"),
    ("recipient_number", "1234567", "invalid_check_digit"),
    ("recipient_number", "123456", "invalid_length"),
    ("recipient_number", "12345a6", "not_digits"),
    ("my_number", "123456789010", "invalid_check_digit"),
    ("my_number", "12345678901", "invalid_length"),
    ("my_number", "1234-5678-9018", "not_digits"),
    ("name", "山" * 101, "too_long"),
    ("name", "山田\x07太郎", "invalid_character"),
    ("name_kana", "山田 太郎", "not_katakana"),
    ("name_kana", "ﾔﾏﾀﾞ-ﾀﾛｳ", "not_katakana"),
    ("name_kana", "YAMADA", "not_katakana"),
    ("name_kana", "ア" * 101, "too_long"),
    ("birth_date", "1985-02-30", "invalid_date"),
    ("birth_date", "平成32年1月1日", "invalid_date"),
    ("birth_date", "令和元年4月1日", "invalid_date"),
    ("birth_date", "昭和六十年", "invalid_date"),
    ("sex", "3", "invalid_choice"),
    ("sex", "M", "invalid_choice"),
    ("valid_from", "R8.13.1", "invalid_date"),
    ("valid_to", "2027-04-31", "invalid_date"),
    ("monthly_cap", "-1", "out_of_range"),
    ("monthly_cap", "100,000,000", "out_of_range"),
    ("monthly_cap", "abc", "invalid_number"),
    ("monthly_cap", "1.5", "invalid_number"),
    ("monthly_cap", "1,00", "invalid_number"),
    ("inpatient_cap", "−500", "out_of_range"),
    ("copay_rate", "31", "out_of_range"),
    ("copay_rate", "-5", "out_of_range"),
    ("copay_rate", "1割", "invalid_number"),
    ("copay_rate", "10.5", "invalid_number"),
    ("income_category", "あ" * 51, "too_long"),
    ("cap_managed", "2", "invalid_choice"),
    ("cap_managed", "はい", "invalid_choice"),
    ("diseases", ";".join(f"病{i}" for i in range(51)), "too_many"),
    ("diseases", "病" * 101, "too_long"),
    ("designated_institutions", "0110113710", "invalid_check_digit"),
    ("designated_institutions", f"{INSTITUTION};011011371", "invalid_length"),
    ("designated_institutions", "0120113719", "invalid_format"),
    ("designated_institutions", "01101137１Ａ", "not_digits"),
    ("designated_institutions", ";".join([INSTITUTION] * 1 + [f"01101{i:04d}0" for i in range(100)]), "too_many"),
    ("guardian_name", "あ" * 101, "too_long"),
    ("certification_name", "あ" * 101, "too_long"),
    ("address", "あ" * 201, "too_long"),
    ("not_disclosed", "x", "invalid_choice"),
    ("always_reimbursement", "2", "invalid_choice"),
    ("additional_conditions", "入院", "invalid_syntax"),
    ("additional_conditions", "-入院", "invalid_syntax"),
    ("additional_conditions", "01-" + "あ" * 100, "too_long"),
    ("certificate_details", "備考", "invalid_syntax"),
    ("certificate_details", "=重症", "invalid_syntax"),
]


@pytest.mark.parametrize(("alias", "value", "code"), FIELD_CASES)
def test_each_column_wrong_in_each_way_gives_its_code_and_names_the_column(alias: str, value: str, code: str) -> None:
    found = problem(**{alias: value})
    header = COLUMN_BY_ALIAS[alias].header
    assert [(error.field, error.code) for error in found.errors] == [(header, code)]
    [error] = found.errors
    assert error.row == 1
    assert header in error.message or code == "unknown_payer"
    assert found.values[header] == (value if alias != "my_number" else "*" * len(value))


def test_messages_read_as_staff_expect() -> None:
    assert problem(payer_number="54016028").errors[0].message == "公費負担者番号の検証番号が誤っています（正しくは7）"
    assert problem(payer_number=UNREGISTERED).errors[0].message == "この自治体で登録されていない公費負担者番号です"
    assert (
        problem(recipient_number="123456").errors[0].message
        == "公費受給者番号は7桁の数字で入力してください（入力は6桁）"
    )
    assert problem(name_kana="山田").errors[0].message.startswith("氏名カナはカタカナで入力してください")
    assert problem(copay_rate="31").errors[0].message == "負担割合は0〜30（%）の範囲です（入力「31」）"
    institution = problem(designated_institutions=f"{INSTITUTION};0110113710").errors[0].message
    assert institution == "指定医療機関コード（2件目「0110113710」）の検証番号が誤っています（正しくは9）"


def test_a_row_reports_all_its_errors_not_just_the_first() -> None:
    found = problem(payer_number="54016028", my_number="1", name_kana="漢字", sex="9", copay_rate="99")
    assert found.codes == ("invalid_check_digit", "invalid_length", "not_katakana", "invalid_choice", "out_of_range")
    assert [error.field for error in found.errors] == ["公費負担者番号", "個人番号", "氏名カナ", "性別", "負担割合"]


def test_a_repeated_wrong_value_is_reported_on_every_row_with_its_own_row_number() -> None:
    rows = [VALID | {"recipient_number": number, "sex": "3"} for number in (RECIPIENT, OTHER_RECIPIENT)]
    first, second = read(csv_bytes(rows))
    assert isinstance(first, RowProblem) and isinstance(second, RowProblem)
    assert [(e.code, e.row) for e in first.errors] == [("invalid_choice", 1)]
    assert [(e.code, e.row) for e in second.errors] == [("invalid_choice", 2)]
    assert first.errors[0].message == second.errors[0].message


def test_problem_values_mask_the_my_number_and_keep_the_key_columns() -> None:
    found = problem(my_number="１２３４５６７８９０１０", sex="3")
    assert found.values == {
        "公費負担者番号": NATIONAL,
        "公費受給者番号": RECIPIENT,
        "個人番号": "************",
        "性別": "3",
    }
    assert [line["value"] for line in found.as_dicts()] == ["************", "3"]


def test_recipient_of_an_unknown_payer_gets_only_the_loose_check() -> None:
    assert problem(payer_number=UNREGISTERED, recipient_number="ABC-1").codes == ("unknown_payer",)


# --- recipient numbers of local programs -------------------------------------------------------


@pytest.mark.parametrize("recipient", ["ABC-123", "1", "1234567", "0" * 30, "ａｂｃ－１"])
def test_local_program_without_check_digit_takes_letters_digits_hyphens(recipient: str) -> None:
    assert valid_row(payer_number=LOCAL_FREE, recipient_number=recipient).recipient_number == normalize_text(recipient)


@pytest.mark.parametrize(
    ("recipient", "code"),
    [("0" * 31, "invalid_length"), ("AB 12", "invalid_character"), ("あいう", "invalid_character")],
)
def test_local_program_without_check_digit_still_has_limits(recipient: str, code: str) -> None:
    assert problem(payer_number=LOCAL_FREE, recipient_number=recipient).codes == (code,)


def test_local_program_configured_with_check_digit_enforces_it() -> None:
    assert valid_row(payer_number=LOCAL_CHECKED).recipient_number == RECIPIENT
    assert problem(payer_number=LOCAL_CHECKED, recipient_number="1234567").codes == ("invalid_check_digit",)


def test_national_program_always_checks_the_digit_even_if_configured_not_to() -> None:
    programs = {NATIONAL: ProgramRule("nanbyo", national=True, recipient_check_digit=False)}
    result = validate_record(VALID | {"recipient_number": "1234567"}, 1, programs)
    assert isinstance(result, RowProblem) and result.codes == ("invalid_check_digit",)


# --- what each operation requires --------------------------------------------------------------

NEW_REQUIRED = ["my_number", "name", "name_kana", "birth_date", "sex", "valid_from"]


@pytest.mark.parametrize("alias", NEW_REQUIRED)
def test_add_requires_identity_and_start(alias: str) -> None:
    found = problem(**{alias: ""})
    header = COLUMN_BY_ALIAS[alias].header
    assert [(error.field, error.code) for error in found.errors] == [(header, "required")]
    assert found.errors[0].message == f"{header}は処理区分が新規の行では必須です"


@pytest.mark.parametrize("alias", ["op", "payer_number", "recipient_number"])
def test_every_row_requires_its_operation_and_key(alias: str) -> None:
    header = COLUMN_BY_ALIAS[alias].header
    assert (header, "required") in [(e.field, e.code) for e in problem(**{alias: ""}).errors]


def test_change_needs_only_the_key_and_valid_from() -> None:
    columns = ("op", "payer_number", "recipient_number", "valid_from")
    assert isinstance(one(csv_bytes([VALID | {"op": "2"}], columns=columns)), CertificateRow)
    found = one(csv_bytes([VALID | {"op": "変更"}], columns=columns[:3]))
    assert isinstance(found, RowProblem)
    assert [(e.field, e.code, e.message) for e in found.errors] == [
        ("有効開始日", "required", "有効開始日は処理区分が変更の行では必須です")
    ]


def test_end_needs_valid_to() -> None:
    columns = ("op", "payer_number", "recipient_number", "valid_to")
    ended = one(csv_bytes([VALID | {"op": "終了"}], columns=columns))
    assert isinstance(ended, CertificateRow) and ended.op == "end" and ended.valid_to == date(2027, 3, 31)
    found = one(csv_bytes([VALID | {"op": "3"}], columns=columns[:3]))
    assert isinstance(found, RowProblem) and found.codes == ("required",)
    assert found.errors[0].field == "有効終了日"


def test_valid_to_before_valid_from_is_refused() -> None:
    found = problem(valid_from="2026-04-01", valid_to="R8.3.31")
    assert [(e.field, e.code) for e in found.errors] == [("有効終了日", "end_before_start")]
    assert found.errors[0].message == "有効終了日（2026年3月31日）が有効開始日（2026年4月1日）より前です"
    assert valid_row(valid_to="2026-04-01").valid_to == date(2026, 4, 1)


# --- 外字 ---------------------------------------------------------------------------------------


def _cp932_with_user_defined_name(gaiji_map: Mapping[str, str] | None = None) -> list[CertificateRow | RowProblem]:
    """Read a CP932 file whose 氏名 holds the user-defined character F040 (U+E000)."""
    # "#" (0x23) is never the second byte of a CP932 character, so the replacement hits only it.
    data = csv_bytes([VALID | {"name": "山田 太#"}], encoding="cp932").replace(b"#", b"\xf0\x40")
    return read(data, gaiji_map)


def test_user_defined_character_without_mapping_is_refused_with_its_code_point() -> None:
    [found] = _cp932_with_user_defined_name()
    assert isinstance(found, RowProblem)
    assert [(e.field, e.code, e.row) for e in found.errors] == [("氏名", "gaiji", 1)]
    assert found.errors[0].message == "氏名に外字（U+E000）が含まれています。外字対応表に登録してから再送してください"


@pytest.mark.parametrize("key", ["\ue000", "U+E000", "u+e000"])
def test_user_defined_character_with_mapping_is_replaced(key: str) -> None:
    [row] = _cp932_with_user_defined_name({key: "郎"})
    assert isinstance(row, CertificateRow) and row.name == "山田 太郎"


@pytest.mark.parametrize(
    ("name", "code_points"),
    [
        ("山田 😀", "U+1F600"),
        ("山田\ue001\ue002", "U+E001、U+E002"),
        ("山田 \U000f0001", "U+F0001"),  # plane 15: private use too
        ("山田 \U000e0100太郎", "U+E0100"),  # a selector after a space selects nothing
        ("\U000e0100辻 太郎", "U+E0100"),  # … nor one at the start
        ("ヤ\ufe00マダ 太郎", "U+FE00"),  # … nor one after kana
        ("辻\U000e0100\U000e0101 太郎", "U+E0101"),  # … nor a second one
    ],
)
def test_private_use_and_stray_selectors_in_a_name_are_gaiji(name: str, code_points: str) -> None:
    [error] = problem(name=name).errors
    assert error.code == "gaiji" and f"外字（{code_points}）" in error.message
    assert error.message.endswith("外字対応表に登録してから再送してください")


@pytest.mark.parametrize(
    "name",
    [
        "辻\U000e0100 太郎",  # IVS (Moji_Joho collection) over a JIS X 0208 character
        "葛\U000e0101西 花子",
        "辻\ufe00 太郎",  # standardized variation sequence
        "𠮷田 太郎",  # MJ character outside JIS X 0213 (U+20BB7)
        "𠮷\U000e0100田 稔",  # IVS over an MJ character outside JIS X 0213
        "𠀂田 花子",  # MJ character with no JIS X 0213 counterpart
    ],
)
def test_ivs_and_mj_characters_in_names_are_kept_exactly(name: str) -> None:
    row = valid_row(name=name, guardian_name=name)
    assert row.name == name and row.guardian_name == name


@pytest.mark.parametrize(("address", "code_point"), [("東京都𠮷田町", "U+20BB7"), ("辻\U000e0100町", "U+E0100")])
def test_other_text_columns_keep_the_jis_rule(address: str, code_point: str) -> None:
    [error] = problem(address=address).errors
    assert error.field == "住所" and error.code == "gaiji" and code_point in error.message


def test_a_mapping_may_replace_a_sequence_with_a_variation_selector() -> None:
    data = csv_bytes([VALID | {"name": "葛\U000e0100西 𠮷郎"}])
    [row] = read(data, {"葛\U000e0100": "葛", "𠮷": "吉"})
    assert isinstance(row, CertificateRow) and row.name == "葛西 吉郎"


@pytest.mark.parametrize("name", ["髙橋 﨑", "鷗外 森", "剝 噓", "ａｂｃ—①㈱", "Émile"])
def test_characters_in_jis_x_0208_or_0213_are_not_gaiji(name: str) -> None:
    assert valid_row(name=name).name == normalize_text(name)


def test_gaiji_in_any_text_column_names_that_column() -> None:
    assert [e.field for e in problem(address="東京都\ue123").errors] == ["住所"]


# --- duplicates, blank and malformed rows ------------------------------------------------------


def test_duplicate_key_in_file_names_the_first_row() -> None:
    rows = [VALID, VALID | {"recipient_number": OTHER_RECIPIENT}, VALID | {"recipient_number": "１２３４５６６"}]
    first, second, third = read(csv_bytes(rows))
    assert isinstance(first, CertificateRow) and isinstance(second, CertificateRow)
    assert isinstance(third, RowProblem)
    assert [(e.field, e.code, e.row) for e in third.errors] == [("公費受給者番号", "duplicate_in_file", 3)]
    assert third.errors[0].message == "公費負担者番号・公費受給者番号の組が1行目と重複しています"


def test_same_recipient_under_another_payer_is_not_a_duplicate() -> None:
    rows = [VALID, VALID | {"payer_number": LOCAL_CHECKED}]
    assert all(isinstance(row, CertificateRow) for row in read(csv_bytes(rows)))


def test_local_keys_with_leading_zeros_are_distinct() -> None:
    rows = [VALID | {"payer_number": LOCAL_FREE, "recipient_number": number} for number in ("12", "012", "0012")]
    assert all(isinstance(row, CertificateRow) for row in read(csv_bytes(rows)))


def test_blank_lines_are_skipped_but_counted() -> None:
    data = csv_bytes([VALID, {}, VALID | {"recipient_number": OTHER_RECIPIENT}]) + b"\r\n\r\n"
    rows = read(data)
    assert [row.row for row in rows] == [1, 3]


def test_a_row_with_too_few_fields_is_reported_not_misread() -> None:
    good = csv_bytes([VALID])
    data = good + b"1,54016027,7654320\r\n"
    _, short = read(data)
    assert isinstance(short, RowProblem) and short.codes == ("field_count",)
    assert short.errors[0].field == parsing.ROW_FIELD and short.row == 2


def test_trailing_empty_fields_are_tolerated_and_values_beyond_are_not() -> None:
    good = csv_bytes([VALID]).rstrip(b"\r\n")
    assert isinstance(one(good + b",,\r\n"), CertificateRow)
    assert one(good + b",,x\r\n").codes == ("field_count",)  # type: ignore[union-attr]


def test_a_column_without_header_must_stay_empty() -> None:
    lines = [
        "処理区分,公費負担者番号,公費受給者番号,,有効終了日",
        "3,54016027,1234566,,2027-03-31",
        "3,54016027,7654320,x,R9.3.31",
    ]
    first, second = read("\r\n".join(lines).encode())
    assert isinstance(first, CertificateRow)
    assert isinstance(second, RowProblem) and [(e.field, e.code) for e in second.errors] == [
        ("4列目", "value_without_header")
    ]


def test_quoted_commas_and_newlines_inside_values_are_read() -> None:
    row = valid_row(address="東京都八王子市,元本郷町\n三丁目")
    assert row.address == "東京都八王子市,元本郷町 三丁目"


# --- bytes that do not decode ------------------------------------------------------------------


def test_an_invalid_byte_in_row_3_of_a_utf8_file_names_row_3_and_its_column() -> None:
    rows = [VALID | {"recipient_number": _recipient(i), "name": f"山田 {i}"} for i in range(5)]
    data = csv_bytes(rows).replace("山田 2".encode(), b"\xff\xfe 2")
    results = read(data)
    bad = [result for result in results if isinstance(result, RowProblem)]
    assert len(results) == 5 and [problem.row for problem in bad] == [3]
    assert [(e.field, e.code, e.row) for e in bad[0].errors] == [("氏名", "encoding", 3)]
    assert "0xFF 0xFE" in bad[0].errors[0].message
    assert bad[0].values["氏名"] == "\ufffd\ufffd 2"


def test_an_invalid_byte_in_a_column_whose_values_repeat_is_still_reported() -> None:
    rows = [VALID | {"recipient_number": _recipient(i)} for i in range(3)]
    data = csv_bytes(rows).replace("受給者証,".encode(), b"\xe5\x8f,", 1)
    first, second, third = read(data)
    assert isinstance(first, RowProblem) and isinstance(second, CertificateRow) and isinstance(third, CertificateRow)
    assert [(e.field, e.code) for e in first.errors] == [("証区分名称", "encoding")]


def test_an_invalid_cp932_sequence_names_its_row() -> None:
    rows = [VALID | {"recipient_number": _recipient(i)} for i in range(3)]
    data = csv_bytes(rows, encoding="cp932").replace("元本郷町".encode("cp932"), b"\x81\x20", 1)
    results = read(data)
    assert [type(result).__name__ for result in results] == ["RowProblem", "CertificateRow", "CertificateRow"]
    assert results[0].codes == ("encoding",)  # type: ignore[union-attr]


# --- file-level refusals -----------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\r\n\r\n", b"   "])
def test_an_empty_file_is_refused(data: bytes) -> None:
    error = file_error(data)
    assert error.message == "ファイルが空です" and [e.code for e in error.errors] == ["empty_file"]
    assert error.errors[0].row is None


def test_a_header_only_file_is_refused() -> None:
    error = file_error(csv_bytes([]))
    assert [e.code for e in error.errors] == ["no_rows"]


@pytest.mark.parametrize("alias", ["op", "payer_number", "recipient_number"])
def test_a_missing_required_column_is_refused(alias: str) -> None:
    columns = [column.alias for column in COLUMNS if column.alias != alias]
    error = file_error(csv_bytes([VALID], columns=columns))
    header = COLUMN_BY_ALIAS[alias].header
    assert [(e.field, e.code, e.row) for e in error.errors] == [(header, "missing_column", 0)]
    assert error.message == f"見出し行に必須の列『{header}』がありません"


def test_unknown_and_repeated_headers_are_all_reported() -> None:
    data = "処理区分,公費負担者番号,公費受給者番号,備考欄,氏名,NAME\r\n1,2,3,4,5,6\r\n".encode()
    error = file_error(data)
    assert [(e.field, e.code) for e in error.errors] == [("備考欄", "unknown_column"), ("氏名", "duplicate_column")]
    assert error.errors[0].message == "見出し『備考欄』（4列目）は認識できません"
    assert error.message == "見出し行に2件の誤りがあります"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (random.Random(7).randbytes(5000), "not_csv"),
        (b"PK\x03\x04" + b"\x14" * 100, "not_csv"),
        ("処理区分,公費負担者番号\r\n".encode("utf-16"), "not_csv"),
        (b"\x81\x20\x82\x7f" * 500, "encoding"),
        (bytes(range(0x80, 0x100)) * 40, "encoding"),
        (b"op,payer_number,recipient_number\r1,2,3\r", "unsupported_newline"),
    ],
)
def test_garbage_is_refused_as_a_whole(data: bytes, code: str) -> None:
    assert [e.code for e in file_error(data).errors] == [code]


def test_an_unclosed_quote_stops_the_file_with_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    data = csv_bytes([VALID]) + b'1,"54016027\r\n' + b"x" * 140_000 + b"\r\n"
    error = file_error(data)
    assert [e.code for e in error.errors] == ["invalid_csv"]


def test_an_overlong_line_stops_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parsing, "MAX_LINE_BYTES", 2000)
    data = csv_bytes([VALID, VALID | {"address": "東" * 900}])
    with pytest.raises(UploadFileError) as caught:
        list(read_certificates(io.BytesIO(data), PROGRAMS))
    assert [e.code for e in caught.value.errors] == ["line_too_long"]
    assert caught.value.message.startswith("3行目が長すぎます")


def test_nothing_is_read_before_iteration_starts() -> None:
    stream = io.BytesIO(b"")
    results = read_certificates(stream, PROGRAMS)
    assert stream.tell() == 0
    with pytest.raises(UploadFileError):
        next(results)


# --- streaming ---------------------------------------------------------------------------------


def _recipient(index: int) -> str:
    """Return a valid 7-digit recipient number (公費受給者番号) numbered ``index``."""
    body = f"{index:06d}"
    return body + str(modulus10_weight21_check_digit(body))


STREAM_ROWS = 40_000


def test_a_large_file_streams_in_bounded_memory() -> None:
    # 40,000 rows of about 700 bytes (28 MB): enough to show the file is never held whole. Memory is
    # what this test pins; speed is measured by benchmarks/ingest.py, never asserted here.
    address = "東京都八王子市元本郷町三丁目二十四番一号" * 10
    with tempfile.TemporaryFile() as handle:
        handle.write(b"op,payer_number,recipient_number,valid_to,address\r\n")
        for index in range(STREAM_ROWS):
            handle.write(f"3,{NATIONAL},{_recipient(index)},2027-03-31,{address}\r\n".encode())
        size = handle.tell()
        handle.seek(0)
        tracemalloc.start()
        try:
            count = sum(1 for result in read_certificates(handle, PROGRAMS) if isinstance(result, CertificateRow))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert count == STREAM_ROWS
    assert size > 25_000_000
    assert peak < 12_000_000, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB file"
