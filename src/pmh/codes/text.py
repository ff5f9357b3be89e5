"""Text normalisation for municipal files that folds width and spacing but never changes meaning.

What is folded, and why:

- Full-width ASCII (Ａ１！－ …, U+FF01–FF5E) becomes ASCII; the ideographic space and every other
  Unicode space become one ASCII space; runs of spaces collapse; both ends are stripped.
- Half-width katakana (ｶﾞｷﾞ ｰ ･ ｢｣ …) becomes full-width, with ﾞ/ﾟ joined to the preceding kana
  (ｶﾞ → ガ, ﾜﾞ → ヷ). A ﾞ/ﾟ that cannot join stays as the spacing mark ゛/゜.
  Combining marks U+3099/U+309A (macOS writes ガ as カ + U+3099) are joined the same way.
- Dashes and tildes: the long-vowel mark ー is never touched; half-width ｰ becomes ー. Full-width
  hyphen-minus － and the minus sign − become ASCII ``-`` (Shift_JIS and CP932 decode the same
  byte to one or the other, and both mean a hyphen in addresses and a minus in amounts). Full-width
  tilde ～ becomes the wave dash 〜 (again one Shift_JIS byte, two decodings) — not ASCII ``~``.
  Other dashes (‐ – — ―) are left as they are.
- The invisible zero-width space U+200B and stray byte-order marks U+FEFF are removed.

What is deliberately not folded: kanji (old and variant forms such as 髙, 﨑 and CJK compatibility
ideographs stay exactly as written — the linking guard compares variants itself), and compatibility
characters such as ①, ㈱, ㍻, Ⅳ, ㌔ and the full-width ￥ sign. That is why this module never applies
NFKC (which rewrites those) or even NFC (which rewrites some compatibility ideographs) to a whole
string.
"""

from __future__ import annotations

import unicodedata

_COMBINING_VOICED = "\u3099"
_COMBINING_SEMI_VOICED = "\u309a"
_HALF_VOICED = "\uff9e"
_HALF_SEMI_VOICED = "\uff9f"
_SPACING_MARK = {_HALF_VOICED: "\u309b", _HALF_SEMI_VOICED: "\u309c"}
_JOINING_MARK = {
    _HALF_VOICED: _COMBINING_VOICED,
    _HALF_SEMI_VOICED: _COMBINING_SEMI_VOICED,
    _COMBINING_VOICED: _COMBINING_VOICED,
    _COMBINING_SEMI_VOICED: _COMBINING_SEMI_VOICED,
}
_REMOVED = frozenset("\u200b\ufeff")
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def _fold_char(char: str) -> str:
    """Return the width-folded form of one character (marks are handled by the caller)."""
    code = ord(char)
    if char == "～":
        return "〜"
    if 0xFF01 <= code <= 0xFF5E:
        return chr(code - 0xFEE0)
    if char == "−":
        return "-"
    if 0xFF61 <= code <= 0xFF9D:
        # NFKC of a single half-width katakana or its punctuation is exactly its full-width form.
        return unicodedata.normalize("NFKC", char)
    return char


def _join_mark(previous: str, mark: str) -> str | None:
    """Return ``previous`` with a (semi-)voiced mark joined, or ``None`` when no such kana exists."""
    if not previous:
        return None
    joined = unicodedata.normalize("NFC", previous + mark)
    return joined if len(joined) == 1 else None


def _fold_width(text: str) -> str:
    """Fold full-width ASCII to ASCII and half-width katakana to full width, joining voiced marks."""
    out: list[str] = []
    for char in text:
        if char in _REMOVED:
            continue
        if char in _JOINING_MARK:
            joined = _join_mark(out[-1] if out else "", _JOINING_MARK[char])
            if joined is not None:
                out[-1] = joined
            else:
                out.append(_SPACING_MARK.get(char, char))
            continue
        out.append(_fold_char(char))
    return "".join(out)


def _normalize_spaces(text: str) -> str:
    """Turn every kind of space into one ASCII space, collapse runs and strip both ends."""
    return " ".join("".join(" " if char.isspace() else char for char in text).split())


def normalize_text(text: str) -> str:
    """Normalise width and spacing of a text field without changing what it says.

    See the module docstring for exactly what is folded and what is kept.
    """
    return _normalize_spaces(_fold_width(text))


def normalize_digits(text: str) -> str:
    """Fold full-width digits (０–９) to ASCII and strip surrounding spaces; touch nothing else."""
    return text.translate(_FULLWIDTH_DIGITS).strip()


def hiragana_to_katakana(text: str) -> str:
    """Convert hiragana (ひらがな) to katakana, including ゔ, ゕ, ゖ and the marks ゝ ゞ; keep the rest."""
    out: list[str] = []
    for char in text:
        code = ord(char)
        if 0x3041 <= code <= 0x3096 or code in (0x309D, 0x309E):
            out.append(chr(code + 0x60))
        else:
            out.append(char)
    return "".join(out)


def _is_katakana_letter(char: str) -> bool:
    """Return whether ``char`` is a full-width katakana letter (ァ–ヺ) or iteration mark (ヽ ヾ)."""
    return "ァ" <= char <= "ヺ" or char in "ヽヾ"


def is_katakana(text: str) -> bool:
    """Return whether ``text`` is a katakana (カタカナ) reading such as a 氏名カナ.

    Allowed: full-width katakana letters, the long-vowel mark ー, the middle dot ・ and spaces
    (ASCII or ideographic); at least one letter is required. Hyphens, half-width kana and hiragana
    are not katakana — run :func:`normalize_kana` first to fold the last two.
    """
    has_letter = False
    for char in text:
        if _is_katakana_letter(char):
            has_letter = True
        elif char not in "ー・ \u3000":
            return False
    return has_letter


def normalize_kana(text: str) -> str:
    """Normalise a kana reading: half-width to full-width, hiragana to katakana, one ASCII space.

    Hyphens are not turned into ー: a hyphen in a reading may be a typo for ー or a real separator,
    and guessing would silently change a name; :func:`is_katakana` rejects it instead.
    Hiragana become katakana before the voiced marks are joined, since some marks join only in
    katakana (わ + ゙ has no precomposed hiragana, ワ + ゙ is ヷ).
    """
    return normalize_text(hiragana_to_katakana(text))
