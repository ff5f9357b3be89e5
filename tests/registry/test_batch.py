"""The JSON batch (自動連携): PMH registration API records validated exactly like file rows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from pmh.registry.batch import CertificateBatch, batch_rows, record_values
from pmh.registry.rows import CertificateRow, RowProblem
from tests.registry.test_parsing import (
    INSTITUTION,
    LOCAL_FREE,
    MY_NUMBER,
    NATIONAL,
    OTHER_INSTITUTION,
    OTHER_RECIPIENT,
    PROGRAMS,
    RECIPIENT,
    VALID,
    csv_bytes,
    read,
)

RECORD: dict[str, Any] = {
    "operation": "add",
    "myNumber": MY_NUMBER,
    "basicFiveInfo": {
        "name": "山田 太郎",
        "nameKana": "ヤマダ タロウ",
        "address": "東京都八王子市元本郷町三丁目24番1号",
        "birthDate": "1985-04-01",
        "sex": 1,
    },
    "isNotDisclosed": False,
    "medicalSubsidyInsurerNumber": NATIONAL,
    "certificationName": "特定医療費（指定難病）受給者証",
    "medicalSubsidyRecipientNumber": RECIPIENT,
    "incomeSegment": "一般所得Ⅰ",
    "additionalConditions": [{"code": "01", "value": "入院時食事療養費"}, {"code": "02", "value": "なし"}],
    "designatedMedicalInstitutions": [INSTITUTION, OTHER_INSTITUTION],
    "isAlwaysReimbursement": True,
    "maxCopaymentAmount": {"monthly": 10000, "inpatient": 20000, "copayRate": 20, "isCapManaged": True},
    "validFrom": "2026-04-01",
    "validTo": "2027-03-31",
    "certificationDetail": [{"name": "備考", "value": "重症"}, {"name": "階層区分", "value": "一般"}],
    "diseases": ["パーキンソン病", "多発性硬化症"],
    "guardianName": "山田 花子",
}
"""The JSON twin of the file row ``VALID``."""


def rows(*records: Mapping[str, Any], gaiji_map: Mapping[str, str] | None = None) -> list[CertificateRow | RowProblem]:
    batch = CertificateBatch.model_validate({"records": list(records)})
    return list(batch_rows(batch, PROGRAMS, gaiji_map))


def one(record: Mapping[str, Any]) -> CertificateRow | RowProblem:
    [result] = rows(record)
    return result


def test_batch_and_file_give_the_same_rows_for_the_same_data() -> None:
    other = RECORD | {"medicalSubsidyRecipientNumber": OTHER_RECIPIENT, "isNotDisclosed": True}
    broken = RECORD | {
        "medicalSubsidyRecipientNumber": "1234567",
        "basicFiveInfo": {**RECORD["basicFiveInfo"], "sex": 3},
    }
    from_batch = rows(RECORD, other, broken)
    from_file = read(
        csv_bytes(
            [
                VALID,
                VALID | {"recipient_number": OTHER_RECIPIENT, "not_disclosed": "1"},
                VALID | {"recipient_number": "1234567", "sex": "3"},
            ]
        )
    )
    assert from_batch == from_file
    assert isinstance(from_batch[0], CertificateRow) and isinstance(from_batch[2], RowProblem)


def test_a_change_with_only_some_fields_is_the_same_as_the_file() -> None:
    record = {
        "operation": "change",
        "medicalSubsidyInsurerNumber": NATIONAL,
        "medicalSubsidyRecipientNumber": RECIPIENT,
        "validFrom": "R8.10.1",
        "maxCopaymentAmount": {"monthly": "5,000"},
    }
    columns = ("op", "payer_number", "recipient_number", "valid_from", "monthly_cap")
    file_row = {"op": "2", "payer_number": NATIONAL, "recipient_number": RECIPIENT, "valid_from": "R8.10.1"}
    assert rows(record) == read(csv_bytes([file_row | {"monthly_cap": "5,000"}], columns=columns))
    row = one(record)
    assert isinstance(row, CertificateRow)
    assert row.present == frozenset(columns)
    assert (row.valid_from, row.monthly_cap, row.name) == (date(2026, 10, 1), 5000, None)


def test_without_operation_a_record_is_an_upsert_that_needs_what_an_add_needs() -> None:
    record = {k: v for k, v in RECORD.items() if k != "operation"}
    row = one(record)
    assert isinstance(row, CertificateRow) and row.op == "upsert"
    found = one(record | {"myNumber": None})
    assert isinstance(found, RowProblem)
    assert [(e.field, e.code, e.message) for e in found.errors] == [
        ("個人番号", "required", "個人番号は処理区分が登録（新規または変更）の行では必須です")
    ]


def test_is_deleted_means_end_and_needs_valid_to() -> None:
    key = {"medicalSubsidyInsurerNumber": NATIONAL, "medicalSubsidyRecipientNumber": RECIPIENT, "isDeleted": True}
    ended = one(key | {"validTo": "2026-09-30"})
    assert isinstance(ended, CertificateRow) and ended.op == "end" and ended.valid_to == date(2026, 9, 30)
    found = one(key)
    assert isinstance(found, RowProblem) and [(e.field, e.code) for e in found.errors] == [("有効終了日", "required")]


def test_is_deleted_contradicting_operation_is_refused() -> None:
    found = one(RECORD | {"isDeleted": True})
    assert isinstance(found, RowProblem)
    assert [(e.field, e.code) for e in found.errors] == [("処理区分", "invalid_choice")]


def test_rules_and_messages_are_those_of_the_file() -> None:
    found = one(RECORD | {"medicalSubsidyInsurerNumber": "54016028", "validTo": "2026-03-31"})
    assert isinstance(found, RowProblem)
    assert [(e.field, e.code, e.message) for e in found.errors] == [
        ("公費負担者番号", "invalid_check_digit", "公費負担者番号の検証番号が誤っています（正しくは7）"),
        ("有効終了日", "end_before_start", "有効終了日（2026年3月31日）が有効開始日（2026年4月1日）より前です"),
    ]
    assert found.values["公費負担者番号"] == "54016028"


def test_row_numbers_are_record_indexes_and_duplicates_name_the_first_record() -> None:
    results = rows(RECORD, RECORD | {"medicalSubsidyRecipientNumber": OTHER_RECIPIENT}, RECORD)
    assert [result.row for result in results] == [1, 2, 3]
    third = results[2]
    assert isinstance(third, RowProblem)
    assert [(e.code, e.message) for e in third.errors] == [
        ("duplicate_in_file", "公費負担者番号・公費受給者番号の組が1件目と重複しています")
    ]


@pytest.mark.parametrize("written", ["2026-04-01", "20260401", "令和8年4月1日", "R8.4.1", "5080401"])
def test_dates_may_be_iso_or_wareki(written: str) -> None:
    row = one(RECORD | {"validFrom": written})
    assert isinstance(row, CertificateRow) and row.valid_from == date(2026, 4, 1)


@pytest.mark.parametrize("sex", [2, "2", "女"])
def test_sex_may_be_a_number_or_text(sex: int | str) -> None:
    row = one(RECORD | {"basicFiveInfo": {**RECORD["basicFiveInfo"], "sex": sex}})
    assert isinstance(row, CertificateRow) and row.sex == 2


def test_fields_without_a_file_column_are_carried_on_the_row() -> None:
    row = one(RECORD | {"certificationSubKey": "01", "segment": "外来", "historyKey": "H-2026-0001"})
    assert isinstance(row, CertificateRow)
    assert (row.sub_key, row.segment, row.history_key) == ("01", "外来", "H-2026-0001")
    assert {"sub_key", "segment", "history_key"} <= row.present


def test_local_recipient_numbers_and_gaiji_mapping_work_as_in_files() -> None:
    record = RECORD | {
        "medicalSubsidyInsurerNumber": LOCAL_FREE,
        "medicalSubsidyRecipientNumber": "ＡＢＣ－１２",
        "basicFiveInfo": {**RECORD["basicFiveInfo"], "name": "山田 \ue000郎"},
    }
    [refused] = rows(record)
    assert isinstance(refused, RowProblem) and refused.codes == ("gaiji",)
    [row] = rows(record, gaiji_map={"U+E000": "太"})
    assert isinstance(row, CertificateRow) and (row.recipient_number, row.name) == ("ABC-12", "山田 太郎")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"diseases": ["A;B"]}, "疾病名"),
        ({"designatedMedicalInstitutions": [f"{INSTITUTION};{OTHER_INSTITUTION}"]}, "指定医療機関コード"),
        ({"additionalConditions": [{"code": "0-1", "value": "x"}]}, "付加条件"),
        ({"additionalConditions": [{"code": "01", "value": "a;b"}]}, "付加条件"),
        ({"certificationDetail": [{"name": "a=b", "value": "x"}]}, "券面記載事項"),
    ],
)
def test_items_holding_the_file_separators_are_refused_once(change: dict[str, Any], field: str) -> None:
    found = one(RECORD | change)
    assert isinstance(found, RowProblem)
    assert [(e.field, e.code) for e in found.errors] == [(field, "invalid_syntax")]


def test_record_values_map_json_fields_to_column_aliases() -> None:
    raw, errors = record_values(CertificateBatch.model_validate({"records": [RECORD]}).records[0], 1)
    assert errors == []
    assert raw == VALID | {
        "op": "add",
        "certification_name": "特定医療費（指定難病）受給者証",
        "cap_managed": "1",
        "always_reimbursement": "1",
        "not_disclosed": "0",
    }


@pytest.mark.parametrize(
    "body",
    [
        {"records": []},
        {"records": [RECORD | {"validTO": "2027-03-31"}]},
        {"records": [RECORD | {"basicFiveInfo": {"name": "x", "gender": 1}}]},
        {"records": [RECORD | {"operation": "upsert"}]},
        {"records": [RECORD | {"medicalSubsidyInsurerNumber": 54016027}]},
        {"records": [RECORD | {"maxCopaymentAmount": {"monthly": True}}]},
        {"records": [RECORD | {"guardianName": "あ" * 401}]},
        {"records": [RECORD | {"diseases": ["x"] * 201}]},
        {"records": [RECORD], "unexpected": 1},
    ],
)
def test_malformed_requests_are_refused_at_the_edge(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CertificateBatch.model_validate(body)


def test_a_batch_holds_at_most_ten_thousand_records() -> None:
    minimal = {"medicalSubsidyInsurerNumber": NATIONAL}
    assert len(CertificateBatch.model_validate({"records": [minimal] * 10_000}).records) == 10_000
    with pytest.raises(ValidationError):
        CertificateBatch.model_validate({"records": [minimal] * 10_001})


def test_allow_partial_defaults_to_all_or_nothing() -> None:
    assert CertificateBatch.model_validate({"records": [RECORD]}).allowPartial is False
    assert CertificateBatch.model_validate({"records": [RECORD], "allowPartial": True}).allowPartial is True
