"""Participation statistics and the map (rules.md §5), on the FY2025 list printed in seed 002."""

from __future__ import annotations

import datetime as dt
import io
import json
from fractions import Fraction
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pmh.cli import app as cli
from pmh.errors import InvalidInput
from pmh.operator.stats import japan_map, service
from pmh.operator.stats.matching import fold_name, match_name
from pmh.reference import catalogue
from tests import factories as f
from tests.operator.support import payer, register

FY2025_LIST = Path(__file__).parent / "data" / "participation_fy2025.csv"
# Prefectures that do not participate themselves at the end of FY2025 (seed 002: 41 of 47 do).
NOT_PARTICIPATING = {"15", "19", "29", "36", "39", "47"}


@pytest.mark.parametrize(
    ("prefecture", "name", "code"),
    [
        ("12", "鎌ヶ谷市", "122246"),  # the list writes ヶ, the master ケ
        ("11", "鶴ヶ島市", "112411"),
        ("14", "茅ヶ崎市", "142077"),
        ("27", "四条畷市", "272299"),  # 條/条 are one character in two forms
        ("01", "余市郡余市町", "014087"),  # with its 郡
        ("11", "埼玉県 長瀞町", "113638"),  # with its prefecture and a space
        ("13", "府中市", "132063"),  # the prefecture tells 東京都府中市 from 広島県府中市
        ("34", "府中市", "342084"),
        ("13", "東京都", "130001"),  # a row naming the prefecture marks the prefecture itself
    ],
)
def test_names_match_after_folding_notation_only(prefecture: str, name: str, code: str) -> None:
    found = match_name(name, prefecture)
    assert found.municipality is not None and found.municipality.code == code


@pytest.mark.parametrize(
    ("prefecture", "name", "candidate"),
    [
        ("11", "長瀬町", "113638"),  # seed 002's typo for 長瀞町
        ("46", "始良市", "462250"),  # seed 002's typo for 姶良市
        ("14", "府中市", "132063"),  # listed under the wrong prefecture
    ],
)
def test_typos_are_never_guessed_but_reported_with_candidates(prefecture: str, name: str, candidate: str) -> None:
    found = match_name(name, prefecture)
    assert found.municipality is None
    assert candidate in [c.code for c in found.candidates]


def test_a_typo_close_to_two_names_offers_both() -> None:
    found = match_name("長瀬町", "11")
    assert {c.name for c in found.candidates} == {"長瀞町", "横瀬町"}


def test_folding_keeps_different_names_apart() -> None:
    assert fold_name("鎌ヶ谷市") == fold_name("鎌ケ谷市")
    assert fold_name("長瀬町") != fold_name("長瀞町")
    assert fold_name("姶良市") != fold_name("始良市")


@pytest.fixture(scope="module")
def fy2025() -> service.ParticipationStats:
    return service.from_list(FY2025_LIST.read_text(encoding="utf-8"))


def test_fy2025_list_counts_and_reports_its_two_typos(fy2025: service.ParticipationStats) -> None:
    body = fy2025.as_json()
    # The seed prints 41 prefectures and 580 names (its table says 581); two names are typos.
    assert (body["rows"], body["matched"]) == (621, 619)
    assert (body["prefectures_participating"], body["municipalities_participating"]) == (41, 578)
    assert [(u["prefecture"], u["name"]) for u in body["unmatched"]] == [("埼玉県", "長瀬町"), ("鹿児島県", "始良市")]
    assert [c["name"] for c in body["unmatched"][1]["candidates"]] == ["姶良市"]


def test_fy2025_list_bands_and_hatching(fy2025: service.ParticipationStats) -> None:
    shares = {s.code: s for s in fy2025.by_prefecture()}
    assert len(shares) == 47 and sum(s.total for s in shares.values()) == 1741
    assert {code for code, s in shares.items() if not s.prefecture_participates} == NOT_PARTICIPATING
    assert (shares["08"].participating, shares["08"].total, shares["08"].band) == (39, 44, "75+")  # 茨城県
    assert (shares["01"].participating, shares["01"].total, shares["01"].band) == (65, 179, "25-50")  # 北海道
    assert (shares["13"].participating, shares["13"].band) == (29, "25-50")  # 東京都 29 of 62
    assert (shares["46"].participating, shares["46"].band) == (31, "50-75")  # 鹿児島県, 始良市 not counted
    assert (shares["39"].participating, shares["39"].band) == (0, "0-25")  # 高知県


@pytest.mark.parametrize(
    ("rate", "band"),
    [
        (Fraction(1), "75+"),
        (Fraction(3, 4), "75+"),
        (Fraction(74, 100), "50-75"),
        (Fraction(1, 2), "50-75"),
        (Fraction(49, 100), "25-50"),
        (Fraction(1, 4), "25-50"),
        (Fraction(24, 100), "0-25"),
        (Fraction(0), "0-25"),
    ],
)
def test_bands_include_their_lower_bound(rate: Fraction, band: str) -> None:
    assert service.band_of(rate) == band


def _seed_tables_list() -> str:
    """A list whose bodies join and add programs as seed 002's tables say (FY2023 5, FY2024 183, FY2025 622)."""
    prefectures = [m for m in catalogue.prefectures()]
    municipalities = [m for m in catalogue.municipalities() if not m.is_prefecture]
    rows: list[tuple[catalogue.Municipality, int]] = []
    rows += [(m, 2023) for m in municipalities[:5]]
    rows += [(m, 2024) for m in municipalities[:2]]  # 2 of FY2023's 5 add programs in FY2024
    rows += [(m, 2024) for m in municipalities[5:161]]  # 156 new 市区町村
    rows += [(m, 2024) for m in prefectures[:22]]
    rows += [(m, 2025) for m in municipalities[:22]]  # 22 市区町村 add programs in FY2025
    rows += [(m, 2025) for m in municipalities[161:581]]  # 420 new 市区町村
    rows += [(m, 2025) for m in prefectures[:17]]  # 17 prefectures add programs
    rows += [(m, 2025) for m in prefectures[22:41]]  # 19 new prefectures
    return "\n".join(f"{m.prefecture_code},{m.county}{m.name},,{year}" for m, year in rows) + "\n"


def test_seed_002_tables_per_year_and_new_versus_adding() -> None:
    stats = service.from_list(_seed_tables_list())
    assert not stats.unmatched
    assert stats.cumulative() == [
        {"fiscal_year": 2023, "total": 5, "prefectures": 0, "municipalities": 5},
        {"fiscal_year": 2024, "total": 183, "prefectures": 22, "municipalities": 161},
        {"fiscal_year": 2025, "total": 622, "prefectures": 41, "municipalities": 581},
    ]
    assert stats.modified() == [
        {"fiscal_year": 2023, "total": 5, "prefectures": 0, "municipalities": 5, "new": 5, "adding": 0},
        {"fiscal_year": 2024, "total": 180, "prefectures": 22, "municipalities": 158, "new": 178, "adding": 2},
        {"fiscal_year": 2025, "total": 478, "prefectures": 36, "municipalities": 442, "new": 439, "adding": 39},
    ]


def test_per_program_counts_split_prefectures_and_municipalities() -> None:
    text = (
        "prefecture,name,programs,fiscal_year\n東京都,東京都,nanbyo;seishin,2025\n東京都,八王子市,kodomo;shoman,2024\n"
    )
    text += "東京都,立川市,kodomo,2025\n北海道,北海道,nanbyo,2025\n"
    table = {row["program_code"]: row for row in service.from_list(text).per_program()}
    assert (table["nanbyo"]["prefectures"], table["nanbyo"]["municipalities"]) == (2, 0)
    assert (table["kodomo"]["prefectures"], table["kodomo"]["municipalities"]) == (0, 2)
    assert set(table) == {"nanbyo", "seishin", "kodomo", "shoman"}


def test_unreadable_list_rows_are_refused_with_row_field_and_reason() -> None:
    with pytest.raises(InvalidInput) as refused:
        service.from_list("prefecture,name\n東京府,八王子市\n東京都,,\n東京都,八王子市,nosuch\n東京都,立川市,,R7\n")
    assert [(e.row, e.field) for e in refused.value.errors] == [
        (1, "prefecture"),
        (2, "name"),
        (3, "programs"),
        (4, "fiscal_year"),
    ]


def test_statistics_from_the_registry_follow_program_start_dates(db_session: Session) -> None:
    register(db_session, f.TOKYO, "nanbyo", [payer("54", "13", 602)], dt.date(2024, 4, 1))
    register(db_session, f.HACHIOJI, "kodomo", [f.KODOMO_PAYER], dt.date(2024, 6, 1))
    register(db_session, f.HACHIOJI, "hitorioya", [f.HITORIOYA_PAYER], dt.date(2025, 6, 1))
    register(db_session, "132021", "kodomo", [payer("88", "13", 21)], dt.date(2026, 10, 1))
    fy2025 = service.from_registry(db_session, 2025)
    assert [len(fy2025.prefectures), len(fy2025.municipalities)] == [1, 1]
    assert fy2025.modified()[-1] == {
        "fiscal_year": 2025,
        "total": 1,
        "prefectures": 0,
        "municipalities": 1,
        "new": 0,
        "adding": 1,
    }
    tokyo = next(s for s in service.from_registry(db_session, 2026).by_prefecture() if s.code == "13")
    assert (tokyo.participating, tokyo.total, tokyo.band, tokyo.prefecture_participates) == (2, 62, "0-25", True)


def test_svg_map_has_every_prefecture_and_hatches_the_non_participating(fy2025: service.ParticipationStats) -> None:
    svg = japan_map.render_svg(fy2025.by_prefecture(), "参加状況")
    assert svg.count('class="prefecture"') == 47
    assert svg.count('class="hatch"') == len(NOT_PARTICIPATING)
    assert 'data-code="08" data-band="75+"' in svg and "網掛け" in svg


def test_png_map_is_drawn_with_bands_and_hatching(fy2025: service.ParticipationStats) -> None:
    from PIL import Image

    image = Image.open(io.BytesIO(japan_map.render_png(fy2025.by_prefecture(), "参加状況", scale=1))).convert("RGB")
    assert image.size == (japan_map.WIDTH, japan_map.TITLE_HEIGHT + japan_map.MAP_HEIGHT)
    colours = {colour for _, colour in image.getcolors(maxcolors=1 << 16) or []}
    for band in ("75+", "50-75", "25-50", "0-25"):
        assert Image.new("RGB", (1, 1), japan_map.COLOURS[band]).getpixel((0, 0)) in colours
    assert (0x33, 0x33, 0x33) in colours  # hatch lines


def test_cli_participation_from_the_fy2025_list_with_a_png_map(tmp_path: Path) -> None:
    out = tmp_path / "map.png"
    result = CliRunner().invoke(
        cli, ["stats", "participation", "--list", str(FY2025_LIST), "--map", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    keys = {
        "rows",
        "matched",
        "unmatched",
        "prefectures_participating",
        "municipalities_participating",
        "by_prefecture",
    }
    assert keys <= body.keys()
    assert {"prefecture", "name", "candidates"} <= body["unmatched"][0].keys()
    assert {"code", "name", "participating", "total", "rate", "band", "prefecture_participates"} <= body[
        "by_prefecture"
    ][0].keys()
    assert out.read_bytes().startswith(b"\x89PNG")
    usage = CliRunner().invoke(cli, ["stats", "participation", "--list", str(FY2025_LIST), "--map", "map.jpg"])
    assert usage.exit_code == 2


def test_stats_api_for_the_operator(client: TestClient, db_session: Session) -> None:
    key = f.bearer(f.api_key(db_session, f.operator(db_session), "operator"))
    register(db_session, f.TOKYO, "nanbyo", [payer("54", "13", 602)], dt.date(2024, 4, 1))
    body = client.get("/api/v1/stats/participation", params={"fiscal_year": 2025}, headers=key).json()
    assert body["prefectures_participating"] == 1
    listed = client.post(
        "/api/v1/stats/participation/list",
        files={"file": ("list.csv", FY2025_LIST.read_bytes().decode("utf-8").encode("cp932"), "text/csv")},
        headers=key,
    )
    assert listed.status_code == 200 and listed.json()["municipalities_participating"] == 578
    png = client.get("/api/v1/stats/participation/map", params={"format": "png"}, headers=key)
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    municipal = f.bearer(f.api_key(db_session, f.municipality(db_session), "municipality"))
    assert client.get("/api/v1/stats/participation", headers=municipal).status_code == 403


# Seed 002's per-program tables at the end of FY2025: prefectures (of 41) and 市区町村 (of 581).
SEED_PREFECTURE_PROGRAMS = {
    "seishin": 40, "nanbyo": 31, "shoman": 31, "shogaiji-nyusho": 9, "kekkaku": 4, "shingata-influenza": 0,
    "shin-kansensho": 0, "kanen": 14, "kangan": 8, "tokutei-shikkan": 5, "chitan-other": 4,
}  # fmt: skip
SEED_MUNICIPAL_PROGRAMS = {
    "seishin": 4, "kosei": 266, "ikusei": 256, "ryoyo-kaigo": 102, "nanbyo": 2, "shoman": 17, "shitai-tsusho": 87,
    "shogaiji-nyusho": 2, "yoiku": 26, "kekkaku": 6, "shingata-influenza": 0, "shin-kansensho": 0, "kodomo": 521,
    "shogaisha": 481, "hitorioya": 504, "chitan-other": 149,
}  # fmt: skip


def test_seed_002_tables_per_program() -> None:
    prefectures = list(catalogue.prefectures())[:41]
    municipalities = [m for m in catalogue.municipalities() if not m.is_prefecture][:581]
    lines = []
    for bodies, table in ((prefectures, SEED_PREFECTURE_PROGRAMS), (municipalities, SEED_MUNICIPAL_PROGRAMS)):
        for index, body in enumerate(bodies):
            programs = ";".join(code for code, count in table.items() if index < count)
            lines.append(f"{body.prefecture_code},{body.county}{body.name},{programs},2025")
    stats = service.from_list("\n".join(lines))
    table = {row["program_code"]: row for row in stats.per_program()}
    for code, count in SEED_PREFECTURE_PROGRAMS.items():
        assert table.get(code, {"prefectures": 0})["prefectures"] == count, code
    for code, count in SEED_MUNICIPAL_PROGRAMS.items():
        assert table.get(code, {"municipalities": 0})["municipalities"] == count, code
    assert (len(stats.prefectures), len(stats.municipalities)) == (41, 581)
