"""Read-only views of the registry for the operator: which programs each body runs, and how many
people were registered on a date (the basis of the operating fee). Counts only, never personal data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmh.auth.models import Organisation
from pmh.bulk import in_values, is_postgresql
from pmh.registry.models import Certificate, CertificateVersion, Program, Upload

JST = ZoneInfo("Asia/Tokyo")


@dataclass(frozen=True)
class RegisteredProgram:
    """A program a body registered: who runs it, which program, from when, and its planned recipients."""

    program_id: int
    municipality_code: str
    municipality_name: str
    prefecture_code: str
    program_code: str
    start_date: dt.date
    planned_recipients: int


def registered_programs(session: Session) -> list[RegisteredProgram]:
    """Return every registered program of every municipality, ordered by municipality code and program."""
    rows = session.execute(
        select(Program, Organisation)
        .join(Organisation, Organisation.id == Program.municipality_id)
        .order_by(Organisation.code, Program.program_code)
    ).all()
    return [
        RegisteredProgram(
            program_id=program.id,
            municipality_code=organisation.code,
            municipality_name=organisation.name,
            prefecture_code=organisation.prefecture_code or organisation.code[:2],
            program_code=program.program_code,
            start_date=program.start_date,
            planned_recipients=program.planned_recipients,
        )
        for program, organisation in rows
    ]


def end_of_day_utc(day: dt.date) -> dt.datetime:
    """Return the first instant after ``day`` ends in Japan, in UTC (registrations are dated in JST)."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=JST).astimezone(dt.UTC)


def registered_counts(
    session: Session, reference_date: dt.date, exclude_program_ids: Collection[int] = ()
) -> dict[str, int]:
    """Return, per municipality code, the registered count (登録対象者数) on ``reference_date``.

    One per person per program: a resident with certificates in two programs counts two, one with two
    certificates of one program (two payer numbers) counts one. A certificate counts when it had been
    registered in the hub by the end of the reference date (as the hub knew it then: later uploads do
    not change a past count) and was valid on that date. Certificates the review queue rejected are not
    registrations and do not count; held ones do (the municipality registered them).

    Computed in the database in one set-based query (GROUP BY), so that the national size — 15 million
    registrations — is counted without loading a row into Python (docs/performance.md). A certificate
    that never changed (its current version is 1) is decided by its one version's dates; for the others
    each version
    is packed into one integer ordered like (effective_from, version), carrying its valid_from, so that
    "the version in force on the date, else the first one" is a MAX/MIN per certificate; the end date
    is the valid_to of the highest version number. A program id stands for (municipality, program code),
    unique among programs. Same rule and figures as ``registered_counts_by_rule``.
    """
    counted = _counted(session, reference_date, exclude_program_ids)
    stmt = select(counted.c.municipality_id, sa.func.count()).group_by(counted.c.municipality_id)
    counts = _run_count(session, stmt)
    if not counts:
        return {}
    found = select(Organisation.id, Organisation.code).where(
        in_values(session, Organisation.__table__.c.id, list(counts))
    )
    codes = {int(organisation_id): code for organisation_id, code in session.execute(found)}
    return {codes[municipality_id]: count for municipality_id, count in counts.items()}


def registered_counts_per_program(
    session: Session, reference_date: dt.date, municipality_id: int | None = None
) -> dict[int, int]:
    """Return, per program id, the registered count on ``reference_date`` (same rule as ``registered_counts``).

    The programs of one municipality only when ``municipality_id`` is given. Programs counting nobody
    are absent. This is how the kept summary (``pmh.registry.counts``) is built and rebuilt.
    """
    extra = [Certificate.municipality_id == municipality_id] if municipality_id is not None else []
    counted = _counted(session, reference_date, (), extra)
    stmt = select(counted.c.program_id, sa.func.count()).group_by(counted.c.program_id)
    return _run_count(session, stmt)


def _run_count(session: Session, stmt: sa.Select[Any]) -> dict[int, int]:
    """Run one GROUP BY over the counted registrations with the PostgreSQL settings it needs."""
    if is_postgresql(session):
        # One query sorts or hashes every registration: give it memory instead of temporary files.
        session.execute(sa.text("SET LOCAL work_mem = '256MB'"))
        # Certificates and their versions are written in certificate order, so a merge join along the
        # primary key and the (certificate_id, version) index streams them without a hash table
        # (measured 25–30 % faster at 500,000 registrations, docs/performance.md).
        session.execute(sa.text("SET LOCAL enable_hashjoin = off"))
    counts = {int(key): int(count) for key, count in session.execute(stmt)}
    if is_postgresql(session):
        session.execute(sa.text("RESET enable_hashjoin"))  # the rest of the transaction plans as usual
        session.execute(sa.text("RESET work_mem"))
    return counts


def _counted(
    session: Session,
    reference_date: dt.date,
    exclude_program_ids: Collection[int] = (),
    extra: Sequence[sa.ColumnElement[bool]] = (),
) -> sa.Subquery:
    """Return the registrations counted on ``reference_date``: one (municipality, program, person) each."""
    cutoff = end_of_day_utc(reference_date)
    # A version withdrawn (取消) by the end of the date is as if never issued; one withdrawn later still
    # counted then (later uploads do not change a past count).
    conditions = [
        CertificateVersion.recorded_at < cutoff,
        sa.or_(CertificateVersion.withdrawn_at.is_(None), CertificateVersion.withdrawn_at >= cutoff),
        Certificate.link_status != "rejected",
        *extra,
    ]
    if exclude_program_ids:
        conditions.append(sa.not_(in_values(session, Certificate.__table__.c.program_id, list(exclude_program_ids))))
    # Most certificates never changed: their one version decides, by plain date comparisons.
    single = (
        select(Certificate.municipality_id, Certificate.program_id, Certificate.person_digest)
        .join(
            CertificateVersion,
            sa.and_(CertificateVersion.certificate_id == Certificate.id, CertificateVersion.version == 1),
        )
        .where(
            Certificate.current_version == 1,
            CertificateVersion.valid_from <= reference_date,
            sa.or_(CertificateVersion.valid_to.is_(None), CertificateVersion.valid_to >= reference_date),
            *conditions,
        )
    )
    on = _day_number(session, sa.literal(reference_date, sa.Date)) + _DAY_SHIFT
    effective = _day_number(session, CertificateVersion.effective_from) + _DAY_SHIFT
    valid_from = _day_number(session, CertificateVersion.valid_from) + _DAY_SHIFT
    valid_to = sa.func.coalesce(_day_number(session, CertificateVersion.valid_to) + _DAY_SHIFT, _OPEN_END)
    packed = (sa.cast(effective, sa.BigInteger) * _VERSIONS + CertificateVersion.version) * _DAYS + valid_from
    newest = sa.cast(CertificateVersion.version, sa.BigInteger) * _DAYS + valid_to
    per_certificate = (
        select(
            Certificate.municipality_id.label("municipality_id"),
            Certificate.program_id.label("program_id"),
            Certificate.person_digest.label("person"),
            sa.func.coalesce(
                sa.func.max(sa.case((CertificateVersion.effective_from <= reference_date, packed))), sa.func.min(packed)
            ).label("chosen"),
            sa.func.max(newest).label("newest"),
        )
        .join(CertificateVersion, CertificateVersion.certificate_id == Certificate.id)
        .where(Certificate.current_version > 1, *conditions)
        .group_by(Certificate.id, Certificate.municipality_id, Certificate.program_id, Certificate.person_digest)
        .subquery()
    )
    chosen_from = per_certificate.c.chosen % _DAYS
    end = per_certificate.c.newest % _DAYS
    changed = select(per_certificate.c.municipality_id, per_certificate.c.program_id, per_certificate.c.person).where(
        chosen_from <= on, sa.or_(end == _OPEN_END, on <= end)
    )
    return sa.union(single, changed).subquery()  # UNION: one per person per program


# Day numbers are shifted to be positive (dates from 1890 on) and packed below 10**5 each; versions below 10**6.
_DAY_SHIFT = 40_000
_DAYS = 100_000
_VERSIONS = 1_000_000
_OPEN_END = _DAYS - 1


def _day_number(session: Session, value: Any) -> sa.ColumnElement[int]:
    """Return a date as whole days since 2000-01-01, in the session's SQL dialect."""
    if is_postgresql(session):
        return sa.cast(value - sa.literal(_EPOCH, sa.Date), sa.Integer)
    return sa.cast(sa.func.julianday(value) - sa.func.julianday(_EPOCH.isoformat()), sa.Integer)


_EPOCH = dt.date(2000, 1, 1)


def registered_counts_by_rule(
    session: Session, reference_date: dt.date, exclude_program_ids: Collection[int] = ()
) -> dict[str, int]:
    """Return, per municipality code, the registered count on ``reference_date``, version by version in Python.

    The reference implementation of ``registered_counts`` (same rule, same figures), kept for the
    test that pins the set-based query to it; it loads every version, so it is for small data only.

    One per person per program: a resident with certificates in two programs counts two, one with two
    certificates of one program (two payer numbers) counts one. A certificate counts when it had been
    registered in the hub by the end of the reference date (as the hub knew it then: later uploads do
    not change a past count) and was valid on that date. Certificates the review queue rejected are not
    registrations and do not count; held ones do (the municipality registered them).
    """
    cutoff = end_of_day_utc(reference_date)
    stmt = (
        select(
            Organisation.code,
            Program.id,
            Program.program_code,
            Certificate.person_digest,
            CertificateVersion.certificate_id,
            CertificateVersion.version,
            CertificateVersion.effective_from,
            CertificateVersion.valid_from,
            CertificateVersion.valid_to,
        )
        .join(Certificate, Certificate.id == CertificateVersion.certificate_id)
        .join(Program, Program.id == Certificate.program_id)
        .join(Organisation, Organisation.id == Certificate.municipality_id)
        .where(
            CertificateVersion.recorded_at < cutoff,
            sa.or_(CertificateVersion.withdrawn_at.is_(None), CertificateVersion.withdrawn_at >= cutoff),
            Certificate.link_status != "rejected",
        )
        .order_by(CertificateVersion.certificate_id, CertificateVersion.version)
        .execution_options(yield_per=10_000)
    )
    excluded = set(exclude_program_ids)
    certificates: dict[int, Tracked] = {}
    for (
        code,
        program_id,
        program_code,
        person,
        certificate_id,
        version,
        effective_from,
        valid_from,
        valid_to,
    ) in session.execute(stmt):
        if program_id not in excluded:
            tracked = certificates.setdefault(certificate_id, Tracked((code, program_code, person)))
            tracked.add((effective_from, version), valid_from, valid_to, reference_date)
    counted = {t.key for t in certificates.values() if t.valid_on(reference_date)}
    totals: dict[str, int] = {}
    for code, _, _ in counted:
        totals[code] = totals.get(code, 0) + 1
    return totals


class Tracked:
    """One certificate's versions as far as they matter on the reference date (see ``version_in_force``).

    ``key`` is what the certificate counts as (one per person per program); the caller chooses its form.
    """

    def __init__(self, key: tuple[Any, ...]) -> None:
        self.key = key
        self.first: tuple[tuple[dt.date, int], dt.date] | None = None
        self.in_force: tuple[tuple[dt.date, int], dt.date] | None = None
        self.newest: tuple[int, dt.date | None] | None = None

    def add(self, order: tuple[dt.date, int], valid_from: dt.date, valid_to: dt.date | None, on: dt.date) -> None:
        """Take one version into account: the in-force one is the latest taking effect by ``on``."""
        if self.first is None or order < self.first[0]:
            self.first = (order, valid_from)
        if order[0] <= on and (self.in_force is None or order > self.in_force[0]):
            self.in_force = (order, valid_from)
        if self.newest is None or order[1] > self.newest[0]:
            self.newest = (order[1], valid_to)

    def valid_on(self, on: dt.date) -> bool:
        """Whether the certificate was valid on ``on``; an end date belongs to the newest version."""
        chosen = self.in_force or self.first
        assert chosen is not None and self.newest is not None
        end = self.newest[1]
        return chosen[1] <= on and (end is None or on <= end)


def first_applied_uploads(session: Session) -> dict[int, dt.datetime]:
    """Return, per program id, when its first applied upload was made (a certificate of it was registered)."""
    stmt = (
        select(Certificate.program_id, func.min(Upload.created_at))
        .join(CertificateVersion, CertificateVersion.certificate_id == Certificate.id)
        .join(Upload, Upload.id == CertificateVersion.upload_id)
        .where(Upload.status == "applied")
        .group_by(Certificate.program_id)
    )
    return {program_id: _aware(first) for program_id, first in session.execute(stmt) if first is not None}


def people_per_program(session: Session) -> dict[int, int]:
    """Return, per program id, how many people it holds certificates of (its 特定個人情報ファイルの対象人数).

    Certificates the review queue rejected are not in the file; one person with two certificates of
    one program counts once.
    """
    stmt = (
        select(Certificate.program_id, func.count(func.distinct(Certificate.person_digest)))
        .where(Certificate.link_status != "rejected")
        .group_by(Certificate.program_id)
    )
    return {program_id: int(count) for program_id, count in session.execute(stmt)}


def _aware(value: dt.datetime) -> dt.datetime:
    """Aggregates bypass the column type on SQLite, which then returns naive UTC datetimes."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
