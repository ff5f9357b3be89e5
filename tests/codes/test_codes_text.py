"""Text normalisation that folds width and spacing and never changes meaning."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmh.codes import (
    hiragana_to_katakana,
    is_katakana,
    normalize_digits,
    normalize_kana,
    normalize_text,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＢＣ１２３", "ABC123"),
        ("ａｂｃ！？＠（）", "abc!?@()"),
        ("ｶﾞｷﾞｸﾞｹﾞｺﾞ", "ガギグゲゴ"),
        ("ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ", "パピプペポ"),
        ("ｳﾞｧｲｵﾘﾝ", "ヴァイオリン"),
        ("ﾜﾞ", "ヷ"),
        ("ﾔﾏﾀﾞ\u3000ﾀﾛｳ", "ヤマダ タロウ"),
        ("ｽｰﾊﾟｰ", "スーパー"),
        ("｢ｱｲｳ｣､｡･", "「アイウ」、。・"),
        ("ｱﾞ", "ア゛"),
        ("ﾞ", "゛"),
        ("カ\u3099", "ガ"),
        ("ハ\u309a", "パ"),
        ("か\u3099", "が"),
        ("山田\u3000\u3000太郎", "山田 太郎"),
        ("  山田 \t 太郎\n", "山田 太郎"),
        ("\u00a0東京\u2003都\u200b", "東京 都"),
        ("\ufeff山田", "山田"),
        ("１－２－３", "1-2-3"),
        ("１−２", "1-2"),
        ("4月～6月", "4月〜6月"),
        ("4月〜6月", "4月〜6月"),
        ("ラーメン", "ラーメン"),
        ("ﾗｰﾒﾝ", "ラーメン"),
        ("A‐B―C—D–E", "A‐B―C—D–E"),
        ("①㈱㍻Ⅳ㌔", "①㈱㍻Ⅳ㌔"),
        ("髙橋 﨑 邊 塚 神", "髙橋 﨑 邊 塚 神"),
        ("ﬁ ＄", "ﬁ $"),
        ("￥１，０００", "￥1,000"),
        ("", ""),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_normalize_text_leaves_cjk_compatibility_ideographs_alone() -> None:
    # NFC would turn U+F900 into U+8C48 and U+FA30 into U+4FAE; both must survive.
    assert normalize_text("\uf900\ufa30") == "\uf900\ufa30"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("０１２３４５６７８９", "0123456789"),
        ("\u3000１２\u3000", "12"),
        ("ＡＢ１", "ＡＢ1"),
        ("１－２", "1－2"),
        (" 54016027 ", "54016027"),
    ],
)
def test_normalize_digits_folds_digits_only(raw: str, expected: str) -> None:
    assert normalize_digits(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("やまだ たろう", "ヤマダ タロウ"),
        ("ゔぁ", "ヴァ"),
        ("ゕゖ", "ヵヶ"),
        ("いすゞ", "イスヾ"),
        ("ゝ", "ヽ"),
        ("らーめん", "ラーメン"),
        ("山田たろう", "山田タロウ"),
        ("カタカナ", "カタカナ"),
    ],
)
def test_hiragana_to_katakana(raw: str, expected: str) -> None:
    assert hiragana_to_katakana(raw) == expected


@pytest.mark.parametrize(
    "text", ["ヤマダ タロウ", "ヤマダ\u3000タロウ", "スミス・ジョン", "ヴァン", "ラーメン", "イスヾ", "ヶ"]
)
def test_is_katakana_accepts_readings(text: str) -> None:
    assert is_katakana(text)


@pytest.mark.parametrize(
    "text",
    ["", " ", "ー", "・", "やまだ", "ﾔﾏﾀﾞ", "ヤマダ-タロウ", "ヤマダ－タロウ", "山田", "ヤマダ1", "ヤマダA"],
)
def test_is_katakana_refuses_other_text(text: str) -> None:
    assert not is_katakana(text)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ タロウ"),
        ("やまだ\u3000\u3000たろう", "ヤマダ タロウ"),
        (" ｽｽﾞｷ\u3000はなこ ", "スズキ ハナコ"),
        ("ヤマダ-タロウ", "ヤマダ-タロウ"),
    ],
)
def test_normalize_kana(raw: str, expected: str) -> None:
    assert normalize_kana(raw) == expected


@settings(max_examples=500)
@given(st.text())
def test_normalize_text_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


_JAPANESE_ALPHABET = st.one_of(
    st.characters(min_codepoint=0x3000, max_codepoint=0x30FF),
    st.characters(min_codepoint=0xFF00, max_codepoint=0xFFEF),
    st.sampled_from(["\u3099", "\u309a", " ", "\t", "\u200b", "ｶ", "ﾞ", "ﾟ"]),
)


@settings(max_examples=500)
@given(st.text(alphabet=_JAPANESE_ALPHABET))
def test_normalize_text_is_idempotent_on_kana_and_width_forms(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert normalize_kana(normalize_kana(text)) == normalize_kana(text)


_KANJI = st.one_of(
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
    st.characters(min_codepoint=0x3400, max_codepoint=0x4DBF),
    st.characters(min_codepoint=0xF900, max_codepoint=0xFAD9),
    st.characters(min_codepoint=0x20000, max_codepoint=0x2A6DF),
)


@settings(max_examples=300)
@given(st.text(alphabet=_KANJI, min_size=1))
def test_normalize_text_never_changes_kanji(text: str) -> None:
    assert normalize_text(text) == text


@settings(max_examples=200)
@given(st.text(alphabet=st.characters(min_codepoint=0x3041, max_codepoint=0x3096), min_size=1))
def test_normalised_hiragana_is_katakana(text: str) -> None:
    assert is_katakana(normalize_kana(text))


def test_normalize_kana_joins_a_voiced_mark_that_only_katakana_can_carry() -> None:
    assert normalize_kana("わ\u3099") == "\u30f7" == normalize_kana(normalize_kana("わ\u3099"))
