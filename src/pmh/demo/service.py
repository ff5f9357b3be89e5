"""Seeding the demo: organisations, staff accounts and API keys for every role."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh.auth import service as auth
from pmh.auth.models import Organisation, StaffUser
from pmh.auth.schemas import Role

DEMO_PASSWORD = "demo-password-2026"
DEMO_LOGIN_PREFIX = "demo-"
DEMO_CLINIC_CODE = "1310112345"
DEMO_PHARMACY_CODE = "1340112349"
DEMO_MUNICIPALITIES = ("132012", "130001")  # 八王子市, 東京都


@dataclass
class DemoCredentials:
    """What the demo seed created: sign-in accounts and API keys (shown once, then kept in a file)."""

    staff: list[dict[str, str]] = field(default_factory=list)
    keys: list[dict[str, str]] = field(default_factory=list)


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
