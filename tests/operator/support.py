"""Helpers of the operator tests: programs with start dates and planned recipients, valid payer numbers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from pmh.auth.schemas import Caller
from pmh.codes.checkdigits import modulus10_weight21_check_digit
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
