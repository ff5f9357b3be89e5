"""Check digits of the numbers the subsidy world uses (docs/codes.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

from pmh.codes.prefectures import is_prefecture_code
from pmh.codes.text import normalize_digits

NumberKind = Literal["payer", "recipient", "insurer", "municipality", "mynumber", "institution"]
"""The kinds of number :func:`check_number` knows."""

NUMBER_KINDS: tuple[NumberKind, ...] = get_args(NumberKind)

NUMBER_KIND_LABELS: dict[str, str] = {
    "payer": "公費負担者番号",
    "recipient": "公費受給者番号",
    "insurer": "保険者番号",
    "municipality": "全国地方公共団体コード",
    "mynumber": "個人番号",
    "institution": "医療機関コード",
}
"""The Japanese name of each kind, as staff know it."""

_FEE_SCHEDULE_DIGITS = {"1": "医科", "3": "歯科", "4": "調剤"}


def modulus10_weight21_check_digit(digits: str) -> int:
    """Return the 2,1-weighted modulus-10 check digit used by payer, recipient, insurer and
    institution numbers (公費負担者番号・受給者番号・保険者番号・医療機関コード).

    Weights 2,1,2,1… run from the rightmost digit; the digits of each product are summed.
    """
    total = 0
    for position, char in enumerate(reversed(digits)):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def municipality_check_digit(five_digits: str) -> int:
    """Return the check digit of a 全国地方公共団体コード from its first five digits."""
    weights = (6, 5, 4, 3, 2)
    remainder = sum(int(c) * w for c, w in zip(five_digits, weights, strict=True)) % 11
    return (11 - remainder) % 10


def my_number_check_digit(eleven_digits: str) -> int:
    """Return the check digit of a 個人番号 (My Number) from its first eleven digits."""
    total = 0
    for n, char in enumerate(reversed(eleven_digits), start=1):
        weight = n + 1 if n <= 6 else n - 5
        total += int(char) * weight
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


@dataclass(frozen=True)
class CheckResult:
    """Outcome of checking one number: whether it is valid and, if not, why.

    ``value`` is the number after full-width digits were folded and surrounding spaces stripped;
    ``reason`` is a Japanese message for staff (``None`` when valid); ``expected_check_digit`` is set
    only when the number is well-formed and the check digit alone is wrong.
    """

    valid: bool
    kind: str
    value: str
    reason: str | None = None
    expected_check_digit: int | None = None


def check_number(value: str, kind: NumberKind) -> CheckResult:
    """Check a number of the given kind: length, digits, fixed parts and check digit.

    Full-width digits are folded to ASCII and surrounding spaces stripped first; nothing else is
    removed, so a number typed with hyphens or inner spaces is reported, not silently repaired.
    """
    if kind not in _CHECKERS:
        raise ValueError(f"unknown number kind: {kind!r}")
    normalised = normalize_digits(value)
    reason = _shape_problem(normalised, kind)
    if reason is not None:
        return CheckResult(valid=False, kind=kind, value=normalised, reason=reason)
    body, given = normalised[:-1], int(normalised[-1])
    expected = _CHECKERS[kind](body)
    if expected != given:
        return CheckResult(
            valid=False,
            kind=kind,
            value=normalised,
            reason=f"検証番号が誤っています（正しくは{expected}）",
            expected_check_digit=expected,
        )
    return CheckResult(valid=True, kind=kind, value=normalised)


def _shape_problem(value: str, kind: NumberKind) -> str | None:
    """Return why ``value`` cannot be a number of ``kind`` before its check digit is looked at."""
    if not value:
        return "番号が入力されていません"
    if not (value.isascii() and value.isdigit()):
        return f"数字以外の文字が含まれています（{_describe_non_digits(value)}）"
    length_problem = _length_problem(value, kind)
    if length_problem is not None:
        return length_problem
    return _fixed_part_problem(value, kind)


def _describe_non_digits(value: str) -> str:
    """Name the distinct non-digit characters of ``value`` (at most three) for a staff message."""
    seen: list[str] = []
    for char in value:
        if not ("0" <= char <= "9") and char not in seen:
            seen.append(char)
    shown = ["空白" if char.isspace() else f"「{char}」" for char in seen[:3]]
    return "・".join(shown) + ("など" if len(seen) > 3 else "")


_LENGTHS: dict[NumberKind, tuple[int, ...]] = {
    "payer": (8,),
    "recipient": (7,),
    "insurer": (8, 6),
    "municipality": (6,),
    "mynumber": (12,),
    "institution": (10,),
}


def _length_problem(value: str, kind: NumberKind) -> str | None:
    """Return a message when ``value`` has the wrong number of digits for ``kind``."""
    allowed = _LENGTHS[kind]
    if len(value) in allowed:
        return None
    wanted = "8桁（国民健康保険は6桁）" if kind == "insurer" else f"{allowed[0]}桁"
    if kind == "municipality" and len(value) == 5:
        # Five-digit codes without the check digit are common in municipal files; show the full one.
        full = f"{value}{municipality_check_digit(value)}"
        return f"{wanted}の数字で入力してください（入力は5桁。検証番号を付けた6桁は{full}）"
    return f"{wanted}の数字で入力してください（入力は{len(value)}桁）"


def _fixed_part_problem(value: str, kind: NumberKind) -> str | None:
    """Return a message when a fixed part (prefecture, fee schedule) of ``value`` is impossible."""
    if kind == "payer":
        return _prefecture_problem(value[2:4], "3〜4桁目の都道府県番号")
    if kind == "municipality":
        return _prefecture_problem(value[0:2], "1〜2桁目の都道府県コード")
    if kind == "institution":
        prefecture = _prefecture_problem(value[0:2], "1〜2桁目の都道府県番号")
        if prefecture is not None:
            return prefecture
        if value[2] not in _FEE_SCHEDULE_DIGITS:
            return f"3桁目の点数表番号「{value[2]}」は1（医科）・3（歯科）・4（調剤）のいずれかです"
    return None


def _prefecture_problem(part: str, label: str) -> str | None:
    """Return a message when ``part`` is not a prefecture number 01–47."""
    if is_prefecture_code(part):
        return None
    return f"{label}「{part}」は01〜47のいずれかです"


_CHECKERS: dict[NumberKind, Callable[[str], int]] = {
    "payer": modulus10_weight21_check_digit,
    "recipient": modulus10_weight21_check_digit,
    # An 8-digit insurer number's check covers 法別+都道府県+保険者別 (7 digits); a 6-digit
    # 国保 number has no 法別, so the same rule covers its first 5 digits.
    "insurer": modulus10_weight21_check_digit,
    "municipality": municipality_check_digit,
    "mynumber": my_number_check_digit,
    "institution": modulus10_weight21_check_digit,
}


def is_valid_payer_number(value: str) -> bool:
    """Return whether ``value`` is a valid 公費負担者番号 (payer number)."""
    return check_number(value, "payer").valid


def is_valid_recipient_number(value: str) -> bool:
    """Return whether ``value`` is a valid 7-digit 公費受給者番号 (recipient number) with check digit."""
    return check_number(value, "recipient").valid


def is_valid_insurer_number(value: str) -> bool:
    """Return whether ``value`` is a valid 保険者番号 (insurer number), 8 digits or 6 for 国保."""
    return check_number(value, "insurer").valid


def is_valid_municipality_code(value: str) -> bool:
    """Return whether ``value`` is a valid 6-digit 全国地方公共団体コード (municipality code)."""
    return check_number(value, "municipality").valid


def is_valid_my_number(value: str) -> bool:
    """Return whether ``value`` is a valid 個人番号 (My Number)."""
    return check_number(value, "mynumber").valid


def is_valid_institution_code(value: str) -> bool:
    """Return whether ``value`` is a valid 10-digit 医療機関コード (institution code)."""
    return check_number(value, "institution").valid
