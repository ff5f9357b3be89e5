"""The 47 prefectures and the ways their names are written."""

from __future__ import annotations

import pytest

from pmh.codes import (
    PREFECTURES,
    UnknownPrefectureError,
    get_prefecture,
    is_katakana,
    is_prefecture_code,
    prefecture_code,
    prefecture_name,
)


def test_there_are_47_prefectures_numbered_01_to_47_in_order() -> None:
    assert [p.code for p in PREFECTURES] == [f"{n:02d}" for n in range(1, 48)]
    assert len({p.name for p in PREFECTURES}) == 47


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("01", "北海道"),
        ("02", "青森県"),
        ("13", "東京都"),
        ("14", "神奈川県"),
        ("26", "京都府"),
        ("27", "大阪府"),
        ("30", "和歌山県"),
        ("46", "鹿児島県"),
        ("47", "沖縄県"),
    ],
)
def test_prefecture_name_from_code(code: str, name: str) -> None:
    assert prefecture_name(code) == name
    assert prefecture_code(name) == code


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("東京", "13"),
        ("東京都", "13"),
        ("大阪", "27"),
        ("大阪府", "27"),
        ("京都", "26"),
        ("北海道", "01"),
        ("神奈川", "14"),
        (" 東京都\u3000", "13"),
        ("トウキョウト", "13"),
        ("トウキョウ", "13"),
        ("とうきょう", "13"),
        ("ｵｵｻｶﾌ", "27"),
        ("ホッカイドウ", "01"),
        ("13", "13"),
        ("１３", "13"),
        ("1", "01"),
    ],
)
def test_prefecture_code_accepts_the_usual_spellings(name: str, code: str) -> None:
    assert prefecture_code(name) == code


@pytest.mark.parametrize("name", ["東京府", "京", "北海", "", "48", "0", "00", "Tokyo"])
def test_unknown_prefecture_names_are_refused(name: str) -> None:
    with pytest.raises(UnknownPrefectureError):
        prefecture_code(name)


@pytest.mark.parametrize("code", ["00", "48", "99", "", "ab"])
def test_unknown_prefecture_codes_are_refused(code: str) -> None:
    assert not is_prefecture_code(code)
    with pytest.raises(UnknownPrefectureError):
        prefecture_name(code)


def test_every_spelling_of_every_prefecture_leads_back_to_it() -> None:
    for p in PREFECTURES:
        for spelling in (p.name, p.short_name, p.kana):
            assert prefecture_code(spelling) == p.code, spelling
        assert get_prefecture(p.code) == p
        assert is_katakana(p.kana)
        assert p.name == "北海道" or p.name[-1] in "都府県"


def test_unknown_prefecture_error_is_a_value_error() -> None:
    assert issubclass(UnknownPrefectureError, ValueError)
