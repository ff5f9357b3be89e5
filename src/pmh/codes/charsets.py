"""Names as municipal systems write them, and the forms a receiver that knows fewer characters gets.

Municipal core systems standardised since FY2025 keep residents' names in 行政事務標準文字, which is
built on the MJ 文字情報基盤 (about 60,000 kanji). A name may therefore contain

- an **Ideographic Variation Sequence** (IVS): a standard ideograph followed by a variation selector
  (U+E0100–U+E01EF, or U+FE00–U+FE0F) that picks one glyph registered in the IVD (the Moji_Joho
  collection for MJ): 辻 + U+E0100 is 辻 with the one-dot 辶;
- an **MJ character outside JIS X 0213**: an ordinary Unicode ideograph (𠮷 U+20BB7, 髙 U+9AD9 …)
  that the JIS sets do not have.

Neither is a 外字. A 外字 is a private-use code point (U+E000–U+F8FF, planes 15–16: the CP932
user-defined area, 文字情報基盤暫定私用コード) whose meaning only the sending municipality knows; those
still need its 外字対応表 (``pmh.registry.parsing``).

The name of record is kept exactly as sent. :func:`derive_name_forms` derives, once, at import:

- the **JIS X 0213 form**: the selector of an IVS whose base is in JIS X 0213 is dropped (辻󠄀 → 辻);
  any other character outside JIS X 0213 goes through the MJ縮退マップ (MJ shrink map of IPA /
  文字情報技術促進協議会), rules tried in the order JIS包摂規準・UCS統合規則, 法務省告示582号別表第四,
  法務省戸籍法関連通達・通知, 読み・字形による類推 (髙 → 高, 𠮷 → 吉);
- the **JIS X 0208 form**: from the JIS X 0213 form, the 国税庁 JIS縮退マップ (麴 → 麹, 﨑 → 崎,
  鷗 → 鴎).

A character with no counterpart in a set is written 〓 (ゲタ, what レセプト電算 and most Japanese systems
write for a character they cannot hold) and reported in ``missing_jisx0213`` / ``missing_jisx0208``
— never dropped silently. Both maps come with the ``jntajis`` package (jntajis-python, BSD-3-Clause;
the maps are CC BY-SA 2.1 JP and CC BY 4.0, see NOTICE).

Membership tests use Python's codecs: JIS X 0213 is what ``euc_jis_2004`` / ``shift_jis_2004``
encode; JIS X 0208 is what ``iso2022_jp`` encodes (ASCII plus JIS X 0208 and nothing else), plus the
characters Microsoft's table maps a JIS X 0208 code to differently (～ ∥ － ￢, the forms CP932 files
carry).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import jntajis

GETA = "〓"
"""What a derived form holds for a character its set has no counterpart for (ゲタ記号, 1-02-14)."""

IVS_SELECTORS = range(0xE0100, 0xE01F0)
"""Variation selectors 17–256 (U+E0100–U+E01EF), the ones the IVD registers ideograph glyphs with."""

STANDARD_SELECTORS = range(0xFE00, 0xFE10)
"""Variation selectors 1–16 (U+FE00–U+FE0F): standardized variation sequences (CJK compatibility)."""

_PRIVATE_USE = (range(0xE000, 0xF900), range(0xF0000, 0x110000))

# The JIS X 0208 codes that Microsoft's table (CP932) maps to other code points than JIS's does.
_MS_JISX0208 = frozenset("\uff5e\u2225\uff0d\uffe2\u2015")
# JIS X 0213 characters that no Python codec encodes because of the mapping variants.
_EXTRA_JISX0213 = frozenset("\u2014\uffe2")

# MJ縮退マップ rules, tried in this order; each step adds one rule to the ones before.
_MJ = jntajis.MJShrinkSchemeCombo
_MJ_STEPS = (
    _MJ.JIS_INCORPORATION_UCS_UNIFICATION_RULE,
    _MJ.JIS_INCORPORATION_UCS_UNIFICATION_RULE | _MJ.MOJ_NOTICE_582,
    _MJ.JIS_INCORPORATION_UCS_UNIFICATION_RULE | _MJ.MOJ_NOTICE_582 | _MJ.MOJ_FAMILY_REGISTER_ACT_RELATED_NOTICE,
    _MJ.JIS_INCORPORATION_UCS_UNIFICATION_RULE
    | _MJ.MOJ_NOTICE_582
    | _MJ.MOJ_FAMILY_REGISTER_ACT_RELATED_NOTICE
    | _MJ.INFERENCE_BY_READING_AND_GLYPH,
)
_NO_COUNTERPART = "\ufffd"


def is_selector(char: str) -> bool:
    """Return whether ``char`` is a variation selector (U+FE00–FE0F or U+E0100–E01EF)."""
    code = ord(char)
    return code in IVS_SELECTORS or code in STANDARD_SELECTORS


def is_private_use(char: str) -> bool:
    """Return whether ``char`` is a private-use code point: a 外字 only its sender can read."""
    code = ord(char)
    return any(code in block for block in _PRIVATE_USE)


def is_han(char: str) -> bool:
    """Return whether ``char`` is a CJK ideograph (unified, extensions A–I, compatibility)."""
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x3FFFF
        or char in "々〆〇"
    )


def _encodes(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


@lru_cache(maxsize=65_536)
def in_jisx0213(char: str) -> bool:
    """Return whether one character is in JIS X 0213 (including JIS X 0208 and ASCII)."""
    return char in _EXTRA_JISX0213 or _encodes(char, "euc_jis_2004") or _encodes(char, "shift_jis_2004")


@lru_cache(maxsize=65_536)
def in_jisx0208(char: str) -> bool:
    """Return whether one character is in JIS X 0208 (or ASCII), in either the JIS or Microsoft mapping."""
    return char in _MS_JISX0208 or _encodes(char, "iso2022_jp")


def graphemes(text: str) -> list[str]:
    """Split ``text`` into characters, each with the variation selectors that follow it.

    A selector at the start of the text stands alone (callers refuse it).
    """
    out: list[str] = []
    for char in text:
        if out and is_selector(char):
            out[-1] += char
        else:
            out.append(char)
    return out


def misplaced_selectors(text: str) -> list[str]:
    """Return the selectors of ``text`` that do not directly follow an ideograph (they select nothing)."""
    return [char for i, char in enumerate(text) if is_selector(char) and (i == 0 or not is_han(text[i - 1]))]


def code_points(text: str) -> str:
    """Write a character (with its selectors) as U+XXXX code points joined by ``+``: U+8FBB+U+E0100."""
    return "+".join(f"U+{ord(char):04X}" for char in text)


@lru_cache(maxsize=65_536)
def _to_jisx0213(grapheme: str, unique: bool = False) -> str | None:
    """Return the JIS X 0213 counterpart of one character (with selectors), or ``None`` when none.

    The rules of the MJ縮退マップ are tried one more at a time; the first step that gives any
    candidate decides. Some characters have several (袏 → 佐 or 祐 by 法務省告示582号): the first is
    taken, or with ``unique`` none at all (the linking guard does not guess).
    """
    base = grapheme[0]
    if len(grapheme) > 1 and in_jisx0213(base):
        return base  # an IVS of a JIS X 0213 character: the selector only picks a glyph
    for candidate in (grapheme, base) if len(grapheme) > 1 else (grapheme,):
        for step in _MJ_STEPS:
            found = [
                shrunk
                for shrunk in jntajis.mj_shrink_candidates(candidate, int(step))
                if shrunk != candidate and shrunk and all(in_jisx0213(char) for char in shrunk)
            ]
            if found:
                return found[0] if len(set(found)) == 1 or not unique else None
    return None


@lru_cache(maxsize=65_536)
def _to_jisx0208(char: str) -> str | None:
    """Return the JIS X 0208 counterpart of one JIS X 0213 character, or ``None`` when none."""
    shrunk = jntajis.jnta_shrink_translit(char, _NO_COUNTERPART)
    if shrunk and _NO_COUNTERPART not in shrunk and all(in_jisx0208(c) for c in shrunk):
        return shrunk
    return None


@dataclass(frozen=True, slots=True)
class NameForms:
    """A name of record and what receivers with fewer characters get.

    ``missing_jisx0213`` and ``missing_jisx0208`` list the characters of the original (with their
    selectors) that have no counterpart in the set and are written 〓 in its form.
    """

    original: str
    jisx0213: str
    jisx0208: str
    missing_jisx0213: tuple[str, ...] = ()
    missing_jisx0208: tuple[str, ...] = ()

    @property
    def unmapped(self) -> str:
        """The characters without a counterpart, as stored with a certificate version ('' when none).

        ``JIS X 0213: U+…; JIS X 0208: U+…`` — a character without a JIS X 0213 counterpart has
        none in JIS X 0208 either, so it is listed only under JIS X 0213.
        """
        parts = []
        if self.missing_jisx0213:
            parts.append("JIS X 0213: " + " ".join(code_points(c) for c in self.missing_jisx0213))
        only_0208 = [c for c in self.missing_jisx0208 if c not in self.missing_jisx0213]
        if only_0208:
            parts.append("JIS X 0208: " + " ".join(code_points(c) for c in only_0208))
        return "; ".join(parts)


def to_jisx0213(text: str, *, keep_missing: bool = False, unique: bool = False) -> tuple[str, tuple[str, ...]]:
    """Return the JIS X 0213 form of ``text`` and the characters that had no counterpart.

    Those are written 〓, or with ``keep_missing`` as their base character (the selector dropped).
    ``unique`` takes a mapping only when the map gives one counterpart. Both are what the linking
    guard compares: two different characters never become the same 〓, nor a guess.
    """
    if text.isascii() or (_encodes(text, "euc_jis_2004") and not any(is_selector(c) for c in text)):
        return text, ()
    out: list[str] = []
    missing: list[str] = []
    for grapheme in graphemes(text):
        if len(grapheme) == 1 and in_jisx0213(grapheme):
            out.append(grapheme)
            continue
        shrunk = _to_jisx0213(grapheme, unique)
        if shrunk is None:
            out.append(grapheme[0] if keep_missing else GETA)
            missing.append(grapheme)
        else:
            out.append(shrunk)
    return "".join(out), tuple(dict.fromkeys(missing))


def derive_name_forms(name: str) -> NameForms:
    """Return the name of record with its JIS X 0213 and JIS X 0208 forms (module docstring)."""
    jisx0213, missing_jisx0213 = to_jisx0213(name)
    if jisx0213.isascii() or _encodes(jisx0213, "iso2022_jp"):
        return NameForms(name, jisx0213, jisx0213, missing_jisx0213, missing_jisx0213)
    out: list[str] = []
    missing: list[str] = list(missing_jisx0213)
    originals = _originals(name, jisx0213)
    for index, char in enumerate(jisx0213):
        if in_jisx0208(char):
            out.append(char)
            continue
        shrunk = _to_jisx0208(char)
        if shrunk is None:
            out.append(GETA)
            missing.append(originals.get(index, char))
        else:
            out.append(shrunk)
    return NameForms(name, jisx0213, "".join(out), missing_jisx0213, tuple(dict.fromkeys(missing)))


def _originals(name: str, jisx0213: str) -> dict[int, str]:
    """Map positions of the JIS X 0213 form to the original character they came from, where 1:1."""
    pieces = graphemes(name)
    if len(pieces) != len(jisx0213):
        return {}  # a map gave several characters for one: report the derived character itself
    return dict(enumerate(pieces))


NameSet = Literal["original", "jisx0213", "jisx0208"]
"""Which characters a receiver of a name can hold."""

RECEIVER_NAME_SETS: dict[str, NameSet] = {
    "json": "original",
    "xml": "original",
    "fhir": "original",
    "orca": "jisx0208",
}
"""The form of the name each eligibility format carries as *the* name (docs/eligibility-formats.md).

JSON, XML (UTF-8) and FHIR carry the name of record, and next to it the JIS X 0213 form for
receivers that cannot show IVS or MJ glyphs; ORCA takes JIS X 0208 (its EUC-JP databases, and
レセプト電算, hold nothing more), with the original beside it under ``pmh_name``.
"""


def receiver_name(name: str, receiver: str) -> str:
    """Return the form of ``name`` that ``receiver`` (an eligibility format) carries as the name."""
    chosen = RECEIVER_NAME_SETS.get(receiver, "original")
    if chosen == "original":
        return name
    forms = derive_name_forms(name)
    return forms.jisx0213 if chosen == "jisx0213" else forms.jisx0208
