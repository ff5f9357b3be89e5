"""The institution modification subsidy (rules.md §4): amounts by the table, period, one application,
documents (missing → incomplete, not refused)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pmh.auth import service as auth
from pmh.auth.schemas import Caller
from pmh.cli import app as cli
from pmh.errors import Conflict, InvalidInput, PmhError
from pmh.operator import clock
from pmh.operator.subsidy import rules, service
from tests import factories as f

HOSPITAL_CODE = "1310112386"
IN_PERIOD = dt.date(2026, 6, 1)


@pytest.mark.parametrize(
    ("facility", "option", "machine", "chain", "cost", "amount", "ceiling", "rate", "maximum"),
    [
        ("clinic", 1, False, False, 100_000, 54_000, 73_000, "3/4", 54_000),  # 54,750 → 54,000
        ("clinic", 2, False, False, 60_000, 45_000, 73_000, "3/4", 54_000),
        ("clinic", 3, False, False, 50_000, 37_000, 73_000, "3/4", 54_000),  # 37,500 → 37,000
        ("clinic", 1, False, False, 999, 0, 73_000, "3/4", 54_000),  # 749.25 → 0
        ("hospital", 1, False, False, 1_000_000, 283_000, 566_000, "1/2", 283_000),
        ("hospital", 2, True, False, 1_500_000, 600_000, 1_200_000, "1/2", 600_000),
        ("hospital", 3, True, False, 801_999, 400_000, 1_200_000, "1/2", 600_000),  # 400,999.5 → 400,000
        ("hospital", 2, False, False, 1_500_000, 283_000, 566_000, "1/2", 283_000),
        ("hospital", 3, False, False, 300_000, 150_000, 566_000, "1/2", 283_000),
        ("pharmacy", 1, False, False, 73_000, 54_000, 73_000, "3/4", 54_000),
        ("pharmacy", 1, False, True, 100_000, 36_000, 73_000, "1/2", 36_000),  # 36,500 → 36,000
    ],
)
def test_amount_is_capped_cost_times_rate_rounded_down_to_the_thousand(
    facility: str,
    option: int,
    machine: bool,
    chain: bool,
    cost: int,
    amount: int,
    ceiling: int,
    rate: str,
    maximum: int,
) -> None:
    quote = rules.quote(facility, option, cost, reception_machine=machine, large_chain=chain)
    assert (quote.amount, quote.rule.cost_ceiling, quote.rule.rate_text, quote.rule.maximum) == (
        amount,
        ceiling,
        rate,
        maximum,
    )
    assert f"{amount:,}円" in quote.explanation


def test_published_maximum_of_every_line_is_the_amount_at_its_ceiling() -> None:
    for rule in rules.rules():
        assert rules.subsidy_amount(rule.cost_ceiling, rule.cost_ceiling, rule.rate) == rule.maximum, rule.label


@given(cost=st.integers(0, 10**8))
def test_amount_never_exceeds_the_maximum_and_is_whole_thousands(cost: int) -> None:
    quote = rules.quote("hospital", 2, cost, reception_machine=True)
    assert quote.amount % 1000 == 0 and 0 <= quote.amount <= quote.rule.maximum
    assert quote.amount <= cost // 2


@pytest.mark.parametrize(
    ("facility", "option", "machine", "chain", "cost", "field"),
    [
        ("pharmacy", 2, False, False, 10_000, "option"),  # pharmacies: ① only
        ("pharmacy", 3, False, False, 10_000, "option"),
        ("clinic", 1, False, True, 10_000, "large_chain"),
        ("clinic", 2, True, False, 10_000, "reception_machine"),
        ("hospital", 1, True, False, 10_000, "reception_machine"),
        ("clinic", 1, False, False, -1, "cost"),
    ],
)
def test_combinations_the_table_does_not_have_are_refused_naming_the_field(
    facility: str, option: int, machine: bool, chain: bool, cost: int, field: str
) -> None:
    with pytest.raises(PmhError) as refused:
        rules.quote(facility, option, cost, reception_machine=machine, large_chain=chain)
    assert refused.value.errors[0].field == field


def _caller(session: Session, code: str, kind: str, large_chain: bool = False) -> Caller:
    organisation = auth.add_institution(session, code, "テスト機関", kind, large_chain=large_chain)  # type: ignore[arg-type]
    return Caller(organisation.id, organisation.code, organisation.name, "institution", "institution", "test")


ALL_DOCUMENTS = ["receipt", "itemised_receipt", "checklist"]


def test_application_in_the_period_takes_facility_and_chain_from_the_institution(db_session: Session) -> None:
    pharmacy = _caller(db_session, f.PHARMACY_CODE, "pharmacy", large_chain=True)
    view = service.apply(db_session, pharmacy, 1, 100_000, dt.date(2026, 5, 20), ALL_DOCUMENTS, applied_on=IN_PERIOD)
    assert (view.application.amount, view.application.rate, view.application.status) == (36_000, "1/2", "complete")


@pytest.mark.parametrize("applied_on", [dt.date(2026, 5, 14), dt.date(2026, 10, 1)])
def test_application_outside_the_period_is_refused(db_session: Session, applied_on: dt.date) -> None:
    clinic = _caller(db_session, f.CLINIC_CODE, "clinic")
    with pytest.raises(InvalidInput) as refused:
        service.apply(db_session, clinic, 1, 80_000, dt.date(2026, 4, 1), ALL_DOCUMENTS, applied_on=applied_on)
    assert refused.value.errors[0].code == "outside_application_period"


@pytest.mark.parametrize("applied_on", [dt.date(2026, 5, 15), dt.date(2026, 9, 30)])
def test_first_and_last_day_of_the_period_are_in_it(db_session: Session, applied_on: dt.date) -> None:
    clinic = _caller(db_session, f.CLINIC_CODE, "clinic")
    view = service.apply(db_session, clinic, 1, 80_000, dt.date(2026, 5, 1), ALL_DOCUMENTS, applied_on=applied_on)
    assert view.application.amount == 54_000


def test_modification_finished_before_the_period_is_eligible_but_not_one_unfinished(db_session: Session) -> None:
    clinic = _caller(db_session, f.CLINIC_CODE, "clinic")
    with pytest.raises(InvalidInput) as refused:
        service.apply(db_session, clinic, 2, 80_000, dt.date(2026, 6, 2), ALL_DOCUMENTS, applied_on=IN_PERIOD)
    assert refused.value.errors[0].code == "not_completed"
    view = service.apply(db_session, clinic, 2, 80_000, dt.date(2025, 11, 1), ALL_DOCUMENTS, applied_on=IN_PERIOD)
    assert view.application.amount == 54_000


def test_one_application_per_institution_even_for_the_second_part(db_session: Session) -> None:
    hospital = _caller(db_session, HOSPITAL_CODE, "hospital")
    service.apply(db_session, hospital, 1, 500_000, dt.date(2026, 5, 20), ALL_DOCUMENTS, applied_on=IN_PERIOD)
    with pytest.raises(Conflict):
        service.apply(
            db_session,
            hospital,
            3,
            900_000,
            dt.date(2026, 7, 1),
            ALL_DOCUMENTS,
            applied_on=dt.date(2026, 7, 2),
            reception_machine=True,
        )


def test_missing_documents_make_it_incomplete_not_refused_and_can_follow(db_session: Session) -> None:
    clinic = _caller(db_session, f.CLINIC_CODE, "clinic")
    view = service.apply(db_session, clinic, 1, 80_000, dt.date(2026, 5, 1), ["receipt"], applied_on=IN_PERIOD)
    assert view.application.status == "incomplete"
    assert view.missing_documents == ["itemised_receipt", "checklist"]
    later = service.add_documents(db_session, clinic, ["checklist", "itemised_receipt"])
    assert (later.application.status, later.missing_documents) == ("complete", [])


@pytest.fixture
def in_period(client: TestClient) -> Iterator[TestClient]:
    app = client.app
    app.dependency_overrides[clock.today] = lambda: IN_PERIOD  # type: ignore[attr-defined]
    yield client
    app.dependency_overrides.pop(clock.today)  # type: ignore[attr-defined]


def test_application_api_is_for_institutions(in_period: TestClient, db_session: Session) -> None:
    key = f.api_key(db_session, f.institution(db_session), "institution")
    body = {"option": 1, "cost": 100_000, "completed_on": "2026-05-20", "documents": ["receipt", "checklist"]}
    created = in_period.post("/api/v1/subsidy-applications", json=body, headers=f.bearer(key))
    assert created.status_code == 201, created.text
    assert (created.json()["amount"], created.json()["status"]) == (54_000, "incomplete")
    assert created.json()["missing_documents"] == ["itemised_receipt"]
    again = in_period.post("/api/v1/subsidy-applications", json=body, headers=f.bearer(key))
    assert again.status_code == 409
    completed = in_period.post(
        "/api/v1/subsidy-applications/mine/documents", json={"documents": ["itemised_receipt"]}, headers=f.bearer(key)
    )
    assert completed.json()["status"] == "complete"
    municipal = f.api_key(db_session, f.municipality(db_session), "municipality")
    assert in_period.post("/api/v1/subsidy-applications", json=body, headers=f.bearer(municipal)).status_code == 403
    operator = f.api_key(db_session, f.operator(db_session), "operator")
    listed = in_period.get("/api/v1/subsidy-applications", headers=f.bearer(operator)).json()
    assert [a["institution_code"] for a in listed] == [f.CLINIC_CODE]


def test_public_quote_over_http(client: TestClient) -> None:
    body = client.get(
        "/api/v1/subsidy/quote",
        params={"facility": "hospital", "option": 2, "cost": 2_000_000, "reception_machine": True},
    ).json()
    assert (body["amount"], body["cost_ceiling"], body["rate"], body["maximum"]) == (600_000, 1_200_000, "1/2", 600_000)
    none = client.get("/api/v1/subsidy/quote", params={"facility": "pharmacy", "option": 2, "cost": 1})
    assert none.status_code == 404 and none.json()["errors"][0]["code"] == "pharmacy_option_1_only"


def test_cli_quote_prints_the_interface_keys_and_exit_codes() -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli, ["subsidy", "quote", "--facility", "clinic", "--option", "1", "--cost", "100000", "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert {k: body[k] for k in ("amount", "cost_ceiling", "rate", "maximum")} == {
        "amount": 54_000,
        "cost_ceiling": 73_000,
        "rate": "3/4",
        "maximum": 54_000,
    }
    refused = runner.invoke(
        cli, ["subsidy", "quote", "--facility", "pharmacy", "--option", "2", "--cost", "1", "--json"]
    )
    assert refused.exit_code == 1 and json.loads(refused.stdout)["errors"][0]["field"] == "option"
    assert (
        runner.invoke(cli, ["subsidy", "quote", "--facility", "dentist", "--option", "1", "--cost", "1"]).exit_code == 2
    )
