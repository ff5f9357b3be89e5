"""Name keys and the identity comparison of the linking guard (紐づけ誤り防止).

A certificate found its person by My Number; before the link is used, its name and birth date are
compared with that person's insurance record. The comparison must link one person written in two
notations (髙橋/高橋, 「山田　太郎」/「山田太郎」, ﾔﾏﾀﾞ/ヤマダ) and must never link two people — above all
the ones a wrong My Number realistically leads to: a family member (same surname, other given name,
usually another birth date) and a twin (same surname and birth date, other given name).

The rule (:func:`compare_identity`):

1. The birth dates must be equal. Nothing else can make up for a different birth date.
2. The names match when their :func:`name_key` are equal (width, spaces, variant kanji, 々 folded,
   and what 行政事務標準文字 writes beyond JIS X 0213 degenerated to it: 辻󠄀 = 辻, 𠮷 = 吉).
   The kana reading may then differ (legacy systems write キヨウコ for キョウコ, サトー for サトウ);
   the folded kanji name plus the birth date already identify the person.
3. Otherwise the names match only when the :func:`kana_key` are equal *and* the kanji keys have the
   same length and differ in at most two positions, each of which is
   - a 外字 placeholder (〓, ■, ●, ?, … — a character the sending system could not write), or
   - a kanji in the *surname*, at most one such position (斉藤/斎藤, 伊藤/伊東: different characters
     that are confused, or variants the table does not list). Where the surname ends is read from the
     space between surname and given name on either side; without one, this case is held.
   Differences in the given name are never excused by the reading: twins and siblings share the
   surname, so a given-name difference is exactly what tells them apart, even when the two given
   names sound the same (優/悠).
4. When a side has no kanji name, the kana keys must be equal.

Anything else is held for review with the reasons in Japanese.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Literal

from pmh.codes.charsets import to_jisx0213
from pmh.codes.text import normalize_kana, normalize_text
from pmh.registry.variants import folding_map, is_ideograph

MismatchCode = Literal["birth_date_mismatch", "name_mismatch", "kanji_mismatch", "kana_mismatch", "name_missing"]
"""Why a comparison failed: the codes stored with a held certificate."""

NameRule = Literal["same_key", "kana_confirmed", "kana_only"]
"""Which part of the name rule linked the names (module docstring, steps 2, 3 and 4)."""

PLACEHOLDERS = frozenset("〓■□●○◆◇?*")
"""Characters sending systems write for a 外字 they cannot output (after :func:`normalize_text`,
so the full-width ？ and ＊ are included)."""

_VARIATION_SELECTORS = (range(0xFE00, 0xFE10), range(0xE0100, 0xE01F0))
_SEPARATORS = " ・"
_MAX_DIFFERENCES = 2
_MAX_SURNAME_DIFFERENCES = 1


@cache
def _name_translation() -> dict[int, str | None]:
    """Return the ``str.translate`` table of :func:`name_key` (everything but 々, which needs context)."""
    table: dict[int, str | None] = {ord(char): target for char, target in folding_map().items()}
    for block in _VARIATION_SELECTORS:
        table.update(dict.fromkeys(block))
    table.update(dict.fromkeys(map(ord, _SEPARATORS)))
    table[ord("ヶ")] = "ケ"
    table.update({code: chr(code - 32) for code in range(ord("a"), ord("z") + 1)})
    return table


_KANA_TRANSLATION: dict[int, str | None] = {
    ord(" "): None,
    ord("・"): None,
    ord("ヰ"): "イ",
    ord("ヱ"): "エ",
}


def _expand_iteration_marks(text: str, marks: str, voiced: str = "") -> str:
    """Replace each iteration mark by the character before it (佐々木 → 佐佐木, サヽキ → ササキ)."""
    out: list[str] = []
    for char in text:
        if out and char in marks:
            out.append(out[-1])
        elif out and char in voiced:
            joined = normalize_text(out[-1] + "\u3099")
            out.append(joined if len(joined) == 1 else char)
        else:
            out.append(char)
    return "".join(out)


def name_key(name: str) -> str:
    """Return the form of a kanji name (氏名) that notation variants share.

    Width and spacing are normalised (:func:`normalize_text`), the name degenerated to JIS X 0213
    (:func:`pmh.codes.charsets.to_jisx0213`: the selector of an IVS over a JIS X 0213 character
    dropped, an MJ character outside it mapped by the MJ縮退マップ when it gives one counterpart, any
    other kept as its base character), every space and ・ removed, variation selectors dropped, variant and old
    kanji folded to one representative (髙 → 高, 﨑 → 崎, 邊 → 辺, compatibility ideographs to their
    unified form), 々 spelled out (佐々木 → 佐佐木), ヶ → ケ and
    Latin letters upper-cased. Different characters are never folded together (斉 and 斎 stay apart).
    """
    key = normalize_text(name)
    if not key.isascii():
        key = to_jisx0213(key, keep_missing=True, unique=True)[0]
    key = key.translate(_name_translation())
    if "々" in key or "〻" in key:
        key = _expand_iteration_marks(key, "々〻")
    if "\u3099" in key or "\u309a" in key:
        # A voicing mark that stood after a removed space or a 々 joins the kana before it only now.
        key = normalize_text(key)
    return key


def kana_key(kana: str) -> str:
    """Return the form of a kana reading (氏名カナ) that notation variants share.

    Half-width kana and hiragana become katakana (:func:`normalize_kana`), spaces and ・ are removed,
    the old kana ヰ and ヱ become イ and エ, and the iteration marks ヽ ヾ are spelled out. Small and
    large kana (ョ/ヨ), ヅ/ズ, ヂ/ジ, ヲ/オ and long vowels (ー/ウ) stay distinct: readings that differ
    only there are not assumed to be one name.
    """
    key = normalize_kana(kana).translate(_KANA_TRANSLATION)
    if "ヽ" in key or "ヾ" in key:
        key = _expand_iteration_marks(key, "ヽ", "ヾ")
    if "\u3099" in key or "\u309a" in key:
        key = normalize_kana(key)
    return key


@dataclass(frozen=True, slots=True)
class IdentityFacts:
    """The facts the guard compares: 氏名, 氏名カナ and 生年月日, as written on one side."""

    name: str
    name_kana: str
    birth_date: dt.date


@dataclass(frozen=True, slots=True)
class IdentityMatch:
    """The outcome of :func:`compare_identity`.

    ``codes`` and ``reasons`` (Japanese, for the review queue) are empty when ``matched``;
    ``name_rule`` says which part of the name rule linked the names (``None`` when they did not).
    """

    matched: bool
    codes: tuple[MismatchCode, ...] = ()
    reasons: tuple[str, ...] = ()
    name_rule: NameRule | None = None


def compare_identity(certificate: IdentityFacts, record: IdentityFacts) -> IdentityMatch:
    """Decide whether a certificate and the insurance record found by its My Number are one person.

    The rule is in the module docstring. The result does not depend on which side is which, except
    for the order of the two dates in the birth-date reason.
    """
    codes: list[MismatchCode] = []
    reasons: list[str] = []
    if certificate.birth_date != record.birth_date:
        codes.append("birth_date_mismatch")
        reasons.append(
            f"生年月日が一致しません（受給者証 {certificate.birth_date.isoformat()}／"
            f"保険資格 {record.birth_date.isoformat()}）"
        )
    rule, problem = _compare_names(certificate, record)
    if problem is not None:
        codes.append(problem[0])
        reasons.append(problem[1])
    if codes:
        return IdentityMatch(matched=False, codes=tuple(codes), reasons=tuple(reasons), name_rule=rule)
    return IdentityMatch(matched=True, name_rule=rule)


def _compare_names(a: IdentityFacts, b: IdentityFacts) -> tuple[NameRule | None, tuple[MismatchCode, str] | None]:
    """Apply the name rule; return the rule that linked the names or the mismatch code and reason."""
    key_a, key_b = name_key(a.name), name_key(b.name)
    if key_a and key_a == key_b:
        return "same_key", None
    kana_a, kana_b = kana_key(a.name_kana), kana_key(b.name_kana)
    same_kana = bool(kana_a) and kana_a == kana_b
    if not key_a or not key_b:
        if not kana_a or not kana_b:
            return None, ("name_missing", "氏名・氏名カナがないため照合できません")
        if same_kana:
            return "kana_only", None
        return None, ("kana_mismatch", "氏名カナが一致しません（漢字氏名がないためカナで照合）")
    if not same_kana:
        return None, ("name_mismatch", "氏名が一致しません（漢字・カナとも）")
    positions = _differing_positions(key_a, key_b)
    surname_length = _surname_length(a.name, b.name)
    if positions is not None and _differences_excused(key_a, key_b, positions, surname_length):
        return "kana_confirmed", None
    return None, ("kanji_mismatch", _kanji_mismatch_reason(positions, surname_length))


def _kanji_mismatch_reason(positions: list[int] | None, surname_length: int | None) -> str:
    """Word the hold of names that read alike but are written differently, saying where they differ."""
    if positions is not None and surname_length is not None:
        if any(i >= surname_length for i in positions):
            return "氏名（漢字）の名が一致しません（カナは一致。同じ読みの別人（双子・きょうだい）の場合があります）"
        return "氏名（漢字）の氏が一致しません（カナは一致。異体字・外字の可能性があります）"
    return "氏名（漢字）が一致しません（カナは一致）"


def _differing_positions(key_a: str, key_b: str) -> list[int] | None:
    """Return where two equally long keys differ, or ``None`` when too far apart to be one name."""
    if len(key_a) != len(key_b):
        return None
    positions = [i for i, (x, y) in enumerate(zip(key_a, key_b, strict=True)) if x != y]
    return positions if len(positions) <= _MAX_DIFFERENCES else None


def _differences_excused(key_a: str, key_b: str, positions: list[int], surname_length: int | None) -> bool:
    """Whether every difference of two keys is a 外字 placeholder or a single kanji in the surname."""
    surname_kanji = 0
    for i in positions:
        x, y = key_a[i], key_b[i]
        if x in PLACEHOLDERS or y in PLACEHOLDERS:
            continue
        if surname_length is None or i >= surname_length or not (is_ideograph(x) and is_ideograph(y)):
            return False
        surname_kanji += 1
    return surname_kanji <= _MAX_SURNAME_DIFFERENCES


def _surname_length(name_a: str, name_b: str) -> int | None:
    """Return the length of the surname in key characters, read from the space after it.

    Either side's space will do; when both have one they must agree, and when neither has one the
    surname is unknown (``None``).
    """
    lengths = {_surname_key_length(name) for name in (name_a, name_b)} - {None}
    if len(lengths) != 1:
        return None
    return lengths.pop()


def _surname_key_length(name: str) -> int | None:
    """Return the key length of the part before the first space, or ``None`` without a space."""
    surname, space, given = normalize_text(name).partition(" ")
    if not space or not surname or not given:
        return None
    return len(name_key(surname))
