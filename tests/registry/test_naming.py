"""Name keys and the identity comparison of the linking guard: variants link, other people are held."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pmh.registry.naming import IdentityFacts, compare_identity, kana_key, name_key
from pmh.registry.variants import (
    LISTS,
    compatibility_folds,
    fold_kanji,
    folding_map,
    is_ideograph,
    kanji_variants,
    variant_pairs,
)

BORN = dt.date(1990, 1, 2)


def facts(name: str, kana: str, born: dt.date = BORN) -> IdentityFacts:
    return IdentityFacts(name=name, name_kana=kana, birth_date=born)


# --- the folding table ---------------------------------------------------------------------------


def test_table_holds_at_least_150_pairs_from_the_three_lists() -> None:
    pairs = variant_pairs()
    assert len(pairs) >= 150
    assert {source for _, _, source in pairs} == set(LISTS)


def test_table_folds_in_one_step_and_only_ideographs() -> None:
    for char, target in folding_map().items():
        assert fold_kanji(target) == target, (char, target)
        assert is_ideograph(target), (char, target)
    for variant, representative in kanji_variants().items():
        assert is_ideograph(variant)
        assert variant != representative


def test_compatibility_ideographs_fold_to_their_canonical_form() -> None:
    assert compatibility_folds()["\ufa10"] == "塚"
    assert fold_kanji("\ufa19") == "神"
    assert fold_kanji("\uf9c4") == "竜"  # 龍 as a compatibility ideograph, then through the table
    assert fold_kanji("\ufa11") == "崎"  # 﨑 has no decomposition: the table lists it


# --- name_key ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("髙橋一郎", "高橋一郎"),
        ("渡邊 太郎", "渡辺 太郎"),
        ("渡邉　太郎", "渡辺太郎"),
        ("山﨑　花子", "山崎 花子"),
        ("山嵜花子", "山崎花子"),
        ("山田　太郎", "山田太郎"),
        ("　山田　　太郎 ", "山田 太郎"),
        ("齋藤 健", "斎藤 健"),
        ("齊藤 健", "斉藤 健"),
        ("濱田 清", "浜田 清"),
        ("濵田 清", "浜田 清"),
        ("澤田 実", "沢田 実"),
        ("櫻井 翔", "桜井 翔"),
        ("嶋田 茂", "島田 茂"),
        ("廣瀨 博", "広瀬 博"),
        ("國分 勇", "国分 勇"),
        ("德田 正", "徳田 正"),
        ("黑田 惠子", "黒田 恵子"),
        ("眞田 眞理子", "真田 真理子"),
        ("佐藤 龍也", "佐藤 竜也"),
        ("冨田 彌生", "富田 弥生"),
        ("桒原 榮一", "桑原 栄一"),
        ("鈴木 一郞", "鈴木 一郎"),
        ("𠮷田 茂", "吉田 茂"),
        ("大\ufa10 明", "大塚 明"),
        ("\ufa19田 薰", "神田 薫"),
        ("佐々木 健", "佐佐木 健"),
        ("野々村 奈々", "野野村 奈奈"),
        ("⾼橋 ⼀郎", "高橋 一郎"),
        ("葛\U000e0100西 蓮", "葛西 蓮"),
        ("辻\U000e0101 凛", "辻 凛"),
        ("ＳＭＩＴＨ　ＪＯＨＮ", "SMITH JOHN"),
        ("Smith John", "SMITH JOHN"),
        ("スミス・ジョン", "スミス ジョン"),
        ("山田 ｴﾐﾘ", "山田 エミリ"),
        ("一ヶ谷 修", "一ケ谷 修"),
    ],
)
def test_name_key_folds_notation_variants(one: str, other: str) -> None:
    assert name_key(one) == name_key(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("斉藤", "斎藤"),
        ("一ノ瀬", "一之瀬"),
        ("畠山", "畑山"),
        ("埼田", "崎田"),
        ("伊藤", "伊東"),
        ("菊地", "菊池"),
        ("渡辺", "渡部"),
        ("萩原", "荻原"),
        ("さくら", "サクラ"),
        ("優", "悠"),
    ],
)
def test_name_key_keeps_different_characters_apart(one: str, other: str) -> None:
    assert name_key(one) != name_key(other)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダタロウ"),
        ("やまだ　たろう", "ヤマダタロウ"),
        ("スミス・ジョン", "スミスジョン"),
        ("ヰヱ", "イエ"),
        ("サヽキ", "ササキ"),
        ("ミスヾ", "ミスズ"),
    ],
)
def test_kana_key_folds_width_script_spacing_and_old_kana(raw: str, key: str) -> None:
    assert kana_key(raw) == key


@pytest.mark.parametrize(("one", "other"), [("キョウコ", "キヨウコ"), ("ミヅキ", "ミズキ"), ("サトウ", "サトー")])
def test_kana_key_keeps_readings_that_differ_in_small_kana_voicing_or_length(one: str, other: str) -> None:
    assert kana_key(one) != kana_key(other)


# --- compare_identity ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("certificate", "record", "rule"),
    [
        (facts("髙橋　一郎", "ﾀｶﾊｼ ｲﾁﾛｳ"), facts("高橋一郎", "タカハシ イチロウ"), "same_key"),
        (facts("渡邊 太郎", "ワタナベ タロウ"), facts("渡辺 太郎", "ワタナベ タロウ"), "same_key"),
        (facts("山﨑 花子", "ヤマザキ ハナコ"), facts("山崎 花子", "やまざき はなこ"), "same_key"),
        (facts("山田　太郎", "ヤマダ タロウ"), facts("山田太郎", "ヤマダ タロウ"), "same_key"),
        (facts("尾崎 京子", "オザキ キヨウコ"), facts("尾崎 京子", "オザキ キョウコ"), "same_key"),
        (facts("斉藤 花子", "サイトウ ハナコ"), facts("斎藤 花子", "サイトウ ハナコ"), "kana_confirmed"),
        (facts("伊東 静雄", "イトウ シズオ"), facts("伊藤静雄", "イトウ シズオ"), "kana_confirmed"),
        (facts("〓橋 一郎", "タカハシ イチロウ"), facts("髙橋 一郎", "タカハシ イチロウ"), "kana_confirmed"),
        (facts("清水 ■月", "シミズ ミヅキ"), facts("清水 美月", "シミズ ミヅキ"), "kana_confirmed"),
        (facts("", "ヤマダ タロウ"), facts("山田 太郎", "ﾔﾏﾀﾞ ﾀﾛｳ"), "kana_only"),
    ],
)
def test_same_person_in_other_notation_is_linked(certificate: IdentityFacts, record: IdentityFacts, rule: str) -> None:
    result = compare_identity(certificate, record)
    assert result.matched
    assert result.name_rule == rule
    assert result.codes == ()
    assert result.reasons == ()


@pytest.mark.parametrize(
    ("certificate", "record", "codes"),
    [
        # twins: same surname and birth date, other given name
        (facts("山田 太郎", "ヤマダ タロウ"), facts("山田 次郎", "ヤマダ ジロウ"), ("name_mismatch",)),
        # twins whose given names sound alike
        (facts("山田 優", "ヤマダ ユウ"), facts("山田 悠", "ヤマダ ユウ"), ("kanji_mismatch",)),
        (facts("清水 大樹", "シミズ ダイキ"), facts("清水大輝", "シミズ ダイキ"), ("kanji_mismatch",)),
        # a twin's given name with a 外字 placeholder still differs in reading
        (facts("山田 〓", "ヤマダ ジン"), facts("山田 仁", "ヤマダ ヒトシ"), ("name_mismatch",)),
        # a family member: same surname, other given name and birth date
        (
            facts("佐藤 花子", "サトウ ハナコ"),
            facts("佐藤 一郎", "サトウ イチロウ", dt.date(1958, 4, 1)),
            ("birth_date_mismatch", "name_mismatch"),
        ),
        # a mistyped My Number: somebody else entirely
        (
            facts("鈴木 一郎", "スズキ イチロウ"),
            facts("田中 花子", "タナカ ハナコ", dt.date(1971, 8, 9)),
            ("birth_date_mismatch", "name_mismatch"),
        ),
        # a namesake born on another day
        (
            facts("佐藤 翔太", "サトウ ショウタ"),
            facts("佐藤 翔太", "サトウ ショウタ", BORN.replace(day=3)),
            ("birth_date_mismatch",),
        ),
        # a surname confusion cannot be placed without a space on either side
        (facts("斉藤花子", "サイトウ ハナコ"), facts("斎藤花子", "サイトウ ハナコ"), ("kanji_mismatch",)),
        # two unlisted kanji differences in the surname are too many
        (facts("斉東 花子", "サイトウ ハナコ"), facts("斎藤 花子", "サイトウ ハナコ"), ("kanji_mismatch",)),
        (facts("", ""), facts("山田 太郎", "ヤマダ タロウ"), ("name_missing",)),
        (facts("", "ヤマダ ハナコ"), facts("山田 太郎", "ヤマダ タロウ"), ("kana_mismatch",)),
    ],
)
def test_other_people_and_unexplained_differences_are_held(
    certificate: IdentityFacts, record: IdentityFacts, codes: tuple[str, ...]
) -> None:
    result = compare_identity(certificate, record)
    assert not result.matched
    assert result.codes == codes
    assert len(result.reasons) == len(codes)


def test_birth_date_reason_names_both_dates_in_japanese() -> None:
    result = compare_identity(
        facts("山田 太郎", "ヤマダ タロウ", dt.date(1990, 1, 2)),
        facts("山田 太郎", "ヤマダ タロウ", dt.date(1990, 1, 3)),
    )
    assert result.reasons == ("生年月日が一致しません（受給者証 1990-01-02／保険資格 1990-01-03）",)


def test_name_reasons_say_what_differs() -> None:
    both = compare_identity(facts("山田 太郎", "ヤマダ タロウ"), facts("田中 花子", "タナカ ハナコ"))
    assert both.reasons == ("氏名が一致しません（漢字・カナとも）",)
    twins = compare_identity(facts("山田 優", "ヤマダ ユウ"), facts("山田 悠", "ヤマダ ユウ"))
    assert "名が一致しません" in twins.reasons[0]
    assert "双子" in twins.reasons[0]


# --- properties ----------------------------------------------------------------------------------

_SPECIAL = set(folding_map()) | set("々〻ヶ・")
# Kanji, kana and Latin letters that name_key leaves alone (no variants, no spaces, no width forms).
_PLAIN = [
    char
    for char in "山田太郎花子佐藤鈴木伊東斎斉優悠美月清水アイウエオカキクケコガギャュョッーあいうえおABCXYZ"
    if char not in _SPECIAL
]
_NOTATION = [*_PLAIN, *"髙﨑邊邉濵\ufa10⾼々 \u3000ｱﾞ\U000e0100a・〓"]


@given(st.text(alphabet=st.sampled_from(_NOTATION), max_size=12))
def test_name_key_is_idempotent(name: str) -> None:
    assert name_key(name_key(name)) == name_key(name)


@given(st.text(alphabet=st.characters(), max_size=12))
@example("カ々\u3099")
@example("カ \u3099")
def test_name_key_is_idempotent_on_any_text(name: str) -> None:
    key = name_key(name)
    assert name_key(key) == key


@given(st.text(alphabet=st.characters(), max_size=12))
def test_kana_key_is_idempotent(kana: str) -> None:
    key = kana_key(kana)
    assert kana_key(key) == key


@given(st.text(alphabet=st.sampled_from(_PLAIN), max_size=12))
def test_name_key_never_changes_plain_names(name: str) -> None:
    assert name_key(name) == name


_NAMES = st.sampled_from(
    ["山田 太郎", "山田太郎", "髙田 太郎", "山田 次郎", "斉藤 優", "斎藤 優", "斎藤 悠", "〓田 太郎", ""]
)
_KANA = st.sampled_from(["ヤマダ タロウ", "ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ ジロウ", "サイトウ ユウ", "タカダ タロウ", ""])
_DATES = st.sampled_from([BORN, BORN.replace(day=3)])


@settings(max_examples=300)
@given(_NAMES, _KANA, _DATES, _NAMES, _KANA, _DATES)
def test_compare_identity_is_symmetric(
    name_a: str, kana_a: str, born_a: dt.date, name_b: str, kana_b: str, born_b: dt.date
) -> None:
    forward = compare_identity(facts(name_a, kana_a, born_a), facts(name_b, kana_b, born_b))
    backward = compare_identity(facts(name_b, kana_b, born_b), facts(name_a, kana_a, born_a))
    assert (forward.matched, forward.codes, forward.name_rule) == (backward.matched, backward.codes, backward.name_rule)


@given(st.text(alphabet=st.sampled_from(_PLAIN), min_size=1, max_size=6), st.text(min_size=1, max_size=4))
def test_different_birth_dates_are_always_held(name: str, kana: str) -> None:
    result = compare_identity(facts(name, kana), facts(name, kana, BORN + dt.timedelta(days=1)))
    assert not result.matched
    assert "birth_date_mismatch" in result.codes


def test_computed_folds_are_compatibility_equivalents_of_their_target() -> None:
    # Beyond the hand-kept list, a character is folded only to what Unicode says it is equivalent to.
    hand = kanji_variants()
    for char, target in folding_map().items():
        if char in hand:
            continue
        assert unicodedata.normalize("NFKC", char) in (target, *[v for v, r in hand.items() if r == target])
