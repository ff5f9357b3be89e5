"""Check digits and number checks (domain.md "Numbers and codes"), with the real published examples."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmh.codes import (
    NUMBER_KIND_LABELS,
    NUMBER_KINDS,
    NumberKind,
    check_number,
    is_valid_institution_code,
    is_valid_insurer_number,
    is_valid_municipality_code,
    is_valid_my_number,
    is_valid_payer_number,
    is_valid_recipient_number,
    modulus10_weight21_check_digit,
    municipality_check_digit,
    my_number_check_digit,
)

# Real numbers from domain.md (and, for 01040013, 協会けんぽ宮城支部's published insurer number).
REAL_VALID = [
    ("54016027", "payer"),
    ("81136244", "payer"),
    ("81137242", "payer"),
    ("88138243", "payer"),
    ("88131248", "payer"),
    ("89131247", "payer"),
    ("33120015", "insurer"),
    ("01040013", "insurer"),
    ("130001", "municipality"),
    ("011002", "municipality"),
    ("141003", "municipality"),
    ("131016", "municipality"),
    ("271004", "municipality"),
    ("123456789018", "mynumber"),
    ("0110113719", "institution"),
]

# One digit changed; the expected check digit was worked out by hand from the published rule.
ONE_DIGIT_WRONG = [
    ("54016028", "payer", 7),  # check digit changed
    ("55016027", "payer", 6),  # 2nd digit 4→5: 5501602 → 4+0+3+1+0+5+1 = 14 → 6
    ("81136254", "payer", 1),  # 8113654 → 8+5+3+3+2+1+7 = 29 → 1
    ("81137243", "payer", 2),
    ("88138240", "payer", 3),
    ("88131247", "payer", 8),
    ("89131246", "payer", 7),
    ("33120016", "insurer", 5),
    ("130002", "municipality", 1),
    ("130011", "municipality", 0),  # 13001: 6+15+0+0+2 = 23, r = 1 → (11−1) mod 10 = 0
    ("011003", "municipality", 2),
    ("141004", "municipality", 3),
    ("131017", "municipality", 6),
    ("271005", "municipality", 4),
    ("123456789019", "mynumber", 8),
    ("223456789018", "mynumber", 2),  # Σ P·Q = 218, r = 9 → 2
    ("0110113710", "institution", 9),
    ("0110113819", "institution", 8),  # 011011381 → 2+8+6+1+2+0+2+1+0 = 22 → 8
]


@pytest.mark.parametrize(("value", "kind"), REAL_VALID)
def test_real_published_numbers_are_valid(value: str, kind: NumberKind) -> None:
    result = check_number(value, kind)
    assert result.valid, result.reason
    assert result.reason is None
    assert result.expected_check_digit is None
    assert result.value == value


@pytest.mark.parametrize(("value", "kind", "expected"), ONE_DIGIT_WRONG)
def test_one_changed_digit_is_caught_with_the_right_check_digit(value: str, kind: NumberKind, expected: int) -> None:
    result = check_number(value, kind)
    assert not result.valid
    assert result.expected_check_digit == expected
    assert result.reason == f"検証番号が誤っています（正しくは{expected}）"


@pytest.mark.parametrize(
    ("body", "check"),
    [("5401602", 7), ("8113624", 4), ("8113724", 2), ("8813824", 3), ("8813124", 8), ("8913124", 7)],
)
def test_payer_check_digit_function_matches_published_numbers(body: str, check: int) -> None:
    assert modulus10_weight21_check_digit(body) == check


def test_municipality_and_my_number_check_digit_functions_match_published_examples() -> None:
    assert municipality_check_digit("13000") == 1
    assert municipality_check_digit("27100") == 4
    assert my_number_check_digit("12345678901") == 8


def test_six_digit_kokuho_insurer_number_uses_the_same_rule_over_five_digits() -> None:
    # 01001: 1×2 + 0 + 0 + 1×1 + 0 = 3 → check 7.
    assert check_number("010017", "insurer").valid
    wrong = check_number("010016", "insurer")
    assert not wrong.valid
    assert wrong.expected_check_digit == 7


def test_recipient_number_is_seven_digits_with_the_same_rule() -> None:
    # 123456: 6×2→3, 5, 4×2=8, 3, 2×2=4, 1 → 24 → check 6.
    assert check_number("1234566", "recipient").valid
    assert check_number("1234567", "recipient").expected_check_digit == 6
    assert not check_number("12345667", "recipient").valid


def test_full_width_digits_and_surrounding_spaces_are_normalised_first() -> None:
    result = check_number("\u3000５４０１６０２７ ", "payer")
    assert result.valid
    assert result.value == "54016027"


@pytest.mark.parametrize(
    ("value", "kind", "reason"),
    [
        ("5401602", "payer", "8桁の数字で入力してください（入力は7桁）"),
        ("540160277", "payer", "8桁の数字で入力してください（入力は9桁）"),
        ("123456", "recipient", "7桁の数字で入力してください（入力は6桁）"),
        ("3312001", "insurer", "8桁（国民健康保険は6桁）の数字で入力してください（入力は7桁）"),
        ("12345678901", "mynumber", "12桁の数字で入力してください（入力は11桁）"),
        ("011011371", "institution", "10桁の数字で入力してください（入力は9桁）"),
        ("13101", "municipality", "6桁の数字で入力してください（入力は5桁。検証番号を付けた6桁は131016）"),
        ("", "payer", "番号が入力されていません"),
        ("   ", "payer", "番号が入力されていません"),
        ("5401-6027", "payer", "数字以外の文字が含まれています（「-」）"),
        ("5401 6027", "payer", "数字以外の文字が含まれています（空白）"),
        ("54O16027", "payer", "数字以外の文字が含まれています（「O」）"),
        ("54006024", "payer", "3〜4桁目の都道府県番号「00」は01〜47のいずれかです"),
        ("54486027", "payer", "3〜4桁目の都道府県番号「48」は01〜47のいずれかです"),
        ("481009", "municipality", "1〜2桁目の都道府県コード「48」は01〜47のいずれかです"),
        ("0010113719", "institution", "1〜2桁目の都道府県番号「00」は01〜47のいずれかです"),
        (
            "0120113719",
            "institution",
            "3桁目の点数表番号「2」は1（医科）・3（歯科）・4（調剤）のいずれかです",
        ),
    ],
)
def test_malformed_numbers_say_why_without_a_check_digit(value: str, kind: NumberKind, reason: str) -> None:
    result = check_number(value, kind)
    assert not result.valid
    assert result.reason == reason
    assert result.expected_check_digit is None


def test_non_ascii_digits_other_than_full_width_are_not_digits() -> None:
    # Arabic-Indic digits pass str.isdigit(); they must still be refused.
    assert not check_number("٥٤٠١٦٠٢٧", "payer").valid


@pytest.mark.parametrize("fee_schedule", ["1", "3", "4"])
def test_institution_fee_schedule_digit_1_3_4_is_accepted(fee_schedule: str) -> None:
    body = "01" + fee_schedule + "011371"
    assert check_number(body + str(modulus10_weight21_check_digit(body)), "institution").valid


def test_payer_number_law_code_is_not_checked_here() -> None:
    # 法別 99 fits no program, but whether it fits is the program catalogue's business.
    assert check_number("99016024", "payer").valid


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        check_number("54016027", "bank")  # type: ignore[arg-type]


def test_predicates_agree_with_check_number() -> None:
    assert is_valid_payer_number("54016027") and not is_valid_payer_number("54016028")
    assert is_valid_recipient_number("1234566") and not is_valid_recipient_number("1234567")
    assert is_valid_insurer_number("33120015") and not is_valid_insurer_number("33120016")
    assert is_valid_municipality_code("131016") and not is_valid_municipality_code("131017")
    assert is_valid_my_number("123456789018") and not is_valid_my_number("123456789019")
    assert is_valid_institution_code("0110113719") and not is_valid_institution_code("0110113710")


def test_every_kind_has_a_japanese_label() -> None:
    assert set(NUMBER_KIND_LABELS) == set(NUMBER_KINDS)


def _luhn_valid(number: str) -> bool:
    """Independent reference: the classic Luhn test (double every second digit from the right)."""
    doubled = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
    total = sum(int(c) if i % 2 == 0 else doubled[int(c)] for i, c in enumerate(reversed(number)))
    return total % 10 == 0


digit_strings = st.text(alphabet="0123456789", min_size=7, max_size=7)


@settings(max_examples=200)
@given(digit_strings)
def test_appending_the_check_digit_always_gives_a_valid_number(body: str) -> None:
    number = body + str(modulus10_weight21_check_digit(body))
    assert _luhn_valid(number)
    assert check_number(number, "insurer").valid


@settings(max_examples=100)
@given(digit_strings)
def test_every_single_digit_substitution_is_detected(body: str) -> None:
    # Guaranteed for the 2,1 rule: ×1 is the identity and "×2 then add the digits" permutes 0–9,
    # so changing one digit always changes the sum mod 10.
    number = body + str(modulus10_weight21_check_digit(body))
    for position in range(7):
        for digit in "0123456789":
            if digit == number[position]:
                continue
            altered = number[:position] + digit + number[position + 1 :]
            assert not _luhn_valid(altered)
            assert not check_number(altered, "insurer").valid


@settings(max_examples=100)
@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_my_number_with_its_check_digit_is_valid(body: str) -> None:
    assert check_number(body + str(my_number_check_digit(body)), "mynumber").valid
