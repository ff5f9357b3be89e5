"""The set-based registered count (one GROUP BY in the database) gives the figures of the rule applied
version by version in Python, on both databases: many certificates with changes, ends, late uploads,
rejections and people holding two certificates of one program."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy.orm import Session

from pmh.registry import participation
from pmh.registry.models import Certificate, CertificateVersion
from tests import factories as f
from tests.operator.support import payer, register

TACHIKAWA = "132021"
REFERENCE_DATES = (dt.date(2026, 4, 1), dt.date(2025, 3, 31), dt.date(2025, 10, 1), dt.date(2027, 1, 15))


def _day(rng: random.Random) -> dt.date:
    return dt.date(2024, 10, 1) + dt.timedelta(days=rng.randrange(0, 3 * 365))


@pytest.fixture
def varied(db_session: Session) -> list[int]:
    """400 certificates of four programs in two cities, 1–4 versions each, drawn at random (seeded)."""
    rng = random.Random(16)
    programs = [
        register(db_session, f.HACHIOJI, "kodomo", [f.KODOMO_PAYER], dt.date(2024, 4, 1))[1],
        register(db_session, f.HACHIOJI, "hitorioya", [f.HITORIOYA_PAYER], dt.date(2024, 4, 1))[1],
        register(db_session, TACHIKAWA, "kodomo", [payer("88", "13", 21)], dt.date(2024, 4, 1))[1],
        register(db_session, TACHIKAWA, "shogaisha", [payer("83", "13", 21)], dt.date(2024, 4, 1))[1],
    ]
    varied_ids = [p.id for p in programs]  # the first two are 八王子市's, the others 立川市's
    municipalities = {f.HACHIOJI: f.municipality(db_session, f.HACHIOJI).id}
    municipalities[TACHIKAWA] = f.municipality(db_session, TACHIKAWA).id
    people = [f"{n:064x}" for n in range(120)]  # a small pool, so that some hold two certificates of one program
    for number in range(400):
        program = rng.choice(programs)
        body = f.HACHIOJI if program.id in varied_ids[:2] else TACHIKAWA
        certificate = Certificate(
            municipality_id=municipalities[body],
            program_id=program.id,
            payer_number=program.payer_numbers[0],
            recipient_number=f"{number:07d}",
            person_digest=rng.choice(people),
            link_status=rng.choice(["linked"] * 8 + ["held", "rejected"]),
            current_version=rng.choice([1, 1, 1, 2, 3, 4]),  # the newest version, as the importer keeps it
        )
        db_session.add(certificate)
        db_session.flush()
        for version in range(1, certificate.current_version + 1):
            effective = _day(rng)
            valid_from = effective - dt.timedelta(days=rng.choice([0, 0, 10, 200]))
            valid_to = rng.choice([None, None, _day(rng), effective + dt.timedelta(days=30)])
            recorded = dt.datetime.combine(_day(rng), dt.time(rng.choice([0, 14, 23]), 30), tzinfo=dt.UTC)
            db_session.add(
                CertificateVersion(
                    certificate_id=certificate.id,
                    version=version,
                    operation="新規" if version == 1 else "変更",
                    effective_from=effective,
                    recorded_at=recorded,
                    name="テスト",
                    name_kana="テスト",
                    birth_date=dt.date(2015, 1, 1),
                    sex=1,
                    valid_from=valid_from,
                    valid_to=valid_to,
                )
            )
    db_session.flush()
    return [p.id for p in programs]


@pytest.mark.parametrize("on", REFERENCE_DATES)
def test_set_based_counts_equal_the_rule_by_rule_counts(db_session: Session, varied: list[int], on: dt.date) -> None:
    by_rule = participation.registered_counts_by_rule(db_session, on)
    assert sum(by_rule.values()) > 0, "the data must count someone on every reference date"
    assert participation.registered_counts(db_session, on) == by_rule
    excluded = varied[1:3]
    assert participation.registered_counts(db_session, on, excluded) == participation.registered_counts_by_rule(
        db_session, on, excluded
    )
