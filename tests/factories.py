"""Factories that build valid objects in one line, so a test shows only what matters to it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from pmh.auth import service
from pmh.auth.models import Organisation
from pmh.auth.schemas import Caller, Role
from pmh.cards.service import import_insurance_text
from pmh.codes.checkdigits import modulus10_weight21_check_digit, my_number_check_digit
from pmh.registry import service as registry
from pmh.registry.schemas import ProgramCreate, ProgramRead

CLINIC_CODE = "1310112345"
OTHER_CLINIC_CODE = "1310112378"
PHARMACY_CODE = "1340112349"


def municipality(session: Session, code: str = "132012") -> Organisation:
    """Register a municipality from the reference master (default 八王子市)."""
    return service.ensure_organisation(session, code)


def institution(
    session: Session, code: str = CLINIC_CODE, name: str = "テスト内科", kind: str = "clinic"
) -> Organisation:
    """Register an institution (default a clinic in Tokyo)."""
    return service.add_institution(session, code, name, kind)  # type: ignore[arg-type]


def operator(session: Session) -> Organisation:
    """Return the operator organisation."""
    return service.ensure_organisation(session, service.OPERATOR_CODE)


def api_key(session: Session, organisation: Organisation, role: Role) -> str:
    """Issue an API key and return its plain value."""
    return service.create_api_key(session, organisation, role).key


def face_reader(session: Session, code: str = CLINIC_CODE, name: str = "受付1") -> str:
    """Register a face-recognition card reader of an institution and return its own key."""
    from pmh.auth.readers import add_reader

    return add_reader(session, code, name, face=True)[1].key


def bearer(key: str) -> dict[str, str]:
    """Return the Authorization header for a key."""
    return {"Authorization": f"Bearer {key}"}


HACHIOJI = "132012"
TOKYO = "130001"
KODOMO_PAYER = "88138243"  # 八王子市 乳幼児・義務教育就学児医療費助成 (domain.md)
HITORIOYA_PAYER = "81136244"  # 八王子市 ひとり親家庭医療費助成 (domain.md)


def municipality_caller(session: Session, code: str = HACHIOJI) -> Caller:
    """Return a caller acting for a municipality (registered from the reference master)."""
    organisation = municipality(session, code)
    return Caller(organisation.id, organisation.code, organisation.name, "municipality", "municipality", "key:test")


def program(
    session: Session,
    caller: Caller,
    code: str = "kodomo",
    payers: tuple[str, ...] = (KODOMO_PAYER,),
    check_digit: bool | None = None,
    certificate_type_id: str | None = None,
) -> ProgramRead:
    """Register a program for the caller's municipality."""
    return registry.add_program(
        session,
        caller,
        ProgramCreate(
            program_code=code,
            payer_numbers=list(payers),
            recipient_check_digit=check_digit,
            certificate_type_id=certificate_type_id,
        ),
    )


def insurance(session: Session, my_number: str, name: str, kana: str, birth: str, sex: int = 1) -> None:
    """Store one insurance record for the simulated eligibility service."""
    header = (
        "my_number,insurer_number,symbol,number,branch,name,name_kana,birth_date,sex,copay_rate,valid_from,valid_to"
    )
    row = f"{my_number},33120015,記号1,1234,01,{name},{kana},{birth},{sex},30,2020-04-01,"
    import_insurance_text(session, f"{header}\n{row}\n")


def my_number(seed: int) -> str:
    """Return a valid My Number derived from a small integer."""
    eleven = f"{seed:011d}"
    return eleven + str(my_number_check_digit(eleven))


def recipient(seed: int) -> str:
    """Return a valid 7-digit recipient number derived from a small integer."""
    six = f"{seed:06d}"
    return six + str(modulus10_weight21_check_digit(six))
