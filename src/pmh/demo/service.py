"""Seeding the demo: organisations, staff accounts and API keys for every role."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh.auth import service as auth
from pmh.auth.models import Organisation, StaffUser
from pmh.auth.schemas import Caller, Role
from pmh.cards import service as cards
from pmh.reference import catalogue
from pmh.registry import importer
from pmh.registry import service as registry
from pmh.registry.schemas import ProgramCreate, UploadResult
from pmh.registry.synthetic import PayerSpec, generate, write_files

DEMO_PASSWORD = "demo-password-2026"
DEMO_LOGIN_PREFIX = "demo-"
DEMO_CLINIC_CODE = "1310112345"
DEMO_PHARMACY_CODE = "1340112349"
DEMO_MUNICIPALITIES = ("132012", "130001")  # 八王子市, 東京都
# Real payer numbers of 八王子市's local programs (domain.md) and made-up ones of Tokyo's national programs.
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
    for organisation, role in grants:
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
