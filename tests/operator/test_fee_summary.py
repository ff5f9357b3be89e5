"""The kept registered counts (``registered_counts``) stay equal to the count from the versions through
every path that changes certificates: a first upload, later uploads of new, changed and ended
certificates (a changed My Number moving a certificate to another person), a rejected upload (nothing
changes), review decisions; the fees read them and give the same figures; ``rebuild-counts`` puts a
drifted summary right and is audited only when it changes something."""

from __future__ import annotations

import datetime as dt
import json
import random
from contextlib import AbstractContextManager

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pmh import clock
from pmh.audit.models import AuditEntry
from pmh.auth.schemas import Caller
from pmh.cli import app as cli
from pmh.operator.fees import service as fees
from pmh.registry import counts, participation
from pmh.registry import service as registry
from pmh.registry.models import Certificate, LinkReview, RegisteredCount
from tests import factories as f
from tests.operator.support import payer, register
from tests.operator.test_fees import operator
from tests.registry.test_import import upload

HACHIOJI = f.HACHIOJI
KODOMO_2 = payer("88", "13", 601)
PAYERS = (f.KODOMO_PAYER, KODOMO_2, f.HITORIOYA_PAYER)
KEPT = (dt.date(2026, 4, 1), dt.date(2026, 10, 1), dt.date(2027, 4, 1))
PEOPLE = 12  # persons 1–12 have an insurance record; 13–15 do not (their certificates are held)
runner = CliRunner()


def row(op: int, recipient: int, person: int | None, start: str, end: str = "", payer_number: str = PAYERS[0]) -> str:
    """One upload line; a 変更 may carry a My Number (the certificate then belongs to that person)."""
    my_number = f.my_number(person) if person is not None else ""
    identity = "高橋 一郎,タカハシ イチロウ,平成30年4月1日,1"
    return f"{op},{payer_number},{f.recipient(recipient)},{my_number},{identity},{start},{end},"


def at(day: str) -> AbstractContextManager[None]:
    """Freeze the clock at noon (Japan) of ``day``: the versions written then are recorded on that day."""
    return clock.frozen_at(dt.datetime.fromisoformat(f"{day}T03:00:00+00:00"))


@pytest.fixture
def city(db_session: Session) -> tuple[Session, Caller]:
    """八王子市 runs こども (two payer numbers) and ひとり親 since FY2025; three reference dates are kept."""
    caller, _ = register(db_session, HACHIOJI, "kodomo", [f.KODOMO_PAYER, KODOMO_2], dt.date(2025, 6, 1))
    register(db_session, HACHIOJI, "hitorioya", [f.HITORIOYA_PAYER], dt.date(2025, 6, 1))
    for person in range(1, PEOPLE + 1):
        f.insurance(db_session, f.my_number(person), "高橋 一郎", "タカハシ イチロウ", "2018-04-01")
    fees.rebuild_counts(db_session, operator(db_session), list(KEPT))
    return db_session, caller


def assert_summary_equals_versions(session: Session) -> None:
    """Every kept date: per program equal to the set-based count, per municipality to the rule's count."""
    for on in KEPT:
        assert counts.program_counts(session, on) == participation.registered_counts_per_program(session, on), on
        assert counts.municipality_counts(session, on) == participation.registered_counts_by_rule(session, on), on


def test_mixed_imports_and_decisions_keep_the_summary_equal_to_the_versions(city: tuple[Session, Caller]) -> None:
    session, caller = city
    with at("2026-03-20"):  # the first load: counted in one go once applied
        first = upload(
            session,
            caller,
            row(1, 1, 1, "2025-04-01"),
            row(1, 2, 1, "2025-04-01", payer_number=KODOMO_2),  # person 1 twice in こども: counts once
            row(1, 3, 1, "2025-04-01", payer_number=f.HITORIOYA_PAYER),  # … and once in ひとり親
            row(1, 4, 2, "2025-04-01", end="2026-09-30"),  # ends between the kept dates
            row(1, 5, 3, "2026-12-01"),  # valid only from December
            row(1, 6, 13, "2025-04-01"),  # no insurance record: held, counts
            row(1, 7, 14, "2025-04-01"),  # held, to be rejected
        )
    assert first.status == "applied"
    assert_summary_equals_versions(session)
    assert counts.municipality_counts(session, KEPT[0]) == {HACHIOJI: 5}  # 1 (×2 programs), 2, 13, 14

    with at("2026-06-01"):  # counted chunk by chunk: new, change, end, another person's My Number
        later = upload(
            session,
            caller,
            row(
                1, 8, 2, "2025-04-01", payer_number=KODOMO_2
            ),  # person 2 again, open-ended, under the second payer number
            row(2, 4, None, "2026-06-01", end="2027-03-31"),  # person 2's first certificate extended
            row(3, 1, None, "", end="2026-08-31"),  # person 1 ends in こども (payer 1) …
            row(2, 5, 4, "2026-05-01"),  # certificate 5 belongs to person 4 now, valid from May
            row(1, 9, 5, "2026-07-01", payer_number=f.HITORIOYA_PAYER),
        )
    assert later.status == "applied", later
    assert_summary_equals_versions(session)

    before = {on: counts.program_counts(session, on) for on in KEPT}
    with at("2026-06-02"):  # all or nothing: one unknown certificate refuses the whole upload
        refused = upload(session, caller, row(1, 10, 6, "2025-04-01"), row(2, 99, None, "2026-06-01"))
    assert refused.status == "rejected"
    assert {on: counts.program_counts(session, on) for on in KEPT} == before

    reviews = list(session.scalars(select(LinkReview).where(LinkReview.status == "open").order_by(LinkReview.id)))
    assert len(reviews) == 2
    registry.resolve_link_review(session, caller, reviews[1].id, "reject", "別人")  # person 14 stops counting
    registry.resolve_link_review(session, caller, reviews[0].id, "link", "確認済み")
    assert_summary_equals_versions(session)
    after = {on: counts.program_counts(session, on) for on in KEPT}
    assert sum(after[KEPT[0]].values()) == sum(before[KEPT[0]].values()) - 1


def test_random_uploads_keep_the_summary_equal_to_the_versions(city: tuple[Session, Caller]) -> None:
    session, caller = city
    rng = random.Random(18)
    issued: list[int] = []
    for round_ in range(6):
        day = (dt.date(2026, 2, 1) + dt.timedelta(days=75 * round_)).isoformat()
        lines, used = [], set()
        for _ in range(12):
            if issued and rng.random() < 0.5:
                recipient = rng.choice(issued)
                if recipient in used:
                    continue
                start = (dt.date(2025, 10, 1) + dt.timedelta(days=rng.randrange(600))).isoformat()
                if rng.random() < 0.5:
                    person = rng.choice([None, None, rng.randrange(1, PEOPLE + 4)])
                    lines.append(row(2, recipient, person, start, rng.choice(["", "2026-09-30", "2027-12-31"])))
                else:
                    lines.append(row(3, recipient, None, "", end=rng.choice(["2026-03-31", "2026-12-31"])))
            else:
                recipient = len(issued) + 100
                issued.append(recipient)
                start = (dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(900))).isoformat()
                person = rng.randrange(1, PEOPLE + 4)
                lines.append(row(1, recipient, person, start, rng.choice(["", "", "2026-09-30"]), rng.choice(PAYERS)))
            used.add(recipient)
        with at(day):
            result = upload(session, caller, *lines, allow_partial=True)  # ends before a start are refused alone
        assert result.status == "applied", result
        assert_summary_equals_versions(session)
    assert sum(counts.program_counts(session, KEPT[1]).values()) > 0, "the data must count someone"


def test_fees_read_the_summary_and_give_the_figures_of_the_versions(city: tuple[Session, Caller]) -> None:
    session, caller = city
    with at("2026-03-20"):
        upload(session, caller, row(1, 1, 1, "2025-04-01"), row(1, 2, 2, "2025-04-01", payer_number=KODOMO_2))
    fees.set_price(session, operator(session), 2027, "final", 700)
    kept = fees.compute(session, 2027)
    # Prove the summary is what was read: a count changed behind its back shows in the report …
    session.execute(update(RegisteredCount).values(registered=RegisteredCount.registered + 10))
    assert fees.municipality_fee(fees.compute(session, 2027), HACHIOJI).registered == 12
    # … and rebuild-counts puts it right, so that the report is again the versions' figures.
    assert fees.rebuild_counts(session, operator(session), [KEPT[0]]) == {KEPT[0]: 1}  # one program (こども) holds both
    assert fees.compute(session, 2027).as_json() == kept.as_json()
    unkept = fees.compute(session, 2027, reference_date=dt.date(2026, 4, 2))  # not kept: from the versions
    assert fees.municipality_fee(unkept, HACHIOJI).registered == fees.municipality_fee(kept, HACHIOJI).registered == 2


def test_rebuild_counts_is_audited_only_when_it_changes_something(city: tuple[Session, Caller]) -> None:
    session, caller = city
    with at("2026-03-20"):
        upload(session, caller, row(1, 1, 1, "2025-04-01"))

    def rebuilds() -> int:
        return (
            session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "fees.rebuild_counts")
            )
            or 0
        )

    audited = rebuilds()
    assert fees.rebuild_counts(session, operator(session), list(KEPT)) == dict.fromkeys(KEPT, 0)
    assert rebuilds() == audited
    session.execute(update(Certificate).values(link_status="rejected"))  # changed by hand, behind the summary
    assert fees.rebuild_counts(session, operator(session), list(KEPT)) == {KEPT[0]: 1, KEPT[1]: 1, KEPT[2]: 1}
    assert rebuilds() == audited + 1
    assert_summary_equals_versions(session)


def test_cli_rebuild_counts_prints_each_reference_date(city: tuple[Session, Caller]) -> None:
    assert city  # three dates kept, no certificate: the summary is right
    done = runner.invoke(cli, ["fees", "rebuild-counts", "--reference-date", "2026-04-01", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"reference_dates": [{"reference_date": "2026-04-01", "changed_programs": 0}]}
    refused = runner.invoke(cli, ["fees", "rebuild-counts", "--reference-date", "someday"])
    assert refused.exit_code == 2
