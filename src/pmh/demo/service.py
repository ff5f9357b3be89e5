"""Seeding the demo: organisations, staff accounts and API keys for every role."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh.auth import readers
from pmh.auth import service as auth
from pmh.auth.models import Organisation, StaffUser
from pmh.auth.schemas import Caller, Role
from pmh.cards import service as cards
from pmh.codes.checkdigits import my_number_check_digit
from pmh.onboarding import service as onboarding
from pmh.operator.fees import service as fees
from pmh.reception import service as reception
from pmh.reference import catalogue
from pmh.registry import importer
from pmh.registry import service as registry
from pmh.registry.schemas import ProgramCreate, UploadResult
from pmh.registry.synthetic import PayerSpec, generate, write_files

DEMO_PASSWORD = "demo-password-2026"
DEMO_LOGIN_PREFIX = "demo-"
DEMO_CLINIC_CODE = "1310112345"
DEMO_PHARMACY_CODE = "1340112349"
DEMO_FEE_YEAR = 2027
DEMO_FEE_UNIT_SEN = 700  # ¥7.00, kept in 銭
DEMO_MUNICIPALITIES = ("132012", "130001")  # 八王子市, 東京都
# Real payer numbers of 八王子市's local programs (docs/registry.md) and made-up ones of Tokyo's national programs.
DEMO_PROGRAMS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "132012": (("kodomo", ("88138243", "89131247")), ("hitorioya", ("81136244",)), ("shoman", ("52136017",))),
    "130001": (("nanbyo", ("54136015",)),),
}


@dataclass
class DemoCredentials:
    """What the demo seed created: sign-in accounts and API keys (shown once, then kept in a file)."""

    staff: list[dict[str, str]] = field(default_factory=list)
    keys: list[dict[str, str]] = field(default_factory=list)
    imports: list[dict[str, object]] = field(default_factory=list)
    cards: list[dict[str, object]] = field(default_factory=list)


def is_seeded(session: Session) -> bool:
    """Return True when the demo staff accounts already exist."""
    return session.scalar(select(StaffUser.id).where(StaffUser.login == "demo-operator")) is not None


def seed_demo(session: Session) -> DemoCredentials:
    """Create the demo organisations, one staff account each and an API key per role."""
    credentials = DemoCredentials()
    operator = auth.ensure_organisation(session, auth.OPERATOR_CODE)
    municipalities = [auth.ensure_organisation(session, code) for code in DEMO_MUNICIPALITIES]
    clinic = auth.add_institution(session, DEMO_CLINIC_CODE, "デモ内科クリニック", "clinic")
    pharmacy = auth.add_institution(session, DEMO_PHARMACY_CODE, "デモ薬局", "pharmacy")

    accounts = [("demo-operator", operator), ("demo-clinic", clinic), ("demo-pharmacy", pharmacy)]
    accounts += [(f"demo-{m.code}", m) for m in municipalities]
    for login, organisation in accounts:
        _, secret = auth.create_staff_user(session, organisation, login, f"{organisation.name} 職員", DEMO_PASSWORD)
        credentials.staff.append(
            {
                "login": login,
                "password": DEMO_PASSWORD,
                "totp_secret": secret,
                "organisation": organisation.name,
            }
        )

    grants: list[tuple[Organisation, Role]] = [
        (operator, "operator"),
        (clinic, "institution"),
        (clinic, "card_reader"),
    ]
    grants += [(pharmacy, "institution"), (pharmacy, "card_reader")]
    grants += [(m, "municipality") for m in municipalities]
    # The briefing's current estimate of the FY2027 operating fee: ¥7 per registered count and month.
    operator_caller = Caller(operator.id, operator.code, operator.name, "operator", "operator", "demo")
    fees.set_price(session, operator_caller, DEMO_FEE_YEAR, "estimate", DEMO_FEE_UNIT_SEN)
    # The ministry's FY2026 schedule (意向等調査, 予算, PIA, 条例, 契約) as the onboarding deadlines.
    onboarding.seed_deadlines(session, operator_caller)
    for organisation, role in grants:
        if organisation is clinic and role == "card_reader":
            # the demo clinic's reader is a registered face-recognition device (its key may send auth=face)
            issued = readers.add_reader(session, clinic.code, "デモ受付（顔認証）", face=True)[1]
        else:
            issued = auth.create_api_key(session, organisation, role, "デモ用")
        credentials.keys.append(
            {
                "organisation": issued.organisation_code,
                "name": issued.organisation_name,
                "role": role,
                "key": issued.key,
            }
        )
    return credentials


def seed_recipients(session: Session, recipients: int, seed: int = 2026) -> dict[str, UploadResult]:
    """Register the demo programs and import synthetic certificates with their insurance records.

    About one in ten names is written in another notation than the insurance record (the guard
    links those) and one in fifty belongs to another person (held for review), as in real files.
    """
    results: dict[str, UploadResult] = {}
    for index, (code, programs) in enumerate(DEMO_PROGRAMS.items()):
        organisation = auth.ensure_organisation(session, code)
        caller = Caller(organisation.id, organisation.code, organisation.name, "municipality", "municipality", "demo")
        payers = []
        for program_code, numbers in programs:
            registry.add_program(session, caller, ProgramCreate(program_code=program_code, payer_numbers=list(numbers)))
            entry = catalogue.program(program_code)
            payers += [PayerSpec(n, program_code, entry.national, entry.has_monthly_cap) for n in numbers]
        count = max(recipients // len(DEMO_PROGRAMS), 1)
        certificates, insurance = io.StringIO(), io.StringIO()
        cases = generate(count, code, payers, seed=seed + index, variant_rate=0.1, mismatch_rate=0.02)
        write_files(cases, certificates, insurance)
        cards.import_insurance_records(session, io.StringIO(insurance.getvalue()))
        data = io.BytesIO(certificates.getvalue().encode("utf-8"))
        results[code] = importer.run_import(
            session,
            caller,
            importer.file_reader(data),
            digest=importer.content_digest(data),
            source="cli",
            filename="demo.csv",
        )
    return results


# --- the patients of the reader demo: known people with known cards ---------------------------

DEMO_INSURANCE_HEADER = ",".join(cards.INSURANCE_COLUMNS)
# (my number without check digit, name, kana, birth date, sex, PIN, certificates as (municipality, payer,
# recipient, extra columns)). Recipient numbers carry their check digit.
DemoCertificate = tuple[str, str, str, dict[str, str]]
DemoPatient = tuple[str, str, str, str, int, str, tuple[DemoCertificate, ...]]
DEMO_PATIENTS: tuple[DemoPatient, ...] = (
    (
        "90000000001",
        "デモ 花子",
        "デモ ハナコ",
        "2014-05-05",
        2,
        "1234",
        (
            ("130001", "54136015", "9000019", {"monthly_cap": "5000", "cap_managed": "1", "copay_rate": "20"}),
            ("132012", "88138243", "9000027", {"copay_rate": "0"}),
            ("132012", "81136244", "9000035", {}),
        ),
    ),
    ("90000000002", "デモ 太郎", "デモ タロウ", "2016-10-10", 1, "5678", (("132012", "88138243", "9000043", {}),)),
)
DEMO_CLINIC_PATIENTS = (
    "patient_number,name,name_kana,birth_date,sex\n"
    "00101,デモ 花子,デモ ハナコ,2014-05-05,2\n"
    "00102,見本 一郎,ミホン イチロウ,1970-01-01,1\n"
    "00103,見本 和子,ミホン カズコ,1975-03-03,2\n"
)


def _demo_my_number(eleven: str) -> str:
    return eleven + str(my_number_check_digit(eleven))


def seed_cards(session: Session) -> list[dict[str, object]]:
    """Register the reader demo's patients, their certificates and test cards, and the clinic's patient list.

    Returns what the demo prints: each card's serial and PIN with its holder and certificates.
    """
    issued: list[dict[str, object]] = []
    rows: dict[str, list[str]] = {}
    insurance = [DEMO_INSURANCE_HEADER]
    for eleven, name, kana, birth, sex, pin, certificates in DEMO_PATIENTS:
        my_number = _demo_my_number(eleven)
        insurance.append(f"{my_number},33120015,デモ,{eleven[-4:]},00,{name},{kana},{birth},{sex},30,2020-04-01,,2")
        for code, payer, recipient, extra in certificates:
            values = [payer, recipient, my_number, name, kana, birth, str(sex), "2026-04-01"]
            values += [extra.get(column, "") for column in ("monthly_cap", "cap_managed", "copay_rate")]
            rows.setdefault(code, []).append("1," + ",".join(values))
        card = cards.issue_card(session, my_number, pin)
        issued.append({"card_serial": card.card_serial, "pin": pin, "name": name, "certificates": len(certificates)})
    cards.import_insurance_records(session, io.StringIO("\n".join(insurance) + "\n"))
    header = (
        "op,payer_number,recipient_number,my_number,name,name_kana,birth_date,sex,valid_from,"
        "monthly_cap,cap_managed,copay_rate"
    )
    for code, lines in rows.items():
        organisation = auth.ensure_organisation(session, code)
        caller = Caller(organisation.id, organisation.code, organisation.name, "municipality", "municipality", "demo")
        data = io.BytesIO(("\n".join([header, *lines]) + "\n").encode("utf-8"))
        importer.run_import(
            session,
            caller,
            importer.file_reader(data),
            digest=importer.content_digest(data),
            source="cli",
            filename="demo-cards.csv",
        )
    clinic = auth.get_organisation(session, DEMO_CLINIC_CODE)
    clinic_caller = Caller(clinic.id, clinic.code, clinic.name, "institution", "institution", "demo")
    reception.import_patients(session, clinic_caller, DEMO_CLINIC_PATIENTS.encode("utf-8"))
    return issued
