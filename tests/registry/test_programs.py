"""Registering programs: the implementing-body rule and the payer-number checks."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pmh.errors import Conflict, InvalidInput
from tests import factories as f


def test_town_cannot_run_nanbyo(db_session: Session) -> None:
    town = f.municipality_caller(db_session, "014087")  # 北海道 余市町
    with pytest.raises(InvalidInput, match="町は登録できません") as refused:
        f.program(db_session, town, "nanbyo", ("54016027",))
    assert refused.value.errors[0].code == "implementing_body"


def test_core_city_can_run_shoman(db_session: Session) -> None:
    hachioji = f.municipality_caller(db_session)  # 八王子市 is a core city
    # 52 13 XXX c: 小児慢性 payer of Tokyo
    registered = f.program(db_session, hachioji, "shoman", ("52136017",))
    assert registered.program_name == "小児慢性特定疾病医療費"
    assert registered.recipient_check_digit is True


@pytest.mark.parametrize(
    ("payer", "code"),
    [
        ("88138244", "invalid_payer_number"),  # wrong check digit
        ("88278246", "other_prefecture"),  # 27 = 大阪府
        ("54136231", "houbetsu_mismatch"),  # 54 is 難病, not こども
    ],
)
def test_bad_payer_number_is_refused_with_its_reason(db_session: Session, payer: str, code: str) -> None:
    from pmh.codes.checkdigits import modulus10_weight21_check_digit as digit

    if code != "invalid_payer_number":
        payer = payer[:7] + str(digit(payer[:7]))
    caller = f.municipality_caller(db_session)
    program = "kodomo" if code != "houbetsu_mismatch" else "shoman"
    with pytest.raises(InvalidInput) as refused:
        f.program(db_session, caller, program, (payer,))
    assert [e.code for e in refused.value.errors] == [code]


def test_local_program_with_unusual_houbetsu_is_registered_with_a_warning(db_session: Session) -> None:
    from pmh.codes.checkdigits import modulus10_weight21_check_digit as digit

    payer = "4113101" + str(digit("4113101"))
    registered = f.program(db_session, f.municipality_caller(db_session), "kodomo", (payer,))
    assert registered.warnings and "地単" in registered.warnings[0]


def test_payer_number_is_registered_once(db_session: Session) -> None:
    caller = f.municipality_caller(db_session)
    f.program(db_session, caller)
    with pytest.raises(Conflict):
        f.program(db_session, caller, "hitorioya", (f.KODOMO_PAYER,))


def test_national_program_needs_recipient_check_digit(db_session: Session) -> None:
    with pytest.raises(InvalidInput, match="検証番号"):
        f.program(db_session, f.municipality_caller(db_session), "shoman", ("52136017",), check_digit=False)


def test_second_payer_number_joins_the_existing_program(db_session: Session) -> None:
    caller = f.municipality_caller(db_session)
    f.program(db_session, caller, "kodomo", ("88138243",))
    registered = f.program(db_session, caller, "kodomo", ("88131248",))
    assert registered.payer_numbers == ["88131248", "88138243"]


def test_program_api_is_for_municipalities_only(client: TestClient, db_session: Session) -> None:
    clinic_key = f.api_key(db_session, f.institution(db_session), "institution")
    body = {"program_code": "kodomo", "payer_numbers": [f.KODOMO_PAYER]}
    assert client.post("/api/v1/programs", json=body, headers=f.bearer(clinic_key)).status_code == 403
    key = f.api_key(db_session, f.municipality(db_session), "municipality")
    created = client.post("/api/v1/programs", json=body, headers=f.bearer(key))
    assert created.status_code == 201, created.text
    assert created.json()["payer_numbers"] == [f.KODOMO_PAYER]
    refused = client.post("/api/v1/programs", json=body | {"program_code": "nanbyo"}, headers=f.bearer(key))
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "program_code"
