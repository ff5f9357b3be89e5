"""Contact windows, delegations and one contract per prefecture per fiscal year (rules.md §3)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pmh.auth.schemas import Caller
from pmh.cli import app as cli
from pmh.errors import InvalidInput
from pmh.operator.contracts import service
from tests import factories as f
from tests.operator.support import payer, register

TACHIKAWA, MIZUHO = "132021", "133035"


def operator(session: Session) -> Caller:
    organisation = f.operator(session)
    return Caller(organisation.id, organisation.code, organisation.name, "operator", "operator", "test")


@pytest.fixture
def tokyo(db_session: Session) -> Session:
    """東京都 runs 難病; 八王子市 runs two local programs and delegates; 立川市 runs one and has not delegated."""
    register(db_session, f.TOKYO, "nanbyo", [payer("54", "13", 602)], dt.date(2026, 4, 1))
    register(db_session, f.HACHIOJI, "kodomo", [f.KODOMO_PAYER], dt.date(2025, 6, 1))
    register(db_session, f.HACHIOJI, "hitorioya", [f.HITORIOYA_PAYER], dt.date(2025, 6, 1))
    register(db_session, TACHIKAWA, "kodomo", [payer("88", "13", 21)], dt.date(2026, 10, 1))
    service.delegate(db_session, f.HACHIOJI, 2027)
    return db_session


def test_contracts_with_the_digital_agency_until_fy2026(db_session: Session) -> None:
    with pytest.raises(InvalidInput) as refused:
        service.build(db_session, operator(db_session), 2026)
    assert refused.value.errors[0].code == "digital_agency_contract"
    with pytest.raises(InvalidInput):
        service.delegate(db_session, f.HACHIOJI, 2026, ["kodomo"])


def test_one_contract_per_prefecture_lists_its_own_and_every_delegating_municipalitys_programs(tokyo: Session) -> None:
    [contract] = service.build(tokyo, operator(tokyo), 2027)
    assert (contract.prefecture_code, contract.status) == ("13", "built")
    assert contract.programs == [(f.TOKYO, "nanbyo"), (f.HACHIOJI, "hitorioya"), (f.HACHIOJI, "kodomo")]
    assert contract.delegations == [f.HACHIOJI]
    assert contract.missing_delegations == [TACHIKAWA]


def test_contract_is_updated_once_a_year_and_later_programs_wait_for_the_next(tokyo: Session) -> None:
    service.build(tokyo, operator(tokyo), 2027)
    register(tokyo, f.HACHIOJI, "shoman", [payer("52", "13", 601)], dt.date(2027, 6, 1))
    service.delegate(tokyo, f.HACHIOJI, 2027, ["kodomo", "hitorioya", "shoman"])
    service.delegate(tokyo, TACHIKAWA, 2027)
    [rebuilt] = service.build(tokyo, operator(tokyo), 2027)
    assert (f.HACHIOJI, "shoman") not in rebuilt.programs
    assert rebuilt.deferred == [(f.HACHIOJI, "shoman"), (TACHIKAWA, "kodomo")]
    assert rebuilt.delegations == [f.HACHIOJI]
    service.delegate(tokyo, f.HACHIOJI, 2028)
    service.delegate(tokyo, TACHIKAWA, 2028)
    [next_year] = service.build(tokyo, operator(tokyo), 2028)
    assert (f.HACHIOJI, "shoman") in next_year.programs and (TACHIKAWA, "kodomo") in next_year.programs
    assert next_year.deferred == []


def test_delegation_annex_must_hold_programs_the_municipality_may_run(db_session: Session) -> None:
    with pytest.raises(InvalidInput) as refused:
        service.delegate(db_session, MIZUHO, 2027, ["nanbyo", "nosuch"])
    assert [e.code for e in refused.value.errors] == ["implementing_body", "unknown_program"]
    with pytest.raises(InvalidInput) as prefecture:
        service.delegate(db_session, f.TOKYO, 2027, ["nanbyo"])
    assert prefecture.value.errors[0].code == "prefecture_signs"
    with pytest.raises(InvalidInput) as empty:
        service.delegate(db_session, MIZUHO, 2027)
    assert empty.value.errors[0].code == "no_programs"


def test_one_contact_window_per_municipality_with_its_payment_choice(db_session: Session) -> None:
    service.set_contact_window(db_session, f.HACHIOJI, "福祉部 医療助成課", payment="monthly")
    service.set_contact_window(db_session, f.HACHIOJI, "健康医療部 とりまとめ課", payment="annual")
    windows = service.contact_windows(db_session)
    assert list(windows) == [f.HACHIOJI]
    assert (windows[f.HACHIOJI].department, windows[f.HACHIOJI].payment) == ("健康医療部 とりまとめ課", "annual")
    with pytest.raises(InvalidInput):
        service.set_contact_window(db_session, f.HACHIOJI, "課", payment="quarterly")


def test_contracts_api_for_municipalities_and_the_operator(client: TestClient, tokyo: Session) -> None:
    municipal = f.bearer(f.api_key(tokyo, f.municipality(tokyo, TACHIKAWA), "municipality"))
    window = client.put(
        "/api/v1/contact-window", json={"department": "福祉保健部", "payment": "monthly"}, headers=municipal
    )
    assert window.status_code == 200 and window.json()["municipality_code"] == TACHIKAWA
    delegated = client.post("/api/v1/delegations", json={"fiscal_year": 2027}, headers=municipal)
    assert delegated.status_code == 201 and delegated.json()["programs"] == ["kodomo"]
    key = f.bearer(f.api_key(tokyo, f.operator(tokyo), "operator"))
    draft = client.get("/api/v1/contracts", params={"fiscal_year": 2027}, headers=key).json()
    assert draft["contracts"][0]["status"] == "draft"
    built = client.post("/api/v1/contracts/build", json={"fiscal_year": 2027}, headers=key).json()
    [contract] = built["contracts"]
    assert {"prefecture_code", "prefecture_name", "programs", "delegations"} <= contract.keys()
    assert contract["prefecture_name"] == "東京都" and contract["delegations"] == [f.HACHIOJI, TACHIKAWA]
    assert client.post("/api/v1/contracts/build", json={"fiscal_year": 2027}, headers=municipal).status_code == 403


def test_cli_build_prints_the_interface_keys(tokyo: Session) -> None:
    result = CliRunner().invoke(cli, ["contracts", "build", "--fiscal-year", "2027", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["fiscal_year"] == 2027
    assert body["contracts"][0]["programs"][0] == {"municipality_code": f.TOKYO, "program_code": "nanbyo"}
    refused = CliRunner().invoke(cli, ["contracts", "build", "--fiscal-year", "2026"])
    assert refused.exit_code == 1
