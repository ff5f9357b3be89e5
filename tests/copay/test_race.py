"""Twenty entries posted at once by two institutions never pass the cap together (real threads, both DBs)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pmh.auth.schemas import Caller
from pmh.cards import service as cards
from pmh.copay import service as copay
from pmh.copay.models import CopayEntry, CopayMonth
from pmh.copay.schemas import CopayEntryCreate
from pmh.db import make_engine
from pmh.eligibility import reader as eligibility
from pmh.eligibility.schemas import CardSessionCreate, ConsentCreate
from pmh.errors import PmhError
from pmh.migrate import upgrade
from tests import factories as f
from tests.conftest import BACKENDS, _pg_database
from tests.eligibility import world as w

CAP = 5000
ENTRY = 1000


def _institution_callers(session: Session) -> list[tuple[Caller, Caller]]:
    """Return (card reader, institution) callers of two clinics."""
    pairs = []
    for code, name in ((f.CLINIC_CODE, "テスト内科"), (f.OTHER_CLINIC_CODE, "別のクリニック")):
        org = f.institution(session, code, name)
        pairs.append(
            (
                Caller(org.id, org.code, org.name, "institution", "card_reader", "reader", "受付1", face_device=True),
                Caller(org.id, org.code, org.name, "institution", "institution", "key:test"),
            )
        )
    return pairs


@pytest.fixture(params=BACKENDS)
def committed(
    request: pytest.FixtureRequest, tmp_path: Path, worker_name: str
) -> Iterator[tuple[Engine, list[tuple[Caller, int]]]]:
    """A database of its own where two clinics each hold a consented reception of the same 難病 patient."""
    sqlite = f"sqlite:///{tmp_path / 'race.sqlite3'}"
    url = sqlite if request.param == "sqlite" else _pg_database(f"race_{worker_name}")
    engine = make_engine(url)
    with engine.begin() as connection:
        upgrade(connection)
    receptions: list[tuple[Caller, int]] = []
    with Session(engine) as session, session.begin():
        tokyo = f.municipality_caller(session, f.TOKYO)
        f.program(session, tokyo, "nanbyo", (w.NANBYO_PAYER,))
        f.insurance(session, w.MY_NUMBER, "佐藤 花子", "サトウ ハナコ", "2015-06-01", sex=2)
        w.register(session, tokyo, [w.certificate(w.NANBYO_PAYER, 1, monthly_cap=CAP, cap_managed=1)])
        card = cards.issue_card(session, w.MY_NUMBER, w.PIN)
        for reader, institution in _institution_callers(session):
            opened = eligibility.open_card_session(
                session, reader, CardSessionCreate(card_serial=card.card_serial, auth="face", face_matched=True)
            )
            consent = eligibility.give_consent(session, reader, opened.id, ConsentCreate(subsidy="all"))
            receptions.append((institution, consent.reception_id))
    yield engine, receptions
    engine.dispose()


def _post(engine: Engine, caller: Caller, reception_id: int, start: threading.Barrier, outcomes: list[str]) -> None:
    body = CopayEntryCreate(
        reception_id=reception_id,
        payer_number=w.NANBYO_PAYER,
        recipient_number=f.recipient(1),
        service_date=w.TODAY,
        total_cost=10_000,
        copay_amount=ENTRY,
    )
    start.wait()
    try:
        with Session(engine) as session, session.begin():
            copay.record_entry(session, caller, body)
        outcomes.append("recorded")
    except PmhError as exc:
        outcomes.append(exc.code)


def test_twenty_entries_at_once_never_pass_the_cap(committed: tuple[Engine, list[tuple[Caller, int]]]) -> None:
    engine, receptions = committed
    start = threading.Barrier(20)
    outcomes: list[str] = []
    threads = [threading.Thread(target=_post, args=(engine, *receptions[i % 2], start, outcomes)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["cap_exceeded"] * 15 + ["recorded"] * 5
    with Session(engine) as session:
        stored = session.scalar(select(func.sum(CopayEntry.copay_amount))) or 0
        month = session.scalars(select(CopayMonth)).one()
    assert stored == month.total == CAP
    assert month.month == w.TODAY.strftime("%Y-%m")
