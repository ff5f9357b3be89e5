"""The three doors over HTTP: file upload, JSON batch, and the reads around them."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories as f
from tests.registry.test_import import HEADER, line


@pytest.fixture
def key(db_session: Session) -> str:
    caller = f.municipality_caller(db_session)
    f.program(db_session, caller)
    f.insurance(db_session, f.my_number(1), "高橋 一郎", "タカハシ イチロウ", "2018-04-01")
    organisation = f.municipality(db_session)
    return f.api_key(db_session, organisation, "municipality")


def _file(*lines: str) -> dict[str, tuple[str, bytes, str]]:
    return {"file": ("certificates.csv", ("\n".join((HEADER, *lines)) + "\n").encode("cp932"), "text/csv")}


def test_upload_applies_a_valid_file(client: TestClient, key: str) -> None:
    response = client.post("/api/v1/uploads", files=_file(line(recipient=1)), headers=f.bearer(key))
    assert response.status_code == 201, response.text
    body = response.json()
    assert {k: body[k] for k in ("status", "accepted", "rejected", "held_for_review")} == {
        "status": "applied",
        "accepted": 1,
        "rejected": 0,
        "held_for_review": 0,
    }
    assert client.get(f"/api/v1/uploads/{body['id']}", headers=f.bearer(key)).json()["status"] == "applied"


def test_rejected_upload_has_a_downloadable_error_report(client: TestClient, key: str) -> None:
    response = client.post(
        "/api/v1/uploads",
        files=_file(line(recipient=1), line(recipient=2, birth="昭和65年1月1日")),
        headers=f.bearer(key),
    )
    body = response.json()
    assert body["status"] == "rejected" and body["errors"][0]["row"] == 2
    assert body["errors"][0]["line"] == 3  # header line 1, data row 2 on line 3, as Excel numbers it
    report = client.get(f"/api/v1/uploads/{body['id']}/errors?format=csv", headers=f.bearer(key))
    assert report.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert rows[0] == ["行", "ファイルの行", "列", "コード", "内容", "受信した値"]
    assert rows[1][:4] == ["2", "3", "生年月日", "invalid_date"] and rows[1][5] == "昭和65年1月1日"


def test_batch_uses_pmh_field_names_and_the_same_semantics(client: TestClient, key: str) -> None:
    record = {
        "myNumber": f.my_number(1),
        "basicFiveInfo": {"name": "高橋 一郎", "nameKana": "タカハシ イチロウ", "birthDate": "2018-04-01", "sex": "1"},
        "medicalSubsidyInsurerNumber": f.KODOMO_PAYER,
        "medicalSubsidyRecipientNumber": f.recipient(1),
        "validFrom": "2026-04-01",
        "maxCopaymentAmount": {"monthly": 5000},
    }
    applied = client.post("/api/v1/certificates/batch", json={"records": [record]}, headers=f.bearer(key))
    assert applied.status_code == 201, applied.text
    assert applied.json()["status"] == "applied"
    again = client.post("/api/v1/certificates/batch", json={"records": [record]}, headers=f.bearer(key))
    assert again.json()["status"] == "duplicate"
    wrong = dict(record, medicalSubsidyRecipientNumber=f.recipient(2)[:6] + "0")
    refused = client.post("/api/v1/certificates/batch", json={"records": [wrong]}, headers=f.bearer(key)).json()
    assert refused["status"] == "rejected" and refused["errors"][0]["row"] == 1
    assert refused["errors"][0]["line"] is None  # a JSON batch has records, not file lines
    found = client.get(
        "/api/v1/certificates",
        params={"payer_number": f.KODOMO_PAYER, "recipient_number": f.recipient(1), "as_of": "2026-05-01"},
        headers=f.bearer(key),
    ).json()
    assert found["status"] == "valid" and found["in_force"]["monthly_cap"] == 5000
    assert "my_number" not in found["in_force"] and f.my_number(1) not in str(found)


def test_other_roles_and_organisations_are_refused(client: TestClient, db_session: Session, key: str) -> None:
    upload = client.post("/api/v1/uploads", files=_file(line(recipient=1)), headers=f.bearer(key)).json()
    other = f.api_key(db_session, f.municipality(db_session, "131016"), "municipality")
    clinic = f.api_key(db_session, f.institution(db_session), "institution")
    assert client.get(f"/api/v1/uploads/{upload['id']}", headers=f.bearer(other)).status_code == 404
    assert client.get(f"/api/v1/uploads/{upload['id']}", headers=f.bearer(clinic)).status_code == 403
    assert client.get(f"/api/v1/uploads/{upload['id']}").status_code == 401


def test_link_review_queue_over_http(client: TestClient, key: str) -> None:
    client.post("/api/v1/uploads", files=_file(line(recipient=1, birth="2018-04-02")), headers=f.bearer(key))
    [review] = client.get("/api/v1/link-reviews", headers=f.bearer(key)).json()
    assert review["reason_codes"] == ["birth_date_mismatch"]
    resolved = client.post(
        f"/api/v1/link-reviews/{review['id']}/resolve", json={"decision": "link"}, headers=f.bearer(key)
    )
    assert resolved.status_code == 204
    assert client.get("/api/v1/link-reviews", headers=f.bearer(key)).json() == []
    again = client.post(
        f"/api/v1/link-reviews/{review['id']}/resolve", json={"decision": "link"}, headers=f.bearer(key)
    )
    assert again.status_code == 409


def test_link_reviews_are_decided_in_bulk_with_one_audit_entry_each(
    client: TestClient, db_session: Session, key: str
) -> None:
    from pmh.audit.models import AuditEntry

    for n in (2, 3, 4):
        f.insurance(db_session, f.my_number(n), "高橋 一郎", "タカハシ イチロウ", "2018-04-01")
    rows = [line(recipient=n, person=n, birth="2018-04-02") for n in (1, 2, 3, 4)]
    client.post("/api/v1/uploads", files=_file(*rows), headers=f.bearer(key))
    reviews = client.get("/api/v1/link-reviews", headers=f.bearer(key)).json()
    assert len(reviews) == 4 and {r["program_code"] for r in reviews} == {"kodomo"}
    ids = [r["id"] for r in reviews]

    # One unknown id refuses the whole selection: nothing is decided.
    refused = client.post(
        "/api/v1/link-reviews/bulk", json={"ids": [ids[0], 999_999], "decision": "link"}, headers=f.bearer(key)
    )
    assert refused.status_code == 404
    assert len(client.get("/api/v1/link-reviews", headers=f.bearer(key)).json()) == 4

    done = client.post("/api/v1/link-reviews/bulk", json={"ids": ids[:3], "decision": "reject"}, headers=f.bearer(key))
    assert done.status_code == 200 and done.json() == {"resolved": 3}
    left = client.get("/api/v1/link-reviews", headers=f.bearer(key)).json()
    assert [r["id"] for r in left] == ids[3:]
    entries = db_session.query(AuditEntry).filter(AuditEntry.action == "link_review.reject").all()
    assert len(entries) == 3 and len({e.subject_id for e in entries}) == 3  # one per certificate
    again = client.post("/api/v1/link-reviews/bulk", json={"ids": ids[:1], "decision": "link"}, headers=f.bearer(key))
    assert again.status_code == 409
    empty = client.post("/api/v1/link-reviews/bulk", json={"ids": [], "decision": "link"}, headers=f.bearer(key))
    assert empty.status_code == 422


def test_gaiji_table_round_trips(client: TestClient, key: str) -> None:
    put = client.put(
        "/api/v1/gaiji-mappings",
        json={"mappings": [{"character": "U+E001", "replacement": "髙"}]},
        headers=f.bearer(key),
    )
    assert put.json() == {"entries": 1}
    assert client.get("/api/v1/gaiji-mappings", headers=f.bearer(key)).json() == {
        "mappings": [{"character": "U+E001", "replacement": "髙"}]
    }


def test_a_200_mb_file_is_refused_with_a_clear_error_and_changes_nothing(
    client: TestClient, db_session: Session, key: str
) -> None:
    from sqlalchemy import func, select

    from pmh.registry.models import Certificate, Upload

    row = (line(recipient=1) + "\n").encode("cp932")
    body = (HEADER + "\n").encode("cp932") + row * (200 * 1024 * 1024 // len(row))
    response = client.post("/api/v1/uploads", files={"file": ("huge.csv", body, "text/csv")}, headers=f.bearer(key))
    assert response.status_code == 413
    problem = response.json()
    assert problem["code"] == "upload_too_large" and "上限 100 MB" in problem["detail"]
    assert db_session.scalar(select(func.count()).select_from(Certificate)) == 0
    assert db_session.scalar(select(func.count()).select_from(Upload)) == 0
