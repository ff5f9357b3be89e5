"""``POST /certificates/batch`` with the registration API (自治体) 0.1.1 body, over HTTP and into the database."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pmh.cli import app as cli_app
from pmh.registry.models import CertificateVersion, Program
from tests import factories as f
from tests.registry.test_parsing import INSTITUTION, OTHER_INSTITUTION, VALID, csv_bytes

TYPE_ID = "KODOMO01"
BATCH = "/api/v1/certificates/batch"


@pytest.fixture
def key(db_session: Session) -> str:
    caller = f.municipality_caller(db_session)
    f.program(db_session, caller, certificate_type_id=TYPE_ID)
    f.insurance(db_session, f.my_number(1), "高橋 一郎", "タカハシ イチロウ", "2018-04-01")
    return f.api_key(db_session, f.municipality(db_session), "municipality")


def record(recipient: int = 1, **changes: Any) -> dict[str, Any]:
    """A record in the published 0.1.1 shape, for a person the insurance records know."""
    data: dict[str, Any] = {
        "orgSpecificCertificateTypeId": TYPE_ID,
        "myNumber": f.my_number(1),
        "basicFiveInfo": {
            "name": "高橋 一郎",
            "nameKana": "タカハシ イチロウ",
            "address": "東京都八王子市元本郷町三丁目24番1号",
            "dateOfBirth": "2018-04-01",
            "sex": "1",
        },
        "isNotDisclosed": False,
        "medicalSubsidyInsurerNumber": f.KODOMO_PAYER,
        "certificationName": "八王子市乳幼児医療証",
        "medicalSubsidyRecipientNumber": f.recipient(recipient),
        "incomeSegment": "一般",
        "additionalConditions": "01-入院時食事療養費;02-なし",
        "designatedMedicalInstitutions": f"{INSTITUTION};{OTHER_INSTITUTION}",
        "isAlwaysReimbursement": "0",
        "maxCopaymentAmount": {"monthly": 5000, "inpatient": 10000, "copayRate": 20, "isCapManaged": True},
        "validFrom": "2026-04-01",
        "validTo": "2027-03-31",
        "historyKey": f"H{recipient:04d}-1",
        "isDeleted": False,
        "certificationDetail": [{"name": "備考", "value": "なし"}],
    }
    return data | changes


def certificate(client: TestClient, key: str, recipient: int, as_of: str = "2026-05-01") -> dict[str, Any]:
    params = {"payer_number": f.KODOMO_PAYER, "recipient_number": f.recipient(recipient), "as_of": as_of}
    response = client.get("/api/v1/certificates", params=params, headers=f.bearer(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_array_body_is_applied_and_a_resent_history_key_changes_nothing(
    client: TestClient, key: str, db_session: Session
) -> None:
    applied = client.post(BATCH, json=[record(1)], headers=f.bearer(key))
    assert applied.status_code == 201, applied.text
    assert applied.json()["status"] == "applied" and applied.json()["accepted"] == 1
    found = certificate(client, key, 1)
    assert found["in_force"]["monthly_cap"] == 5000 and found["in_force"]["history_key"] == "H0001-1"
    assert found["in_force"]["additional_conditions"] == {"01": "入院時食事療養費", "02": "なし"}

    # the same record again inside another batch: its 履歴キー was applied, so no new version
    again = client.post(BATCH, json=[record(1), record(2)], headers=f.bearer(key)).json()
    assert again["status"] == "applied" and again["accepted"] == 1
    count = select(func.count()).select_from(CertificateVersion)
    assert db_session.scalar(count) == 2

    # a new 履歴キー with a new validFrom makes a new version
    changed = record(1, historyKey="H0001-2", validFrom="2026-07-01", maxCopaymentAmount={"monthly": 2500})
    assert client.post(BATCH, json=[changed], headers=f.bearer(key)).json()["accepted"] == 1
    later = certificate(client, key, 1, as_of="2026-08-01")
    assert later["in_force"]["monthly_cap"] == 2500 and len(later["history"]) == 2
    assert certificate(client, key, 1, as_of="2026-05-01")["in_force"]["monthly_cap"] == 5000


def test_is_deleted_ends_the_certificate(client: TestClient, key: str) -> None:
    client.post(BATCH, json=[record(1)], headers=f.bearer(key))
    ended = record(1, historyKey="H0001-9", isDeleted=True, validTo="2026-06-30")
    assert client.post(BATCH, json=[ended], headers=f.bearer(key)).json()["status"] == "applied"
    assert certificate(client, key, 1, as_of="2026-07-01")["status"] == "expired"
    assert certificate(client, key, 1, as_of="2026-06-30")["status"] == "valid"


def test_errors_carry_the_record_index_and_a_json_pointer(client: TestClient, key: str) -> None:
    bad_birth = record(2)
    bad_birth["basicFiveInfo"] = dict(bad_birth["basicFiveInfo"], dateOfBirth="2018/04/01")
    body = [record(1), record(3), record(4), bad_birth, record(5, orgSpecificCertificateTypeId="NOPE")]
    refused = client.post(BATCH, json=body, headers=f.bearer(key)).json()
    assert refused["status"] == "rejected" and refused["accepted"] == 0
    found = {(e["index"], e["pointer"], e["code"]) for e in refused["errors"]}
    assert found == {
        (3, "/3/basicFiveInfo/dateOfBirth", "invalid_date_format"),
        (4, "/4/orgSpecificCertificateTypeId", "unknown_certificate_type"),
    }
    assert all(e["message"] for e in refused["errors"])
    # nothing was applied, and allow_partial (a query parameter) applies the valid records
    assert (
        client.post(BATCH, json=body, params={"allow_partial": "true"}, headers=f.bearer(key)).json()["accepted"] == 3
    )


def test_the_stored_upload_keeps_each_problem_s_pointer(client: TestClient, key: str) -> None:
    bad_birth = record(2)
    bad_birth["basicFiveInfo"] = dict(bad_birth["basicFiveInfo"], dateOfBirth="2018/04/01")
    sent = client.post(BATCH, json=[record(1), bad_birth], headers=f.bearer(key)).json()
    assert sent["status"] == "rejected"
    wanted = [{"row": 2, "index": 1, "pointer": "/1/basicFiveInfo/dateOfBirth", "code": "invalid_date_format"}]

    def shown(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: e[k] for k in ("row", "index", "pointer", "code")} for e in errors]

    assert shown(sent["errors"]) == wanted
    read = client.get(f"/api/v1/uploads/{sent['id']}", headers=f.bearer(key))
    assert read.status_code == 200 and shown(read.json()["errors"]) == wanted
    listed = client.get(f"/api/v1/uploads/{sent['id']}/errors", headers=f.bearer(key))
    assert listed.status_code == 200 and shown(listed.json()) == wanted
    assert read.json()["errors"][0]["line"] is None


def test_problems_of_a_file_upload_have_no_pointer(client: TestClient, key: str) -> None:
    row = VALID | {"payer_number": f.KODOMO_PAYER, "recipient_number": f.recipient(1), "birth_date": "2018-13-40"}
    uploaded = client.post(
        "/api/v1/uploads", files={"file": ("c.csv", csv_bytes([row]), "text/csv")}, headers=f.bearer(key)
    ).json()
    assert uploaded["status"] == "rejected"
    read = client.get(f"/api/v1/uploads/{uploaded['id']}", headers=f.bearer(key)).json()
    assert read["errors"] and all(e["pointer"] is None and e["index"] is None for e in read["errors"])
    assert {(e["row"], e["line"], e["column"]) for e in read["errors"]} == {(1, 2, "生年月日")}


def test_a_body_that_is_not_an_array_of_records_is_a_problem(client: TestClient, key: str) -> None:
    for body in ([], "x", 3):
        response = client.post(BATCH, json=body, headers=f.bearer(key))
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")


def test_csv_upload_and_registration_api_store_identical_certificates(client: TestClient, key: str) -> None:
    row = VALID | {
        "payer_number": f.KODOMO_PAYER,
        "recipient_number": f.recipient(1),
        "my_number": f.my_number(1),
        "name": "高橋 一郎",
        "name_kana": "タカハシ イチロウ",
        "birth_date": "2018-04-01",
        "sex": "1",
        "monthly_cap": "5000",
        "inpatient_cap": "10000",
        "income_category": "一般",
        "certification_name": "八王子市乳幼児医療証",
        "always_reimbursement": "0",
        "additional_conditions": "01-入院時食事療養費;02-なし",
        "certificate_details": "備考=なし",
        "diseases": "",
        "guardian_name": "",
    }
    uploaded = client.post(
        "/api/v1/uploads", files={"file": ("c.csv", csv_bytes([row]), "text/csv")}, headers=f.bearer(key)
    )
    assert uploaded.json()["status"] == "applied", uploaded.text
    sent = client.post(BATCH, json=[record(2)], headers=f.bearer(key))
    assert sent.json()["status"] == "applied", sent.text
    ignored = {"recorded_at", "history_key"}
    from_file = {k: v for k, v in certificate(client, key, 1)["in_force"].items() if k not in ignored}
    from_api = {k: v for k, v in certificate(client, key, 2)["in_force"].items() if k not in ignored}
    assert from_file == from_api


def test_the_earlier_records_body_still_works_as_an_alias(client: TestClient, key: str) -> None:
    legacy = {
        "records": [
            {
                "myNumber": f.my_number(1),
                "basicFiveInfo": {"name": "高橋 一郎", "nameKana": "タカハシ イチロウ", "birthDate": "2018-04-01"},
                "medicalSubsidyInsurerNumber": f.KODOMO_PAYER,
                "medicalSubsidyRecipientNumber": f.recipient(1),
                "validFrom": "2026-04-01",
            }
        ]
    }
    legacy["records"][0]["basicFiveInfo"]["sex"] = 1
    assert client.post(BATCH, json=legacy, headers=f.bearer(key)).json()["status"] == "applied"
    wrong = copy.deepcopy(legacy)
    wrong["records"][0]["bogus"] = 1
    assert client.post(BATCH, json=wrong, headers=f.bearer(key)).status_code == 422


def test_certificate_type_id_is_registered_with_the_program_and_unique(
    client: TestClient, key: str, db_session: Session
) -> None:
    listed = client.get("/api/v1/programs", headers=f.bearer(key)).json()
    assert [p["certificate_type_id"] for p in listed] == [TYPE_ID]
    taken = client.post(
        "/api/v1/programs",
        json={"program_code": "hitorioya", "payer_numbers": [f.HITORIOYA_PAYER], "certificate_type_id": TYPE_ID},
        headers=f.bearer(key),
    )
    assert taken.status_code == 409 and taken.json()["errors"][0]["field"] == "certificate_type_id"
    bad = client.post(
        "/api/v1/programs",
        json={"program_code": "hitorioya", "payer_numbers": [f.HITORIOYA_PAYER], "certificate_type_id": "ひとり"},
        headers=f.bearer(key),
    )
    assert bad.status_code == 422
    result = CliRunner().invoke(
        cli_app,
        [
            "programs",
            "add",
            "--municipality",
            f.HACHIOJI,
            "--program",
            "hitorioya",
            "--payer-number",
            f.HITORIOYA_PAYER,
            "--no-recipient-check-digit",
            "--certificate-type-id",
            "HITORI01",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    stored = db_session.scalar(select(Program.certificate_type_id).where(Program.program_code == "hitorioya"))
    assert stored == "HITORI01"
