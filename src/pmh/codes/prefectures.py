"""The 47 prefectures (都道府県) and their two-digit numbers (都道府県番号, JIS X 0401)."""

from __future__ import annotations

from dataclasses import dataclass

from pmh.codes.text import hiragana_to_katakana, normalize_text


class UnknownPrefectureError(ValueError):
    """Raised when a prefecture code or name matches none of the 47 prefectures."""


@dataclass(frozen=True)
class Prefecture:
    """One prefecture (都道府県): its code, its name, the name without 都/府/県, and its reading."""

    code: str
    name: str
    short_name: str
    kana: str


def _prefecture(code: str, name: str, kana: str) -> Prefecture:
    """Build a :class:`Prefecture`, deriving the short name (東京都 → 東京; 北海道 stays whole)."""
    short_name = name if name == "北海道" else name[:-1]
    return Prefecture(code=code, name=name, short_name=short_name, kana=kana)


PREFECTURES: tuple[Prefecture, ...] = (
    _prefecture("01", "北海道", "ホッカイドウ"),
    _prefecture("02", "青森県", "アオモリケン"),
    _prefecture("03", "岩手県", "イワテケン"),
    _prefecture("04", "宮城県", "ミヤギケン"),
    _prefecture("05", "秋田県", "アキタケン"),
    _prefecture("06", "山形県", "ヤマガタケン"),
    _prefecture("07", "福島県", "フクシマケン"),
    _prefecture("08", "茨城県", "イバラキケン"),
    _prefecture("09", "栃木県", "トチギケン"),
    _prefecture("10", "群馬県", "グンマケン"),
    _prefecture("11", "埼玉県", "サイタマケン"),
    _prefecture("12", "千葉県", "チバケン"),
    _prefecture("13", "東京都", "トウキョウト"),
    _prefecture("14", "神奈川県", "カナガワケン"),
    _prefecture("15", "新潟県", "ニイガタケン"),
    _prefecture("16", "富山県", "トヤマケン"),
    _prefecture("17", "石川県", "イシカワケン"),
    _prefecture("18", "福井県", "フクイケン"),
    _prefecture("19", "山梨県", "ヤマナシケン"),
    _prefecture("20", "長野県", "ナガノケン"),
    _prefecture("21", "岐阜県", "ギフケン"),
    _prefecture("22", "静岡県", "シズオカケン"),
    _prefecture("23", "愛知県", "アイチケン"),
    _prefecture("24", "三重県", "ミエケン"),
    _prefecture("25", "滋賀県", "シガケン"),
    _prefecture("26", "京都府", "キョウトフ"),
    _prefecture("27", "大阪府", "オオサカフ"),
    _prefecture("28", "兵庫県", "ヒョウゴケン"),
    _prefecture("29", "奈良県", "ナラケン"),
    _prefecture("30", "和歌山県", "ワカヤマケン"),
    _prefecture("31", "鳥取県", "トットリケン"),
    _prefecture("32", "島根県", "シマネケン"),
    _prefecture("33", "岡山県", "オカヤマケン"),
    _prefecture("34", "広島県", "ヒロシマケン"),
    _prefecture("35", "山口県", "ヤマグチケン"),
    _prefecture("36", "徳島県", "トクシマケン"),
    _prefecture("37", "香川県", "カガワケン"),
    _prefecture("38", "愛媛県", "エヒメケン"),
    _prefecture("39", "高知県", "コウチケン"),
    _prefecture("40", "福岡県", "フクオカケン"),
    _prefecture("41", "佐賀県", "サガケン"),
    _prefecture("42", "長崎県", "ナガサキケン"),
    _prefecture("43", "熊本県", "クマモトケン"),
    _prefecture("44", "大分県", "オオイタケン"),
    _prefecture("45", "宮崎県", "ミヤザキケン"),
    _prefecture("46", "鹿児島県", "カゴシマケン"),
    _prefecture("47", "沖縄県", "オキナワケン"),
)

_BY_CODE: dict[str, Prefecture] = {p.code: p for p in PREFECTURES}


def _short_kana(p: Prefecture) -> str:
    """Return the reading without the suffix (トウキョウト → トウキョウ, オオサカフ → オオサカ)."""
    if p.name == "北海道":
        return p.kana
    suffix = {"都": "ト", "府": "フ", "県": "ケン"}[p.name[-1]]
    return p.kana.removesuffix(suffix)


def _name_index() -> dict[str, str]:
    """Map every accepted spelling (full and short name, full and short reading) to its code."""
    index: dict[str, str] = {}
    for p in PREFECTURES:
        for spelling in (p.name, p.short_name, p.kana, _short_kana(p)):
            index[spelling] = p.code
    return index


_BY_NAME: dict[str, str] = _name_index()


def is_prefecture_code(code: str) -> bool:
    """Return whether ``code`` is one of the two-digit prefecture numbers 01–47."""
    return code in _BY_CODE


def get_prefecture(code: str) -> Prefecture:
    """Return the prefecture with this two-digit code (full-width digits and spaces tolerated)."""
    key = normalize_text(code)
    if key.isascii() and key.isdigit() and len(key) == 1:
        key = "0" + key
    try:
        return _BY_CODE[key]
    except KeyError:
        raise UnknownPrefectureError(f"都道府県番号「{code}」は01〜47のいずれかではありません") from None


def prefecture_name(code: str) -> str:
    """Return the prefecture's name for its code: ``"13"`` → ``"東京都"``."""
    return get_prefecture(code).name


def prefecture_code(name: str) -> str:
    """Return the two-digit code of a prefecture named in any usual way.

    Accepts the full name (東京都), the name without 都/府/県 (東京, 大阪), the katakana or hiragana
    reading with or without the suffix (トウキョウ, おおさかふ), and the code itself (13, １３, 1).
    Matching is exact after normalisation — 京都 is 京都府, never a part of 東京都.
    """
    key = hiragana_to_katakana(normalize_text(name)).replace(" ", "")
    if key.isascii() and key.isdigit():
        return get_prefecture(key).code
    try:
        return _BY_NAME[key]
    except KeyError:
        raise UnknownPrefectureError(f"都道府県名「{name}」に当てはまる都道府県がありません") from None
