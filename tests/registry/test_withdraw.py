"""Withdrawal (取消): ``isDeleted`` naming an existing version's historyKey, and the CSV's 処理区分 4.

A withdrawn version stays in the history but is never in force again; the version before it is; the
same withdrawal resent changes nothing; the CSV and the registration API store identical results.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh import clock
from pmh.registry import counts
from pmh.registry.asof import certificates_on
from pmh.registry.models import Certificate, LinkReview
from pmh.registry.participation import registered_counts, registered_counts_by_rule, registered_counts_per_program
from pmh.registry.rows import COLUMNS
from tests import factories as f
from tests.registry.test_parsing import csv_bytes
from tests.registry.test_registration_api import BATCH, certificate, key, record

__all__ = ["key"]  # the fixture, shared with the registration-API tests

CSV_COLUMNS = [column.alias for column in COLUMNS] + ["history_key"]


def send(client: TestClient, key: str, *records: dict[str, Any]) -> dict[str, Any]:
    response = client.post(BATCH, json=list(records), headers=f.bearer(key))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def upload(client: TestClient, key: str, *rows: dict[str, str]) -> dict[str, Any]:
    files = {"file": ("c.csv", csv_bytes(rows, columns=CSV_COLUMNS), "text/csv")}
    response = client.post("/api/v1/uploads", files=files, headers=f.bearer(key))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def changed(recipient: int = 1, **more: Any) -> dict[str, Any]:
    """The 変更 of a record: a new historyKey, from 2026-07-01, a lower cap."""
    cap = {"monthly": 2500, "inpatient": 10000, "copayRate": 20, "isCapManaged": True}
    values = {"historyKey": f"H{recipient:04d}-2", "validFrom": "2026-07-01", "maxCopaymentAmount": cap}
    return record(recipient, **(values | more))


def withdrawn(body: dict[str, Any]) -> dict[str, Any]:
    return body | {"isDeleted": True}


def test_is_deleted_naming_a_version_withdraws_it_and_the_one_before_is_in_force_again(
    client: TestClient, key: str
) -> None:
    send(client, key, record(1))
    send(client, key, changed(1))
    assert certificate(client, key, 1, as_of="2026-08-01")["in_force"]["monthly_cap"] == 2500

    result = send(client, key, withdrawn(changed(1)))
    assert (result["status"], result["accepted"], result["errors"]) == ("applied", 1, [])
    found = certificate(client, key, 1, as_of="2026-08-01")
    assert found["status"] == "valid" and found["in_force"]["monthly_cap"] == 5000
    assert found["in_force"]["history_key"] == "H0001-1"
    assert [(v["history_key"], v["withdrawn_at"] is not None) for v in found["history"]] == [
        ("H0001-1", False),
        ("H0001-2", True),
    ]


def test_resending_a_withdrawal_or_the_withdrawn_record_changes_nothing(client: TestClient, key: str) -> None:
    send(client, key, record(1))
    send(client, key, changed(1))
    send(client, key, withdrawn(changed(1)))
    before = certificate(client, key, 1, as_of="2026-08-01")
    again = send(client, key, withdrawn(changed(1)), record(2))  # another body: not a duplicate upload
    assert (again["status"], again["accepted"], again["errors"]) == ("applied", 1, [])
    resent = send(client, key, changed(1), record(3))  # the withdrawn key stays withdrawn
    assert (resent["accepted"], resent["errors"]) == (1, [])
    after = certificate(client, key, 1, as_of="2026-08-01")
    assert after["history"] == before["history"] and after["in_force"] == before["in_force"]


def test_is_deleted_with_a_new_history_key_still_ends_the_certificate(client: TestClient, key: str) -> None:
    send(client, key, record(1))
    send(client, key, record(1, historyKey="H0001-9", isDeleted=True, validTo="2026-06-30"))
    found = certificate(client, key, 1, as_of="2026-07-01")
    assert found["status"] == "expired" and [v["operation"] for v in found["history"]] == ["add", "end"]
    assert all(v["withdrawn_at"] is None for v in found["history"])


def test_only_the_newest_version_in_force_can_be_withdrawn(client: TestClient, key: str) -> None:
    send(client, key, record(1))
    send(client, key, changed(1))
    refused = send(client, key, withdrawn(record(1)))
    assert refused["status"] == "rejected"
    assert [(e["pointer"], e["code"]) for e in refused["errors"]] == [("/0/historyKey", "not_latest_version")]
    assert "後の版から順に取り消してください" in refused["errors"][0]["message"]
    # newest first, then the one before: allowed, one upload each
    assert send(client, key, withdrawn(changed(1)))["accepted"] == 1
    assert send(client, key, withdrawn(record(1)))["accepted"] == 1


def test_withdrawing_the_only_version_withdraws_the_certificate_until_registered_again(
    client: TestClient, key: str, db_session: Session
) -> None:
    send(client, key, record(1))
    stored = db_session.scalars(select(Certificate)).one()
    today = clock.today()
    assert len(certificates_on(db_session, [stored.id], today)) == 1
    assert registered_counts(db_session, today) == registered_counts_by_rule(db_session, today) == {f.HACHIOJI: 1}

    assert send(client, key, withdrawn(record(1)))["accepted"] == 1
    found = certificate(client, key, 1)
    assert found["status"] == "withdrawn" and found["in_force"]["withdrawn_at"] is not None
    assert certificates_on(db_session, [stored.id], today) == []  # institutions no longer receive it
    assert registered_counts(db_session, today) == registered_counts_by_rule(db_session, today) == {}
    yesterday = today - dt.timedelta(days=1)  # a past count keeps what the hub knew then
    assert registered_counts(db_session, yesterday) == registered_counts_by_rule(db_session, yesterday)

    # a file's 変更 of a withdrawn certificate is refused; a new registration (upsert) brings it back
    change = _csv_row(1, "2", "", valid_from="2026-07-01") | {"payer_number": f.KODOMO_PAYER}
    refused = upload(client, key, change | {"recipient_number": f.recipient(1)})
    assert [e["code"] for e in refused["errors"]] == ["withdrawn_certificate"]
    again = send(client, key, changed(1, historyKey="H0001-3"))
    assert (again["accepted"], again["errors"]) == (1, [])
    again = certificate(client, key, 1, as_of="2026-08-01")
    assert again["status"] == "valid" and again["in_force"]["operation"] == "add"
    assert [v["version"] for v in again["history"]] == [1, 2]


def test_a_withdrawn_change_of_identity_gives_the_certificate_its_linked_identity_back(
    client: TestClient, key: str, db_session: Session
) -> None:
    send(client, key, record(1))
    other = changed(1)
    other["basicFiveInfo"] = dict(other["basicFiveInfo"], name="高橋 二郎", nameKana="タカハシ ジロウ")
    assert send(client, key, other)["held_for_review"] == 1
    stored = db_session.scalars(select(Certificate)).one()
    assert stored.link_status == "held"

    assert send(client, key, withdrawn(other))["held_for_review"] == 0
    db_session.refresh(stored)
    assert stored.link_status == "linked"
    review = db_session.scalars(select(LinkReview)).one()
    assert (review.version, review.status) == (2, "rejected") and "取り消された" in (review.resolution_note or "")
    assert certificate(client, key, 1, as_of="2026-08-01")["in_force"]["name"] == "高橋 一郎"


def _csv_row(recipient: int, op: str, history_key: str, **more: str) -> dict[str, str]:
    return {
        "op": op,
        "payer_number": f.KODOMO_PAYER,
        "recipient_number": f.recipient(recipient),
        "my_number": f.my_number(1),
        "name": "高橋 一郎",
        "name_kana": "タカハシ イチロウ",
        "birth_date": "2018-04-01",
        "sex": "1",
        "valid_from": "2026-04-01",
        "valid_to": "2027-03-31",
        "monthly_cap": "5000",
        "inpatient_cap": "10000",
        "copay_rate": "20",
        "cap_managed": "1",
        "income_category": "一般",
        "certification_name": "八王子市乳幼児医療証",
        "address": "東京都八王子市元本郷町三丁目24番1号",
        "designated_institutions": "",
        "always_reimbursement": "0",
        "additional_conditions": "01-入院時食事療養費;02-なし",
        "certificate_details": "備考=なし",
        "history_key": history_key,
    } | more


@pytest.mark.parametrize("csv_op", ["4", "取消", "3"])
def test_csv_and_api_withdraw_to_identical_certificates(client: TestClient, key: str, csv_op: str) -> None:
    from tests.registry.test_parsing import INSTITUTION, OTHER_INSTITUTION

    institutions = f"{INSTITUTION};{OTHER_INSTITUTION}"
    # recipient 1 through the file (手動連携), recipient 2 through the registration API (自動連携)
    assert upload(client, key, _csv_row(1, "1", "K-1", designated_institutions=institutions))["accepted"] == 1
    change = _csv_row(1, "2", "K-2", valid_from="2026-07-01", monthly_cap="2500")
    assert upload(client, key, change | {"designated_institutions": institutions})["accepted"] == 1
    send(client, key, record(2, historyKey="K-1"))
    send(client, key, changed(2, historyKey="K-2"))

    # 取消 (4) needs only the key columns and 履歴キー; 終了 (3) with a known 履歴キー is the API's rule
    withdraw_row = {k: v for k, v in change.items() if k in ("payer_number", "recipient_number", "history_key")}
    if csv_op == "3":
        withdraw_row["valid_to"] = "2027-03-31"
    assert upload(client, key, withdraw_row | {"op": csv_op})["accepted"] == 1
    assert send(client, key, withdrawn(changed(2, historyKey="K-2")))["accepted"] == 1

    def shape(found: dict[str, Any]) -> dict[str, Any]:
        def version(v: dict[str, Any]) -> dict[str, Any]:
            return {k: (x is not None if k == "withdrawn_at" else x) for k, x in v.items() if k != "recorded_at"}

        return {"status": found["status"], "in_force": version(found["in_force"])} | {
            "history": [version(v) for v in found["history"]]
        }

    from_file = shape(certificate(client, key, 1, as_of="2026-08-01"))
    from_api = shape(certificate(client, key, 2, as_of="2026-08-01"))
    assert from_file == from_api
    assert from_file["in_force"]["monthly_cap"] == 5000 and from_file["history"][1]["withdrawn_at"] is True


def test_a_csv_withdrawal_needs_a_history_key_the_certificate_has(client: TestClient, key: str) -> None:
    upload(client, key, _csv_row(1, "1", "K-1"))
    keys = {"payer_number": f.KODOMO_PAYER, "recipient_number": f.recipient(1)}
    missing = upload(client, key, keys | {"op": "4"})
    assert [(e["column"], e["code"]) for e in missing["errors"]] == [("履歴キー", "required")]
    unknown = upload(client, key, keys | {"op": "4", "history_key": "K-9"})
    assert [(e["column"], e["code"], e["line"]) for e in unknown["errors"]] == [("履歴キー", "unknown_history_key", 2)]
    nowhere = upload(
        client,
        key,
        {"payer_number": f.KODOMO_PAYER, "recipient_number": f.recipient(5), "op": "取消", "history_key": "K-1"},
    )
    assert [e["code"] for e in nowhere["errors"]] == ["unknown_certificate"]


def test_a_withdrawal_keeps_the_kept_counts_equal_to_the_versions(
    client: TestClient, key: str, db_session: Session
) -> None:
    """The fees read the kept counts (pmh.registry.counts): a withdrawal must move them as it moves the versions."""
    today = clock.today()
    counts.rebuild(db_session, [today])  # today's count is kept from now on
    send(client, key, record(1))
    registered = counts.program_counts(db_session, today)
    assert registered == registered_counts_per_program(db_session, today) and sum(registered.values()) == 1

    assert send(client, key, withdrawn(record(1)))["accepted"] == 1
    assert counts.program_counts(db_session, today) == registered_counts_per_program(db_session, today) == {}
