"""The Digital Agency's registration API (自治体) 0.1.1 body: every published constraint, with pointers."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import date
from typing import Any

import pytest

from pmh.errors import InvalidInput
from pmh.registry import registration
from pmh.registry.registration import SCHEMA, pointer, records_of, registration_rows
from pmh.registry.rows import CertificateRow, RowProblem
from tests.registry.test_parsing import (
    INSTITUTION,
    LOCAL_CHECKED,
    MY_NUMBER,
    NATIONAL,
    OTHER_INSTITUTION,
    PROGRAMS,
    RECIPIENT,
    VALID,
    csv_bytes,
    read,
)

TYPES = {"XXXXX": "nanbyo", "KODOMO01": "kodomo", "HITORI01": "hitorioya"}
"""機関別受給者証種別ID → program, as the municipality registered its programs."""

SAMPLE: dict[str, Any] = {
    "orgSpecificCertificateTypeId": "XXXXX",
    "myNumber": MY_NUMBER,
    "basicFiveInfo": {
        "name": "愛知花子",
        "nameKana": "アイチハナコ",
        "address": "愛知県B市B町1-1-1 Bマンション101号室",
        "dateOfBirth": "2013-01-01",
        "sex": "2",
    },
    "isNotDisclosed": False,
    "medicalSubsidyInsurerNumber": NATIONAL,
    "certificationName": "自立支援医療受給者証(育成医療)",
    "medicalSubsidyRecipientNumber": RECIPIENT,
    "certificationSubKey": "01",
    "segment": "1",
    "incomeSegment": "一般1",
    "additionalConditions": "01-1;02-3",
    "designatedMedicalInstitutions": f"{INSTITUTION};{OTHER_INSTITUTION}",
    "isAlwaysReimbursement": "0",
    "maxCopaymentAmount": {"monthly": 5000},
    "validFrom": "2024-04-01",
    "validTo": "2025-03-31",
    "historyKey": "0001",
    "isDeleted": False,
    "certificationDetail": [],
}
"""A record shaped as the published 0.1.1 sample (its names and texts), with this hub's numbers."""


def rows(*records: Any) -> list[CertificateRow | RowProblem]:
    return list(registration_rows(list(records), PROGRAMS, TYPES))


def one(record: Any) -> CertificateRow | RowProblem:
    [result] = rows(record)
    return result


def problem(record: Any) -> RowProblem:
    result = one(record)
    assert isinstance(result, RowProblem), result
    return result


def changed(path: str, value: Any) -> dict[str, Any]:
    """Return SAMPLE with the field at ``path`` (``a/b``) set to ``value`` (``...`` removes it)."""
    record = copy.deepcopy(SAMPLE)
    *parents, last = path.split("/")
    target = record
    for part in parents:
        target = target[part]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return record


def test_the_published_sample_record_is_read_into_a_certificate_row() -> None:
    row = one(SAMPLE)
    assert isinstance(row, CertificateRow), row
    assert (row.op, row.payer_number, row.recipient_number, row.my_number) == ("upsert", NATIONAL, RECIPIENT, MY_NUMBER)
    assert (row.name, row.name_kana, row.birth_date, row.sex) == ("愛知花子", "アイチハナコ", date(2013, 1, 1), 2)
    assert row.address == "愛知県B市B町1-1-1 Bマンション101号室"
    assert row.certification_name == "自立支援医療受給者証(育成医療)"
    assert row.additional_conditions == (("01", "1"), ("02", "3"))
    assert row.designated_institutions == (INSTITUTION, OTHER_INSTITUTION)
    assert (row.valid_from, row.valid_to, row.monthly_cap) == (date(2024, 4, 1), date(2025, 3, 31), 5000)
    assert (row.sub_key, row.segment, row.income_category, row.history_key) == ("01", "1", "一般1", "0001")
    assert (row.always_reimbursement, row.not_disclosed) == (False, False)


@pytest.mark.parametrize(
    ("path", "value", "code", "where"),
    [
        ("orgSpecificCertificateTypeId", ..., "required", "/orgSpecificCertificateTypeId"),
        ("orgSpecificCertificateTypeId", "A" * 51, "too_long", "/orgSpecificCertificateTypeId"),
        ("orgSpecificCertificateTypeId", "ＸＸＸ", "invalid_characters", "/orgSpecificCertificateTypeId"),
        ("orgSpecificCertificateTypeId", "NOPE1", "unknown_certificate_type", "/orgSpecificCertificateTypeId"),
        ("myNumber", ..., "required", "/myNumber"),
        ("myNumber", "12345678901", "invalid_length", "/myNumber"),
        ("myNumber", 123456789018, "invalid_type", "/myNumber"),
        ("myNumber", "12345678901A", "invalid_characters", "/myNumber"),
        ("myNumber", "123456789012", "invalid_check_digit", "/myNumber"),
        ("basicFiveInfo", ..., "required", "/basicFiveInfo"),
        ("basicFiveInfo", "愛知花子", "invalid_type", "/basicFiveInfo"),
        ("basicFiveInfo/name", ..., "required", "/basicFiveInfo/name"),
        ("basicFiveInfo/nameKana", "あいち1", "not_katakana", "/basicFiveInfo/nameKana"),
        ("basicFiveInfo/dateOfBirth", "2013/01/01", "invalid_date_format", "/basicFiveInfo/dateOfBirth"),
        ("basicFiveInfo/dateOfBirth", "2013-02-30", "invalid_date", "/basicFiveInfo/dateOfBirth"),
        ("basicFiveInfo/sex", 2, "invalid_type", "/basicFiveInfo/sex"),
        ("basicFiveInfo/sex", "3", "invalid_choice", "/basicFiveInfo/sex"),
        ("basicFiveInfo/birthDate", "2013-01-01", "unknown_field", "/basicFiveInfo/birthDate"),
        ("isNotDisclosed", ..., "required", "/isNotDisclosed"),
        ("isNotDisclosed", "false", "invalid_type", "/isNotDisclosed"),
        ("medicalSubsidyInsurerNumber", "5401602", "invalid_length", "/medicalSubsidyInsurerNumber"),
        ("medicalSubsidyInsurerNumber", 54016027, "invalid_type", "/medicalSubsidyInsurerNumber"),
        ("medicalSubsidyInsurerNumber", LOCAL_CHECKED, "program_mismatch", "/medicalSubsidyInsurerNumber"),
        ("certificationName", ..., "required", "/certificationName"),
        ("certificationName", "証" * 101, "too_long", "/certificationName"),
        ("medicalSubsidyRecipientNumber", "1" * 31, "too_long", "/medicalSubsidyRecipientNumber"),
        ("medicalSubsidyRecipientNumber", ..., "required", "/medicalSubsidyRecipientNumber"),
        ("additionalConditions", ["01-1"], "invalid_type", "/additionalConditions"),
        ("additionalConditions", "01", "invalid_syntax", "/additionalConditions"),
        ("designatedMedicalInstitutions", "0110113710", "invalid_check_digit", "/designatedMedicalInstitutions"),
        ("isAlwaysReimbursement", ..., "required", "/isAlwaysReimbursement"),
        ("isAlwaysReimbursement", False, "invalid_type", "/isAlwaysReimbursement"),
        ("isAlwaysReimbursement", "2", "invalid_choice", "/isAlwaysReimbursement"),
        ("maxCopaymentAmount", {"monthly": -1}, "out_of_range", "/maxCopaymentAmount/monthly"),
        ("maxCopaymentAmount", {"yearly": 1}, "unknown_field", "/maxCopaymentAmount/yearly"),
        ("validFrom", ..., "required", "/validFrom"),
        ("validFrom", "令和6年4月1日", "invalid_date_format", "/validFrom"),
        ("validTo", ..., "required", "/validTo"),
        ("validTo", "2024-03-31", "end_before_start", "/validTo"),
        ("historyKey", ..., "required", "/historyKey"),
        ("historyKey", "k" * 101, "too_long", "/historyKey"),
        ("isDeleted", ..., "required", "/isDeleted"),
        ("isDeleted", 0, "invalid_type", "/isDeleted"),
        ("certificationDetail", ..., "required", "/certificationDetail"),
        ("certificationDetail", [{"label": "備考"}], "invalid_type", "/certificationDetail"),
        ("operation", "add", "unknown_field", "/operation"),
    ],
)
def test_every_published_constraint_is_a_row_error_with_a_pointer(path: str, value: Any, code: str, where: str) -> None:
    found = problem(changed(path, value))
    pointers = {(error.code, pointer(4, error.field)) for error in found.errors}
    assert (code, f"/4{where}") in pointers, found.errors
    assert all(error.message for error in found.errors)


def test_a_refused_field_is_reported_once_and_my_number_is_masked() -> None:
    found = problem(changed("myNumber", "12345678901"))
    assert [error.field for error in found.errors].count("個人番号") == 1
    assert found.values["個人番号"] == "*" * 11


def test_the_payer_number_may_be_left_to_the_certificate_type_when_the_program_has_one() -> None:
    row = one(changed("medicalSubsidyInsurerNumber", ...))
    assert isinstance(row, CertificateRow) and row.payer_number == NATIONAL


def test_is_deleted_ends_the_certificate_on_valid_to() -> None:
    row = one(changed("isDeleted", True))
    assert isinstance(row, CertificateRow) and row.op == "end" and row.valid_to == date(2025, 3, 31)


def test_the_page_s_hyphen_joins_additional_conditions_too() -> None:
    row = one(changed("additionalConditions", "01\u20101;02\u20103"))
    assert isinstance(row, CertificateRow) and row.additional_conditions == (("01", "1"), ("02", "3"))


def test_a_record_that_is_not_an_object_is_a_row_error_and_the_others_are_read() -> None:
    found = rows(SAMPLE, "x")
    assert isinstance(found[0], CertificateRow)
    assert isinstance(found[1], RowProblem) and pointer(1, found[1].errors[0].field) == "/1"


@pytest.mark.parametrize("body", [{"records": []}, [], "x", [SAMPLE] * 10_001])
def test_a_body_that_is_not_an_array_of_records_is_refused(body: Any) -> None:
    with pytest.raises(InvalidInput):
        records_of(body)


def test_file_and_registration_api_give_the_same_rows_for_the_same_data() -> None:
    record = copy.deepcopy(SAMPLE) | {
        "basicFiveInfo": {
            "name": VALID["name"],
            "nameKana": VALID["name_kana"],
            "address": VALID["address"],
            "dateOfBirth": VALID["birth_date"],
            "sex": VALID["sex"],
        },
        "certificationName": VALID["certification_name"],
        "incomeSegment": VALID["income_category"],
        "additionalConditions": VALID["additional_conditions"],
        "designatedMedicalInstitutions": VALID["designated_institutions"],
        "isAlwaysReimbursement": VALID["always_reimbursement"],
        "maxCopaymentAmount": {"monthly": 10000, "inpatient": 20000, "copayRate": 20, "isCapManaged": True},
        "validFrom": VALID["valid_from"],
        "validTo": VALID["valid_to"],
        "certificationDetail": [{"name": "備考", "value": "重症"}, {"name": "階層区分", "value": "一般"}],
        "diseases": ["パーキンソン病", "多発性硬化症"],
        "guardianName": VALID["guardian_name"],
    }
    [from_api] = rows(record)
    [from_file] = read(csv_bytes([VALID]))
    assert isinstance(from_api, CertificateRow) and isinstance(from_file, CertificateRow)
    ignored = {"op", "present", "sub_key", "segment", "history_key"}
    api_values: Mapping[str, Any] = {k: v for k, v in vars(from_api).items() if k not in ignored}
    file_values: Mapping[str, Any] = {k: v for k, v in vars(from_file).items() if k not in ignored}
    assert api_values == file_values


def test_the_openapi_schema_names_the_published_required_fields() -> None:
    item = SCHEMA["items"]
    assert SCHEMA["type"] == "array"
    assert set(item["required"]) == {
        "orgSpecificCertificateTypeId",
        "myNumber",
        "basicFiveInfo",
        "isNotDisclosed",
        "certificationName",
        "isAlwaysReimbursement",
        "validFrom",
        "validTo",
        "historyKey",
        "isDeleted",
        "certificationDetail",
    }


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ([{"basicFiveInfo": {"name": "佐藤\x00花子"}}], "/0/basicFiveInfo/name"),
        ([{}, {"historyKey": ["a", "b\x00"]}], "/1/historyKey/1"),
        ({"records": [{"name": "\x00"}]}, "/records/0/name"),
    ],
)
def test_a_nul_anywhere_in_the_body_is_refused_with_its_pointer(body: Any, where: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        registration.refuse_nul(body)
    assert (refused.value.errors[0].field, refused.value.errors[0].code) == (where, "nul_character")
    registration.refuse_nul([{"basicFiveInfo": {"name": "佐藤 花子"}}])  # nothing to refuse
