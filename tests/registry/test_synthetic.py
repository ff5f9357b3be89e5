"""The synthetic certificate/insurance generator: valid numbers, realistic noise, and the guard's guarantee."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import pytest

from pmh.codes import (
    is_katakana,
    is_valid_institution_code,
    is_valid_insurer_number,
    is_valid_my_number,
    is_valid_recipient_number,
    modulus10_weight21_check_digit,
    normalize_digits,
    normalize_kana,
    normalize_text,
    parse_date,
)
from pmh.registry.naming import IdentityFacts, compare_identity
from pmh.registry.synthetic import (
    CERTIFICATE_COLUMNS,
    HELD_BY_DESIGN_KINDS,
    INSURANCE_COLUMNS,
    MISMATCH_KINDS,
    VARIANT_KINDS,
    PayerSpec,
    SyntheticCase,
    cp932_safe,
    generate,
    write_certificates_csv,
    write_files,
    write_insurance_csv,
)

HACHIOJI = "132012"
DATE_COLUMNS = ("生年月日", "有効開始日", "有効終了日")


def payer(first_seven: str) -> str:
    return first_seven + str(modulus10_weight21_check_digit(first_seven))


PAYERS = (
    PayerSpec(payer("5413001"), "nanbyo", national=True, has_cap=True),
    PayerSpec(payer("5213001"), "shoman", national=True, has_cap=True),
    PayerSpec(payer("2113001"), "seishin", national=True, has_cap=True),
    PayerSpec(payer("8813824"), "kodomo", national=False, has_cap=False),
)


def cases(
    rows: int = 400, *, seed: int = 7, variant_rate: float = 0.0, mismatch_rate: float = 0.0
) -> list[SyntheticCase]:
    return list(generate(rows, HACHIOJI, PAYERS, seed=seed, variant_rate=variant_rate, mismatch_rate=mismatch_rate))


@pytest.fixture(scope="module")
def mixed() -> list[SyntheticCase]:
    """Half notation variants, a third other people: every kind appears many times."""
    return cases(3000, variant_rate=0.5, mismatch_rate=0.35)


def test_same_seed_gives_the_same_cases_and_another_seed_others() -> None:
    assert cases(200, seed=3) == cases(200, seed=3)
    assert cases(200, seed=3) != cases(200, seed=4)


def test_generate_is_lazy() -> None:
    stream = generate(10**9, HACHIOJI, PAYERS)
    assert isinstance(stream, Iterator)
    assert len(list(islice(stream, 3))) == 3


@pytest.mark.parametrize(
    "options",
    [
        {"variant_rate": -0.1},
        {"mismatch_rate": 1.5},
        {"variant_rate": 0.7, "mismatch_rate": 0.4},
    ],
)
def test_bad_rates_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        next(generate(1, HACHIOJI, PAYERS, **options))  # type: ignore[arg-type]


def test_no_payers_is_refused() -> None:
    with pytest.raises(ValueError):
        next(generate(1, HACHIOJI, ()))


def test_rows_carry_every_column_in_interface_order(mixed: list[SyntheticCase]) -> None:
    for case in mixed[:50]:
        assert tuple(case.certificate) == CERTIFICATE_COLUMNS
        assert tuple(case.insurance) == INSURANCE_COLUMNS
        assert case.certificate["処理区分"] == "1"


def test_numbers_carry_valid_check_digits(mixed: list[SyntheticCase]) -> None:
    for case in mixed:
        row, record = case.certificate, case.insurance
        assert row["公費負担者番号"] in {p.payer_number for p in PAYERS}
        assert is_valid_recipient_number(row["公費受給者番号"])
        assert is_valid_my_number(row["個人番号"])
        assert is_valid_my_number(record["my_number"])
        assert is_valid_insurer_number(record["insurer_number"])
        for code in filter(None, row["指定医療機関コード"].split(";")):
            assert is_valid_institution_code(code)


def test_my_numbers_are_unique_and_recipient_numbers_unique_per_payer() -> None:
    generated = cases(5000, variant_rate=0.1, mismatch_rate=0.1)
    my_numbers = [case.insurance["my_number"] for case in generated]
    assert len(set(my_numbers)) == len(my_numbers)
    recipients = Counter(
        (case.certificate["公費負担者番号"], normalize_digits(case.certificate["公費受給者番号"])) for case in generated
    )
    assert max(recipients.values()) == 1


def test_insurance_record_is_the_one_the_certificates_my_number_finds(mixed: list[SyntheticCase]) -> None:
    for case in mixed:
        assert normalize_digits(case.certificate["個人番号"]) == case.insurance["my_number"]


def test_dates_are_written_in_many_forms_that_all_parse(mixed: list[SyntheticCase]) -> None:
    forms: Counter[str] = Counter()
    for case in mixed:
        for column in DATE_COLUMNS:
            value = case.certificate[column]
            if value:
                parse_date(value)
                forms["wareki" if "年" in value else "letter" if value[:1].isalpha() else "other"] += 1
        dt.date.fromisoformat(case.insurance["birth_date"])
    assert forms["wareki"] and forms["letter"] and forms["other"]
    assert any("０" <= char <= "９" for case in mixed for char in case.certificate["生年月日"])


def test_without_era_dates_every_date_is_iso() -> None:
    for case in generate(300, HACHIOJI, PAYERS, era_dates=False):
        for column in DATE_COLUMNS:
            if case.certificate[column]:
                dt.date.fromisoformat(case.certificate[column])


def test_kana_is_katakana_once_normalised(mixed: list[SyntheticCase]) -> None:
    for case in mixed:
        assert is_katakana(normalize_kana(case.certificate["氏名カナ"]))
        assert is_katakana(normalize_kana(case.insurance["name_kana"]))


def test_certificate_names_stay_within_jis(mixed: list[SyntheticCase]) -> None:
    # Generated certificate files stay writable in CP932 (the importer would accept IVS and MJ
    # characters in names, but a CP932 file cannot carry them); 𠮷 and selectors appear only on the
    # insurance side.
    for case in mixed:
        for char in case.certificate["氏名"] + case.certificate["保護者氏名"]:
            assert any(_encodes(char, encoding) for encoding in ("cp932", "shift_jis_2004")), char


def _encodes(char: str, encoding: str) -> bool:
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def test_ages_fit_the_program(mixed: list[SyntheticCase]) -> None:
    as_of = dt.date(2026, 6, 1)
    for case in mixed:
        if case.certificate["公費負担者番号"] == PAYERS[3].payer_number:
            born = parse_date(case.certificate["生年月日"])
            assert (as_of - born).days < 18 * 366
            assert case.certificate["保護者氏名"] or normalize_text(case.certificate["氏名"]).isascii()


def test_capped_programs_carry_a_tier_and_cap_management(mixed: list[SyntheticCase]) -> None:
    tiers = set()
    for case in mixed:
        row = case.certificate
        if row["公費負担者番号"] == PAYERS[0].payer_number:
            tiers.add(int(row["自己負担上限額"]))
            assert row["上限額管理"] == "1"
        if row["公費負担者番号"] == PAYERS[3].payer_number:
            assert row["自己負担上限額"] == ""
    assert tiers <= {0, 2500, 5000, 10000, 20000, 30000}
    assert len(tiers) >= 4


def test_every_kind_appears(mixed: list[SyntheticCase]) -> None:
    kinds = {case.variant_kind for case in mixed}
    assert kinds == {None, *VARIANT_KINDS, *MISMATCH_KINDS}
    for case in mixed:
        assert case.expected_link == (case.variant_kind not in MISMATCH_KINDS)


# --- the guard's guarantee ---------------------------------------------------------------------


def _outcome(certificate: IdentityFacts, record: IdentityFacts) -> bool:
    return compare_identity(certificate, record).matched


def test_guard_links_no_other_person(mixed: list[SyntheticCase]) -> None:
    others = [case for case in mixed if not case.expected_link]
    assert len(others) > 500
    assert [case.variant_kind for case in others if _outcome(*case.identity_pair())] == []


def test_guard_links_every_variant_it_is_designed_to_link(mixed: list[SyntheticCase]) -> None:
    same = [case for case in mixed if case.expected_link and case.variant_kind not in HELD_BY_DESIGN_KINDS]
    assert len(same) > 1000
    assert [case.variant_kind for case in same if not _outcome(*case.identity_pair())] == []


def test_guard_holds_the_variants_it_cannot_tell_from_another_person(mixed: list[SyntheticCase]) -> None:
    held = [case for case in mixed if case.variant_kind in HELD_BY_DESIGN_KINDS]
    assert held
    assert all(not _outcome(*case.identity_pair()) for case in held)


# --- files -------------------------------------------------------------------------------------


def _read(path: Path, encoding: str) -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as stream:
        return list(csv.DictReader(stream))


def test_cp932_file_encodes_cleanly_and_keeps_the_guard_outcome(tmp_path: Path) -> None:
    generated = cases(1500, variant_rate=0.5, mismatch_rate=0.2)
    certificates, insurance = tmp_path / "certificates.csv", tmp_path / "insurance.csv"
    assert write_files(generated, certificates, insurance, encoding="cp932") == len(generated)
    raw = certificates.read_bytes()
    raw.decode("cp932")  # strict: nothing undecodable
    assert b"?" not in raw
    assert b"\r\n" in raw
    rows = _read(certificates, "cp932")
    records = {record["my_number"]: record for record in _read(insurance, "utf-8")}
    assert list(rows[0]) == list(CERTIFICATE_COLUMNS)
    for case, row in zip(generated, rows, strict=True):
        if case.variant_kind != "gaiji_placeholder":
            assert "〓" not in row["氏名"]
        record = records[normalize_digits(row["個人番号"])]
        certificate = IdentityFacts(row["氏名"], row["氏名カナ"], parse_date(row["生年月日"]))
        insured = IdentityFacts(record["name"], record["name_kana"], dt.date.fromisoformat(record["birth_date"]))
        expected = case.expected_link and case.variant_kind not in HELD_BY_DESIGN_KINDS
        assert _outcome(certificate, insured) == expected, (case.variant_kind, row["氏名"], record["name"])


def test_utf8_sig_file_starts_with_a_bom_and_keeps_every_character(tmp_path: Path) -> None:
    generated = cases(300, variant_rate=0.5)
    path = tmp_path / "certificates.csv"
    write_certificates_csv(generated, path, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = _read(path, "utf-8-sig")
    assert [row["氏名"] for row in rows] == [case.certificate["氏名"] for case in generated]


def test_insurance_file_has_the_english_header(tmp_path: Path) -> None:
    path = tmp_path / "insurance.csv"
    assert write_insurance_csv(cases(20), path) == 20
    assert path.read_text(encoding="utf-8").splitlines()[0] == ",".join(INSURANCE_COLUMNS)


def test_streams_are_written_in_one_pass_and_left_open() -> None:
    certificates, insurance = io.StringIO(), io.StringIO()
    count = write_files(generate(50, HACHIOJI, PAYERS, seed=1), certificates, insurance, encoding="cp932")
    assert count == 50
    assert len(certificates.getvalue().splitlines()) == len(insurance.getvalue().splitlines()) == 51
    certificates.getvalue().encode("cp932")


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("𠮷田 一郎", "吉田 一郎"),
        ("葛\U000e0100西", "葛西"),
        ("飛驒", "飛騨"),
        ("髙橋 﨑", "髙橋 﨑"),
        ("\U0002a6b2", "〓"),
        ("ASCII", "ASCII"),
    ],
)
def test_cp932_safe_uses_the_common_form_never_a_question_mark(text: str, safe: str) -> None:
    assert cp932_safe(text) == safe
    safe.encode("cp932")


def test_insurance_records_carry_a_relationship_children_as_dependants(mixed: list[SyntheticCase]) -> None:
    seen = set()
    for case in mixed:
        record = case.insurance
        age = (dt.date(2026, 1, 1) - dt.date.fromisoformat(record["birth_date"])).days / 365.25
        seen.add(record["relationship"])
        if age < 17:
            assert record["relationship"] == "2" or len(record["insurer_number"]) == 6, record
        if age > 76 or len(record["insurer_number"]) == 6:
            assert record["relationship"] == "1", record
    assert seen == {"1", "2"}
