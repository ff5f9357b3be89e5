"""Names beyond JIS: each degeneration path to JIS X 0213 and JIS X 0208, and each receiver's form."""

from __future__ import annotations

import pytest

from pmh.codes.charsets import (
    GETA,
    RECEIVER_NAME_SETS,
    derive_name_forms,
    graphemes,
    in_jisx0208,
    in_jisx0213,
    is_private_use,
    misplaced_selectors,
    receiver_name,
    to_jisx0213,
)

IVS_TSUJI = "辻\U000e0100"  # 辻 with the one-dot 辶 (Moji_Joho collection)
IVS_KUZU = "葛\U000e0101"
NO_COUNTERPART = "𠀂"  # U+20002: an ideograph outside JIS X 0213 that the MJ縮退マップ maps nowhere


def test_membership_follows_the_jis_sets() -> None:
    assert in_jisx0208("辻") and in_jisx0213("辻")
    assert not in_jisx0208("﨑") and in_jisx0213("﨑")  # JIS X 0213 1-47-82
    assert not in_jisx0208("𠮷") and not in_jisx0213("𠮷")
    assert not in_jisx0213("髙")  # CP932 (IBM extension) has it, JIS X 0213 does not
    assert in_jisx0208("～") and in_jisx0208("〜")  # both mappings of 1-01-33


def test_graphemes_keep_a_selector_with_its_base() -> None:
    assert graphemes(f"{IVS_TSUJI} 太郎") == [IVS_TSUJI, " ", "太", "郎"]
    assert misplaced_selectors(f"{IVS_TSUJI} 太郎") == []
    assert misplaced_selectors("\U000e0100辻 ア\ufe00") == ["\U000e0100", "\ufe00"]


def test_private_use_is_still_gaiji() -> None:
    assert is_private_use("\ue000") and is_private_use("\U000f0001") and is_private_use("\uf8ff")
    assert not is_private_use("\U000e0100") and not is_private_use("𠮷")


@pytest.mark.parametrize(
    ("name", "jisx0213", "jisx0208"),
    [
        # path 1: an IVS whose base is in JIS X 0213 loses its selector
        (f"{IVS_TSUJI} 太郎", "辻 太郎", "辻 太郎"),
        (f"{IVS_KUZU}西 花子", "葛西 花子", "葛西 花子"),
        ("辻\ufe00 太郎", "辻 太郎", "辻 太郎"),  # a standardized variation sequence alike
        # path 2: an MJ character outside JIS X 0213 goes through the MJ縮退マップ
        ("𠮷田 稔", "吉田 稔", "吉田 稔"),
        ("髙橋 一郎", "高橋 一郎", "高橋 一郎"),
        ("𠮷\U000e0100田 稔", "吉田 稔", "吉田 稔"),  # IVS over a non-JIS X 0213 base: the map, on the base
        # path 3: a JIS X 0213 character outside JIS X 0208 goes through the 国税庁 JIS縮退マップ
        ("﨑山 花子", "﨑山 花子", "崎山 花子"),
        ("麴町 太郎", "麴町 太郎", "麹町 太郎"),
        ("森 鷗外", "森 鷗外", "森 鴎外"),
        # nothing to do
        ("山田 太郎", "山田 太郎", "山田 太郎"),
        ("Smith John", "Smith John", "Smith John"),
    ],
)
def test_each_degeneration_path(name: str, jisx0213: str, jisx0208: str) -> None:
    forms = derive_name_forms(name)
    assert (forms.original, forms.jisx0213, forms.jisx0208) == (name, jisx0213, jisx0208)
    assert forms.missing_jisx0213 == () and forms.missing_jisx0208 == () and forms.unmapped == ""


def test_a_character_without_a_jis_x_0213_counterpart_is_geta_and_reported() -> None:
    forms = derive_name_forms(f"{NO_COUNTERPART}田 花子")
    assert forms.jisx0213 == f"{GETA}田 花子" and forms.jisx0208 == f"{GETA}田 花子"
    assert forms.missing_jisx0213 == (NO_COUNTERPART,)
    assert forms.unmapped == "JIS X 0213: U+20002"


def test_a_character_without_a_jis_x_0208_counterpart_is_geta_and_reported() -> None:
    forms = derive_name_forms("𩸽田 花子")  # ほっけ: JIS X 0213 1-94-69, nothing in JIS X 0208
    assert forms.jisx0213 == "𩸽田 花子" and forms.jisx0208 == f"{GETA}田 花子"
    assert forms.missing_jisx0213 == () and forms.missing_jisx0208 == ("𩸽",)
    assert forms.unmapped == "JIS X 0208: U+29E3D"


def test_the_guard_keeps_a_character_without_counterpart_instead_of_geta() -> None:
    ivs = f"{NO_COUNTERPART}\U000e0100"
    assert to_jisx0213(f"{ivs}田", keep_missing=True) == (f"{NO_COUNTERPART}田", (ivs,))
    assert to_jisx0213(f"{ivs}田") == (f"{GETA}田", (ivs,))


def test_each_receiver_gets_its_form() -> None:
    name = f"{IVS_TSUJI} 𠮷郎 𩸽"
    assert RECEIVER_NAME_SETS == {"json": "original", "xml": "original", "fhir": "original", "orca": "jisx0208"}
    assert receiver_name(name, "json") == name
    assert receiver_name(name, "xml") == name
    assert receiver_name(name, "fhir") == name
    assert receiver_name(name, "orca") == f"辻 吉郎 {GETA}"
    assert receiver_name(name, "unknown") == name


def test_an_ambiguous_mapping_is_taken_for_the_forms_but_not_by_the_guard() -> None:
    # 法務省告示582号 gives 袏 two counterparts, 佐 and 祐.
    assert to_jisx0213("袏藤") == ("佐藤", ())
    assert to_jisx0213("袏藤", keep_missing=True, unique=True) == ("袏藤", ("袏",))
    assert to_jisx0213("𠮷田", keep_missing=True, unique=True) == ("吉田", ())
