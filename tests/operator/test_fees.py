"""Operating and introduction fees (rules.md §1–2), with the worked examples of the briefing."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pmh.auth.schemas import Caller
from pmh.cli import app as cli
from pmh.errors import InvalidInput, NotFound
from pmh.operator.contracts import service as contracts
from pmh.operator.fees import service
from pmh.registry.models import Certificate
from tests import factories as f
from tests.operator.support import payer, register
from tests.registry.test_import import line, upload

HACHIOJI, TOKYO = f.HACHIOJI, f.TOKYO
KODOMO_2 = "89131247"  # 八王子市's second payer number of its 乳幼児・義務教育就学児 program (domain.md)


def operator(session: Session) -> Caller:
    organisation = f.operator(session)
    return Caller(organisation.id, organisation.code, organisation.name, "operator", "operator", "test")


@pytest.mark.parametrize(
    ("count", "unit", "monthly", "annual"),
    [
        (1, "7", 7, 84),  # the briefing's current image: ¥7 per registered person and month
        (2, "7", 14, 168),  # one resident in two programs counts two
        (1, "2", 2, 24),  # the earlier image (令和6年度ベース ¥2)
        (15_000_000, "7", 105_000_000, 1_260_000_000),  # the planning assumption: 15 million registered
        (100, "4.41", 441, 5_292),  # ¥4.41 (市町村国保's FY2026 price) stays exact in 銭
        (7, "4.83", 33, 405),  # 33.81 and 405.72 are rounded down to the yen
        (100, "2.94", 294, 3_528),  # 市町村国保's FY2024 price (rules.md §6)
        (100, "3.01", 301, 3_612),  # 後期高齢者医療広域連合's FY2024 price
    ],
)
def test_operating_fee_worked_examples(count: int, unit: str, monthly: int, annual: int) -> None:
    sen = service.parse_unit_price(unit)
    assert service.monthly_fee(count, sen) == monthly
    assert service.annual_fee(count, sen) == annual


@given(count=st.integers(0, 10**8), sen=st.integers(0, 100_000))
def test_annual_fee_is_twelve_months_rounded_down_once(count: int, sen: int) -> None:
    annual = service.annual_fee(count, sen)
    assert annual * 100 <= count * sen * 12 < (annual + 1) * 100
    assert service.monthly_fee(count, sen) * 12 <= annual


@pytest.mark.parametrize(
    ("total", "municipalities", "fee"),
    [(30_000_000, 100, 300_000), (1_000_000, 3, 333_333), (500_000, 0, 0), (999, 1_000, 0)],
)
def test_introduction_fee_is_the_pool_divided_and_rounded_down(total: int, municipalities: int, fee: int) -> None:
    assert service.introduction_fee(total, municipalities) == fee


@pytest.mark.parametrize("text", ["4.411", "-1", "abc", "NaN", "1e400"])
def test_unit_price_with_more_than_sen_or_negative_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        service.parse_unit_price(text)
    assert refused.value.errors[0].field == "unit"


@pytest.fixture
def hub(db_session: Session) -> Session:
    """八王子市 runs two programs since FY2025, joins 小児慢性 in FY2028 (planned 50) and introduces two
    programs in FY2028 and one in FY2029; 東京都 introduces 難病 in FY2028 (planned 1,000)."""
    caller, _ = register(db_session, HACHIOJI, "kodomo", [f.KODOMO_PAYER, KODOMO_2], dt.date(2025, 6, 1))
    register(db_session, HACHIOJI, "hitorioya", [f.HITORIOYA_PAYER], dt.date(2025, 6, 1))
    register(db_session, HACHIOJI, "shoman", [payer("52", "13", 601)], dt.date(2027, 6, 1), planned=50)
    register(db_session, HACHIOJI, "ikusei", [payer("16", "13", 601)], dt.date(2028, 5, 1), planned=10)
    register(db_session, HACHIOJI, "kosei", [payer("15", "13", 601)], dt.date(2028, 7, 1), planned=20)
    register(db_session, HACHIOJI, "yoiku", [payer("23", "13", 601)], dt.date(2029, 5, 1), planned=5)
    register(db_session, TOKYO, "nanbyo", [payer("54", "13", 602)], dt.date(2028, 5, 1), planned=1_000)
    for person in range(1, 6):
        f.insurance(db_session, f.my_number(person), "高橋 一郎", "タカハシ イチロウ", "2018-04-01")
    result = upload(
        db_session,
        caller,
        line(recipient=1, person=1, start="2026-04-01"),  # counts: person 1 in こども
        line(recipient=2, person=1, start="2026-04-01", payer=f.HITORIOYA_PAYER),  # counts: person 1 in ひとり親
        line(recipient=3, person=2, start="2026-04-01"),  # counts: person 2 in こども …
        line(recipient=4, person=2, start="2026-04-01", payer=KODOMO_2),  # … once, though under two payer numbers
        line(recipient=5, person=3, start="2026-04-01", end="2027-03-31"),  # ended the day before
        line(recipient=6, person=4, start="2027-05-01"),  # valid only after the reference date
    )
    assert result.status == "applied"
    return db_session


def test_registered_count_is_one_per_person_per_program_valid_on_the_reference_date(hub: Session) -> None:
    service.set_price(hub, operator(hub), 2028, "estimate", service.parse_unit_price("7"), 1_000_000)
    report = service.compute(hub, 2028)
    assert report.reference_date == dt.date(2027, 4, 1)
    hachioji = service.municipality_fee(report, HACHIOJI)
    assert (hachioji.registered, hachioji.planned, hachioji.registered_count) == (3, 50, 53)
    assert (hachioji.monthly_fee, hachioji.annual_fee) == (53 * 7, 53 * 7 * 12)
    assert hachioji.joining_programs == ["shoman"]


def test_certificates_registered_after_the_reference_date_do_not_count(hub: Session) -> None:
    service.set_price(hub, operator(hub), 2028, "estimate", 700)
    late = dt.datetime(2027, 4, 2, 0, 30, tzinfo=dt.UTC)  # 09:30 on April 2 in Japan
    from pmh.registry.models import CertificateVersion

    hub.execute(update(CertificateVersion).where(CertificateVersion.version == 1).values(recorded_at=late))
    assert service.municipality_fee(service.compute(hub, 2028), HACHIOJI).registered == 0
    just_in_time = dt.datetime(2027, 4, 1, 14, 59, tzinfo=dt.UTC)  # 23:59 on April 1 in Japan
    hub.execute(update(CertificateVersion).values(recorded_at=just_in_time))
    assert service.municipality_fee(service.compute(hub, 2028), HACHIOJI).registered == 3


def test_rejected_certificates_do_not_count(hub: Session) -> None:
    service.set_price(hub, operator(hub), 2028, "estimate", 700)
    hub.execute(update(Certificate).where(Certificate.payer_number == f.HITORIOYA_PAYER).values(link_status="rejected"))
    assert service.municipality_fee(service.compute(hub, 2028), HACHIOJI).registered == 2


def test_introduction_fee_once_per_municipality_per_year_and_again_when_adding_later(hub: Session) -> None:
    service.set_price(hub, operator(hub), 2028, "final", 700, introduction_total=1_000_000)
    service.set_price(hub, operator(hub), 2029, "final", 700, introduction_total=900_000)
    fy2028 = service.compute(hub, 2028)
    assert fy2028.introducing_municipalities == 2 and fy2028.introduction_fee_each == 500_000
    hachioji = service.municipality_fee(fy2028, HACHIOJI)
    assert hachioji.introduced_programs == ["ikusei", "kosei"] and hachioji.introduction_fee == 500_000
    fy2029 = service.compute(hub, 2029)
    assert service.municipality_fee(fy2029, HACHIOJI).introduction_fee == 900_000
    assert service.municipality_fee(fy2029, TOKYO).introduction_fee == 0


def test_introducing_during_a_year_pays_operating_fees_from_the_next(hub: Session) -> None:
    service.set_price(hub, operator(hub), 2028, "final", 700, introduction_total=1_000_000)
    service.set_price(hub, operator(hub), 2029, "final", 700)
    tokyo_2028 = service.municipality_fee(service.compute(hub, 2028), TOKYO)
    assert (tokyo_2028.registered_count, tokyo_2028.annual_fee, tokyo_2028.introduction_fee) == (0, 0, 500_000)
    tokyo_2029 = service.municipality_fee(service.compute(hub, 2029), TOKYO)
    assert (tokyo_2029.planned, tokyo_2029.monthly_fee) == (1_000, 7_000)
    hachioji_2029 = service.municipality_fee(service.compute(hub, 2029), HACHIOJI)
    assert hachioji_2029.joining_programs == ["ikusei", "kosei"] and hachioji_2029.planned == 30


def test_survey_count_overrides_the_registry_count_of_introducing_municipalities(hub: Session) -> None:
    service.set_price(
        hub, operator(hub), 2028, "final", 700, introduction_total=30_000_000, introducing_municipalities=100
    )
    assert service.compute(hub, 2028).introduction_fee_each == 300_000


def test_estimate_and_final_are_kept_apart_and_the_report_says_which_it_used(hub: Session) -> None:
    service.set_price(hub, operator(hub), 2028, "estimate", service.parse_unit_price("7"))
    assert service.compute(hub, 2028).price_version == "estimate"
    service.set_price(hub, operator(hub), 2028, "final", service.parse_unit_price("6.5"))
    final = service.compute(hub, 2028)
    assert (final.price_version, final.unit_price_sen) == ("final", 650)
    assert service.municipality_fee(final, HACHIOJI).monthly_fee == 344  # 53 × 6.50 = 344.5
    estimate = service.compute(hub, 2028, "estimate")
    assert (estimate.price_version, estimate.unit_price_sen) == ("estimate", 700)
    assert {p.version: p.unit_price_sen for p in service.prices(hub, 2028).values()} == {"estimate": 700, "final": 650}


def test_fees_before_fy2027_and_without_a_price_are_refused(db_session: Session) -> None:
    with pytest.raises(InvalidInput):
        service.compute(db_session, 2026)
    with pytest.raises(InvalidInput):
        service.set_price(db_session, operator(db_session), 2026, "final", 700)
    with pytest.raises(NotFound):
        service.compute(db_session, 2027)


def test_invoice_csv_and_payment_choice(hub: Session) -> None:
    contracts.set_contact_window(hub, HACHIOJI, "福祉部 医療助成課", payment="monthly")
    service.set_price(hub, operator(hub), 2028, "final", 700, introduction_total=1_000_000)
    lines = service.invoice_csv(service.compute(hub, 2028)).splitlines()
    assert lines[0].split(",")[:3] == ["年度", "単価区分", "月額単価（円）"]
    hachioji = next(row.split(",") for row in lines if f",{HACHIOJI}," in row)
    assert hachioji[1] == "確定" and hachioji[8:] == ["53", "371", "4452", "月払い", "500000", "504452"]


def test_fees_api_is_for_the_operator_and_serves_json_and_csv(client: TestClient, hub: Session) -> None:
    service.set_price(hub, operator(hub), 2028, "estimate", 700, introduction_total=1_000_000)
    key = f.api_key(hub, f.operator(hub), "operator")
    body = client.get("/api/v1/fees", params={"fiscal_year": 2028}, headers=f.bearer(key)).json()
    assert (body["fiscal_year"], body["unit_price"], body["price_version"]) == (2028, 7, "estimate")
    row = next(m for m in body["municipalities"] if m["code"] == HACHIOJI)
    assert {k: row[k] for k in ("registered_count", "monthly_fee", "annual_fee", "introduction_fee")} == {
        "registered_count": 53,
        "monthly_fee": 371,
        "annual_fee": 4452,
        "introduction_fee": 500_000,
    }
    csv = client.get("/api/v1/fees", params={"fiscal_year": 2028, "format": "csv"}, headers=f.bearer(key))
    assert csv.headers["content-type"].startswith("text/csv") and csv.content.startswith(b"\xef\xbb\xbf")
    municipal = f.api_key(hub, f.municipality(hub), "municipality")
    assert client.get("/api/v1/fees", params={"fiscal_year": 2028}, headers=f.bearer(municipal)).status_code == 403
    price = client.put(
        "/api/v1/fees/prices",
        json={"fiscal_year": 2028, "version": "final", "unit_price": "4.41"},
        headers=f.bearer(key),
    )
    assert price.status_code == 200 and price.json()["unit_price"] == "4.41"


def test_cli_price_and_compute_print_the_interface_keys(hub: Session) -> None:
    runner = CliRunner()
    priced = runner.invoke(
        cli,
        [
            "fees",
            "price",
            "--fiscal-year",
            "2028",
            "--version",
            "estimate",
            "--unit",
            "7",
            "--introduction-total",
            "1000000",
        ],
    )
    assert priced.exit_code == 0, priced.output
    result = runner.invoke(cli, ["fees", "compute", "--fiscal-year", "2028", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert {"fiscal_year", "unit_price", "price_version", "municipalities"} <= body.keys()
    row = next(m for m in body["municipalities"] if m["code"] == HACHIOJI)
    assert {"code", "name", "registered_count", "monthly_fee", "annual_fee", "introduction_fee"} <= row.keys()
    assert row["registered_count"] == 53
    refused = runner.invoke(cli, ["fees", "compute", "--fiscal-year", "2026", "--json"])
    assert refused.exit_code == 1 and json.loads(refused.stdout)["error"] == "invalid_input"
    usage = runner.invoke(cli, ["fees", "compute", "--fiscal-year", "2028", "--price", "guess"])
    assert usage.exit_code == 2


def test_an_end_recorded_after_the_reference_date_does_not_change_the_count(hub: Session) -> None:
    from pmh.registry.models import CertificateVersion

    service.set_price(hub, operator(hub), 2028, "estimate", 700)
    caller = f.municipality_caller(hub, HACHIOJI)
    ended = upload(hub, caller, line(op=3, recipient=1, end="2027-03-31"))  # person 1 leaves こども on March 31
    assert ended.status == "applied"
    assert service.municipality_fee(service.compute(hub, 2028), HACHIOJI).registered == 2
    hub.execute(
        update(CertificateVersion)
        .where(CertificateVersion.version == 2)  # the 終了 just recorded: the only second version
        .values(recorded_at=dt.datetime(2027, 4, 5, tzinfo=dt.UTC))
    )
    assert service.municipality_fee(service.compute(hub, 2028), HACHIOJI).registered == 3
