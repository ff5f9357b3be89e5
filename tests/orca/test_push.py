"""``pmh orca push`` against the ORCA stand-in: the patientmodv32 lock flow, equal / updated / new 公費,
lock contention, refusals and confirmations, always unlocked afterwards."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from pmh.cli import app as cli_app
from pmh.eligibility.formats import to_orca
from pmh.errors import InvalidInput
from pmh.orca import bridge
from tests.eligibility.test_formats import result, subsidy
from tests.orca.standin import OrcaStandIn, serve, serve_json

PATIENT = "00012"


def body(patient_id: str = PATIENT) -> dict[str, Any]:
    """The hub's format=orca body: 難病 (54016027 / 1000001) and 地単 (88138243 / 1000002)."""
    sample = result([subsidy(1), subsidy(2, "88138243", valid_to=None)])
    return to_orca(sample, patient_id)


def held(payer: str, recipient: str, start: str = "2025-10-01", end: str = "2026-09-30") -> dict[str, Any]:
    return {
        "PublicInsurance_Class": "054" if payer.startswith("54") else "",
        "PublicInsurance_Name": "難病",
        "PublicInsurer_Number": payer,
        "PublicInsuredPerson_Number": recipient,
        "Certificate_IssuedDate": start,
        "Certificate_ExpiredDate": end,
        "Certificate_CheckDate": "2025-10-02",
    }


@pytest.fixture
def orca() -> Iterator[OrcaStandIn]:
    with serve(OrcaStandIn()) as standin:
        yield standin


def run(orca: OrcaStandIn, data: dict[str, Any] | None = None, allow: tuple[str, ...] = ()) -> bridge.PushResult:
    call = bridge.orca_caller(orca.url, orca.user, orca.password)
    return bridge.push(data or body(), call, karte_uid="karte-1", allowed_selects=allow)


def test_new_public_insurances_are_added_by_01_02_03(orca: OrcaStandIn) -> None:
    orca.add_patient(PATIENT)
    done = run(orca)
    assert orca.numbers == ["01", "02", "03"]
    assert [a["payer_number"] for a in done.added] == ["54016027", "88138243"]
    assert (done.modified, done.unchanged, done.api_result) == ([], [], "000")
    stored = orca.patients[PATIENT].public
    assert [(p["PublicInsurer_Number"], p["PublicInsuredPerson_Number"]) for p in stored] == [
        ("54016027", "1000001"),
        ("88138243", "1000002"),
    ]
    assert stored[1]["Certificate_ExpiredDate"] == "9999-12-31"
    assert orca.patients[PATIENT].locked_by is None
    # what went into 02 is exactly ORCA's request element: no pmh keys
    assert set(orca.requests[1]) == {
        "Request_Number",
        "Karte_Uid",
        "Orca_Uid",
        "Patient_Information",
        "PublicInsurance_Information",
    }


def test_an_equal_public_insurance_is_left_alone_and_the_patient_unlocked(orca: OrcaStandIn) -> None:
    orca.add_patient(
        PATIENT,
        held("54016027", "1000001"),
        held("88138243", "1000002", end="9999-12-31") | {"PublicInsurance_Class": ""},
    )
    done = run(orca)
    assert orca.numbers == ["01", "99"]
    assert (done.added, done.modified) == ([], [])
    assert [u["payer_number"] for u in done.unchanged] == ["54016027", "88138243"]
    assert len(orca.patients[PATIENT].public) == 2 and orca.patients[PATIENT].locked_by is None


def test_an_updated_public_insurance_is_modified_with_its_orca_id_never_added_twice(orca: OrcaStandIn) -> None:
    orca.add_patient(PATIENT, held("54016027", "1000001", end="2025-09-30"))
    done = run(orca)
    assert orca.numbers == ["01", "02", "03"]
    assert done.modified == [
        {"payer_number": "54016027", "recipient_number": "1000001", "public_insurance_id": "0000000001"}
    ]
    assert [a["payer_number"] for a in done.added] == ["88138243"]
    sent = orca.requests[1]["PublicInsurance_Information"]["PublicInsurance_Info"]
    assert [(s["PublicInsurance_Mode"], s["PublicInsurance_Id"]) for s in sent] == [
        ("Modify", "0000000001"),
        ("New", "0"),
    ]
    stored = orca.patients[PATIENT].public
    assert len(stored) == 2 and stored[0]["Certificate_ExpiredDate"] == "2026-09-30"


def test_lock_contention_sends_nothing_and_leaves_the_other_terminals_lock(orca: OrcaStandIn) -> None:
    orca.add_patient(PATIENT)
    other = orca.lock_by_other_terminal(PATIENT)
    with pytest.raises(bridge.OrcaRefused) as refused:
        run(orca)
    assert orca.numbers == ["01"]
    assert refused.value.extensions["result"]["api_result"] == "E90"
    assert "他の端末" in refused.value.message
    assert orca.patients[PATIENT].locked_by == other and orca.patients[PATIENT].public == []


def test_a_refused_payer_number_registers_nothing_and_unlocks(orca: OrcaStandIn) -> None:
    orca.add_patient(PATIENT)
    orca.refused_payers.add("88138243")
    with pytest.raises(bridge.OrcaRefused) as refused:
        run(orca)
    assert orca.numbers == ["01", "02", "99"]
    assert refused.value.extensions["result"]["api_result"] == "E50"
    assert "88138243 負担者番号が存在しません" in refused.value.message
    assert orca.patients[PATIENT].public == [] and orca.patients[PATIENT].locked_by is None


def test_a_confirmation_is_answered_only_when_the_operator_allowed_it(orca: OrcaStandIn) -> None:
    orca.add_patient(PATIENT)
    orca.confirm = ("K910", "保険組合せ更新で期間外の診療が発生します。更新内容を確認して下さい。")
    with pytest.raises(bridge.OrcaRefused) as refused:
        run(orca)
    assert orca.numbers == ["01", "02", "03", "99"]
    assert "K910" in refused.value.message and orca.patients[PATIENT].public == []
    assert orca.patients[PATIENT].locked_by is None
    orca.requests.clear()
    done = run(orca, allow=("K910",))
    assert orca.numbers == ["01", "02", "03", "03"] and orca.requests[-1]["Select_Answer"] == "Ok"
    assert len(done.added) == 2 and orca.patients[PATIENT].locked_by is None


def test_an_unknown_patient_is_refused_without_a_lock(orca: OrcaStandIn) -> None:
    with pytest.raises(bridge.OrcaRefused) as refused:
        run(orca)
    assert orca.numbers == ["01"] and refused.value.extensions["result"]["api_result"] == "E10"


def test_a_reception_without_a_linked_patient_is_not_sent(orca: OrcaStandIn) -> None:
    with pytest.raises(InvalidInput):
        run(orca, body(patient_id=""))
    assert orca.requests == []


def test_the_cli_reads_the_hub_and_prints_the_contract_keys(orca: OrcaStandIn) -> None:
    orca.add_patient(PATIENT, held("54016027", "1000001"))
    path = "/api/v1/receptions/7/eligibility?format=orca"
    with serve_json(path, body(), "clinic-key") as hub:
        args = ["orca", "push", "--reception", "7", "--hub", hub, "--key", "clinic-key", "--orca", orca.url]
        auth = ["--orca-user", orca.user, "--orca-password", orca.password, "--json"]
        done = CliRunner().invoke(cli_app, args + auth)
        assert done.exit_code == 0, done.output
        output = json.loads(done.output)
        assert {"patient_id", "added", "modified", "unchanged", "api_result"} <= set(output)
        assert output["patient_id"] == PATIENT and output["api_result"] == "000"
        assert [u["payer_number"] for u in output["unchanged"]] == ["54016027"]
        assert [a["payer_number"] for a in output["added"]] == ["88138243"]

        orca.refused_payers.add("54016027")
        orca.patients[PATIENT].public.clear()
        refused = CliRunner().invoke(cli_app, args + auth)
        assert refused.exit_code == 1
        assert json.loads(refused.output)["api_result"] == "E50"
        assert orca.patients[PATIENT].locked_by is None

        wrong_password = CliRunner().invoke(cli_app, [*args, "--orca-user", orca.user, "--orca-password", "x"])
        assert wrong_password.exit_code == 1


def test_open_end_and_dates_are_what_orca_stores() -> None:
    sample = result([subsidy(1, valid_to=None, valid_from=dt.date(2026, 4, 1))])
    [item] = to_orca(sample, PATIENT)["patientmodv3req2"]["PublicInsurance_Information"]["PublicInsurance_Info"]
    assert (item["Certificate_IssuedDate"], item["Certificate_ExpiredDate"]) == ("2026-04-01", "9999-12-31")
