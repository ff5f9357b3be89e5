"""The municipality master and the program catalogue, and the rule of who may run which program.

Both are read once from the CSVs in ``pmh/reference/data`` (through ``importlib.resources``, so they
work from an installed wheel) and cached for the life of the process.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal, get_args

from pmh.codes.checkdigits import municipality_check_digit

MunicipalityKind = Literal["prefecture", "designated_city", "core_city", "special_ward", "city", "town", "village"]
ImplementingBody = Literal[
    "prefecture",
    "designated_city",
    "core_city",
    "child_guidance_centre_city",
    "health_centre_city",
    "special_ward",
    "municipality",
    "any",
]

KIND_LABELS: dict[MunicipalityKind, str] = {
    "prefecture": "都道府県",
    "designated_city": "指定都市",
    "core_city": "中核市",
    "special_ward": "特別区",
    "city": "市",
    "town": "町",
    "village": "村",
}
BODY_LABELS: dict[ImplementingBody, str] = {
    "prefecture": "都道府県",
    "designated_city": "指定都市",
    "core_city": "中核市",
    "child_guidance_centre_city": "児童相談所設置市",
    "health_centre_city": "保健所設置市",
    "special_ward": "特別区",
    "municipality": "市区町村",
    "any": "都道府県・市区町村",
}

_KINDS: dict[str, MunicipalityKind] = {kind: kind for kind in get_args(MunicipalityKind)}
_BODIES: dict[str, ImplementingBody] = {body: body for body in get_args(ImplementingBody)}


class UnknownMunicipality(KeyError):
    """No 地方公共団体 has this 全国地方公共団体コード (or the code is malformed)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


class UnknownProgram(KeyError):
    """No program in the catalogue has this program code (制度コード)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Municipality:
    """A local government (地方公共団体): a prefecture or one of the 1,741 市区町村.

    ``code`` is the 6-digit 全国地方公共団体コード with its check digit; ``county`` is the 郡 of a town or
    village (empty otherwise); ``health_centre_city`` marks 保健所設置市・区 and
    ``child_guidance_centre_city`` marks 児童相談所設置市・区.
    """

    code: str
    prefecture_code: str
    name: str
    name_kana: str
    county: str
    kind: MunicipalityKind
    health_centre_city: bool
    child_guidance_centre_city: bool

    @property
    def is_prefecture(self) -> bool:
        """Whether this is a prefecture (都道府県) rather than a 市区町村."""
        return self.kind == "prefecture"

    @property
    def full_name(self) -> str:
        """Return the name as written in an address: 北海道余市郡余市町, 東京都千代田区, 北海道札幌市.

        Unique across Japan (names such as 府中市 or 森町 repeat, the prefecture and 郡 tell them apart);
        a prefecture's full name is its own name.
        """
        if self.is_prefecture:
            return self.name
        return _prefecture_names()[self.prefecture_code] + self.county + self.name


@dataclass(frozen=True, slots=True)
class Program:
    """A subsidy program (制度) of the catalogue.

    ``houbetsu`` lists the 法別番号 its payer numbers may carry; ``implementing_bodies`` who may run it
    (実施主体); ``has_monthly_cap`` whether its monthly self-pay cap is shared across institutions on a
    上限額管理票; ``national`` whether its recipient numbers always carry a check digit.
    """

    code: str
    name: str
    houbetsu: tuple[str, ...]
    local: bool
    implementing_bodies: tuple[ImplementingBody, ...]
    has_monthly_cap: bool
    national: bool


def municipalities() -> tuple[Municipality, ...]:
    """Return every local government of the master, prefectures included, in code order."""
    return _municipalities()


def municipality(code: str) -> Municipality:
    """Return the local government with this 全国地方公共団体コード.

    Takes the 6-digit code, or the 5-digit code without its check digit (as Japan Post and JIS X 0402
    write it). Raises ``UnknownMunicipality`` with a Japanese message otherwise.
    """
    if not (code.isascii() and code.isdigit() and len(code) in (5, 6)):
        raise UnknownMunicipality(
            code, f"全国地方公共団体コード「{code}」は6桁（検証番号を除けば5桁）の数字ではありません。"
        )
    full = code if len(code) == 6 else code + str(municipality_check_digit(code))
    found = _municipality_index().get(full)
    if found is not None:
        return found
    expected = str(municipality_check_digit(full[:5]))
    if full[5] != expected:
        raise UnknownMunicipality(
            code,
            f"全国地方公共団体コード「{code}」の検証番号が正しくありません（{full[:5]} の検証番号は {expected}）。",
        )
    raise UnknownMunicipality(code, f"全国地方公共団体コード「{code}」の自治体は見つかりません。")


def prefectures() -> tuple[Municipality, ...]:
    """Return the 47 prefectures in code order (01 北海道 … 47 沖縄県)."""
    return tuple(m for m in _municipalities() if m.is_prefecture)


def municipalities_in(prefecture_code: str) -> tuple[Municipality, ...]:
    """Return the 市区町村 of one prefecture ("01".."47"), the prefecture itself excluded, in code order."""
    if prefecture_code not in _prefecture_names():
        raise UnknownMunicipality(
            prefecture_code, f"都道府県コード「{prefecture_code}」は 01〜47 のいずれでもありません。"
        )
    return tuple(m for m in _municipalities() if m.prefecture_code == prefecture_code and not m.is_prefecture)


def municipalities_named(name: str, prefecture_code: str | None = None) -> tuple[Municipality, ...]:
    """Return the local governments called ``name`` (e.g. 府中市 gives two), optionally in one prefecture.

    ``name`` may carry the 郡 (余市郡余市町); ヶ and ケ are treated alike (鎌ヶ谷市 finds 鎌ケ谷市).
    """
    wanted = _fold(name)
    return tuple(
        m
        for m in _municipalities()
        if wanted in (_fold(m.name), _fold(m.county + m.name))
        and (prefecture_code is None or m.prefecture_code == prefecture_code)
    )


def programs() -> tuple[Program, ...]:
    """Return the program catalogue in program-code order."""
    return _programs()


def program(code: str) -> Program:
    """Return the program with this program code (制度コード), or raise ``UnknownProgram``."""
    for candidate in _programs():
        if candidate.code == code:
            return candidate
    known = ", ".join(p.code for p in _programs())
    raise UnknownProgram(code, f"制度コード「{code}」はありません（使えるコード: {known}）。")


def implementing_body_refusal(program: Program, body: Municipality) -> str | None:
    """Return None when ``body`` may run ``program`` (実施主体), otherwise the reason in Japanese.

    e.g. 「特定医療費（指定難病）は都道府県・指定都市が実施主体です。町は登録できません。」
    """
    if any(_may_run(allowed, body) for allowed in program.implementing_bodies):
        return None
    allowed_labels = "・".join(BODY_LABELS[b] for b in program.implementing_bodies)
    return f"{program.name}は{allowed_labels}が実施主体です。{_refused_as(program, body)}は登録できません。"


def houbetsu_fits(program: Program, houbetsu: str) -> bool:
    """Whether a payer number's 法別番号 (its first two digits) is one this program uses.

    For a local program (``program.local``) a misfit is a warning to confirm, not a refusal: some
    prefectures number their 地単 outside 80–89 (Aomori uses 41, 43, 44).
    """
    return houbetsu in program.houbetsu


def _may_run(allowed: ImplementingBody, body: Municipality) -> bool:
    if allowed == "any":
        return True
    if allowed == "municipality":
        return not body.is_prefecture
    if allowed == "health_centre_city":
        # The law names 特別区 beside 保健所設置市 where it means them, so a ward qualifies only
        # where the table lists special_ward too (結核, 新感染症), not for 新型インフルエンザ.
        return body.health_centre_city and body.kind != "special_ward"
    if allowed == "child_guidance_centre_city":
        return body.child_guidance_centre_city
    return body.kind == allowed


def _refused_as(program: Program, body: Municipality) -> str:
    """Name the kind of the refused body, saying what it lacks when a city could have qualified."""
    label = KIND_LABELS[body.kind]
    if body.kind in ("city", "core_city", "special_ward"):
        if "child_guidance_centre_city" in program.implementing_bodies and not body.child_guidance_centre_city:
            return f"児童相談所を設置していない{label}"
        if "health_centre_city" in program.implementing_bodies and not body.health_centre_city:
            return f"保健所を設置していない{label}"
    return label


def _fold(name: str) -> str:
    return name.replace("ヶ", "ケ")


def _read_rows(file_name: str) -> list[dict[str, str]]:
    text = (resources.files("pmh.reference") / "data" / file_name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _flag(value: str) -> bool:
    if value not in ("0", "1"):
        raise ValueError(f"expected 0 or 1, got {value!r}")
    return value == "1"


@cache
def _municipalities() -> tuple[Municipality, ...]:
    return tuple(
        Municipality(
            code=row["code"],
            prefecture_code=row["prefecture_code"],
            name=row["name"],
            name_kana=row["name_kana"],
            county=row["county"],
            kind=_KINDS[row["kind"]],
            health_centre_city=_flag(row["health_centre_city"]),
            child_guidance_centre_city=_flag(row["child_guidance_centre_city"]),
        )
        for row in _read_rows("municipalities.csv")
    )


@cache
def _municipality_index() -> dict[str, Municipality]:
    return {m.code: m for m in _municipalities()}


@cache
def _prefecture_names() -> dict[str, str]:
    return {m.prefecture_code: m.name for m in _municipalities() if m.is_prefecture}


@cache
def _programs() -> tuple[Program, ...]:
    return tuple(
        Program(
            code=row["code"],
            name=row["name"],
            houbetsu=tuple(row["houbetsu"].split(";")),
            local=_flag(row["local"]),
            implementing_bodies=tuple(_BODIES[b] for b in row["implementing_bodies"].split(";")),
            has_monthly_cap=_flag(row["has_monthly_cap"]),
            national=_flag(row["national"]),
        )
        for row in _read_rows("programs.csv")
    )
