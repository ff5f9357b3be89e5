"""Helpers of the operator tests: programs with start dates and planned recipients, valid payer numbers."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pmh.auth import service as auth
from pmh.auth.models import Organisation
from pmh.auth.passwords import totp_code
from pmh.auth.schemas import Caller
from pmh.codes.checkdigits import modulus10_weight21_check_digit
from pmh.db import utcnow
from pmh.registry import service as registry
from pmh.registry.schemas import ProgramCreate, ProgramRead
from tests import factories as f


def payer(houbetsu: str, prefecture: str, body: int) -> str:
    """Return a valid 公費負担者番号 made of 法別番号, 都道府県番号 and a 実施機関番号."""
    seven = f"{houbetsu}{prefecture}{body:03d}"
    return seven + str(modulus10_weight21_check_digit(seven))


def register(
    session: Session,
    code: str,
    program: str,
    payers: list[str],
    start: dt.date,
    planned: int = 0,
) -> tuple[Caller, ProgramRead]:
    """Register a program for a body from the master, starting on ``start``."""
    caller = f.municipality_caller(session, code)
    created = registry.add_program(
        session,
        caller,
        ProgramCreate(program_code=program, payer_numbers=payers, start_date=start, planned_recipients=planned),
    )
    return caller, created


PASSWORD = "operator-test-password"


def sign_in(client: TestClient, session: Session, organisation: Organisation, login: str) -> str:
    """Sign a member of staff of ``organisation`` in on the client and return the page's CSRF token."""
    _, secret = auth.create_staff_user(session, organisation, login, "担当者", PASSWORD)
    client.post("/login", data={"login": login, "password": PASSWORD, "totp": totp_code(secret, utcnow())})
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert match is not None, "signed in: the start page carries the CSRF token"
    return match.group(1)
