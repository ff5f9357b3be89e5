"""The kept registered counts (登録対象者数): one row per program and tracked reference date.

The operating fee of fiscal year N is computed on the registered count of April 1 of N−1
(``pmh.operator.fees``). Counting it from the certificate versions reads every version — 16.5 million
rows at national size — so the count is also kept in ``registered_counts``, in the transaction of every
change to certificates:

- an upload or API batch of a municipality that already holds certificates: for the (program, person)
  pairs a chunk touches, the pairs counted on each tracked date are counted before and after the
  chunk is written, by the rule of ``participation.registered_counts_by_rule``, and the difference
  is added (``snapshot`` / ``apply``);
- a municipality's first upload (usually every recipient at once): its programs' counts are counted
  again from the versions once the upload is applied (``refresh_municipality``, set-based);
- a review decision (linked / rejected): as a chunk, for the certificate's pair.

A rejected upload rolls back with its savepoint, counts included. Only the dates listed in
``registered_count_dates`` are kept; ``rebuild`` (``pmh fees rebuild-counts``) adds dates and recounts
every program from the versions, so that a summary that drifted (data changed by hand) is put right.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from pmh.auth.models import Organisation
from pmh.bulk import in_values, is_postgresql
from pmh.db import table_of
from pmh.registry import participation
from pmh.registry.models import Certificate, CertificateVersion, Program, RegisteredCount, RegisteredCountDate

UPLOAD_LOCK_NAMESPACE = 0x706D6875  # "pmhu": advisory-lock namespace of a municipality's certificate changes
LOOKUP_CHUNK = 5000

Key = tuple[int, str]
"""What a registration counts as: (program id, person digest) — one per person per program."""


def lock_municipality(session: Session, municipality_id: int) -> None:
    """Serialise the changes to one municipality's certificates (SQLite's write lock already serialises all)."""
    if is_postgresql(session):
        session.execute(
            text("SELECT pg_advisory_xact_lock(:ns, :id)"), {"ns": UPLOAD_LOCK_NAMESPACE, "id": municipality_id}
        )


def tracked_dates(session: Session) -> list[dt.date]:
    """Return the reference dates whose counts are kept, oldest first."""
    return list(
        session.scalars(select(RegisteredCountDate.reference_date).order_by(RegisteredCountDate.reference_date))
    )


def municipality_counts(
    session: Session, reference_date: dt.date, exclude_program_ids: Collection[int] = ()
) -> dict[str, int] | None:
    """Return the kept registered counts per municipality code, or None when the date is not kept.

    Same figures as ``participation.registered_counts`` (tests/operator/test_fee_summary.py).
    """
    if session.get(RegisteredCountDate, reference_date) is None:
        return None
    stmt = (
        select(Organisation.code, func.sum(RegisteredCount.registered))
        .join(Program, Program.id == RegisteredCount.program_id)
        .join(Organisation, Organisation.id == Program.municipality_id)
        .where(RegisteredCount.reference_date == reference_date, RegisteredCount.registered != 0)
        .group_by(Organisation.code)
    )
    if exclude_program_ids:
        stmt = stmt.where(sa.not_(in_values(session, Program.__table__.c.id, list(exclude_program_ids))))
    return {code: int(total) for code, total in session.execute(stmt) if total}


def program_counts(session: Session, reference_date: dt.date) -> dict[int, int]:
    """Return the kept counts of one reference date per program id (programs counting nobody left out)."""
    rows = session.execute(
        select(RegisteredCount.program_id, RegisteredCount.registered).where(
            RegisteredCount.reference_date == reference_date, RegisteredCount.registered != 0
        )
    )
    return {int(program_id): int(registered) for program_id, registered in rows}


def rebuild(session: Session, dates: Iterable[dt.date]) -> dict[dt.date, int]:
    """Keep ``dates`` (adding those not kept yet) and recount every program on them from the versions.

    Returns, per date, how many programs' kept counts changed (0: the summary was right).
    """
    changed: dict[dt.date, int] = {}
    for on in sorted(set(dates)):
        if session.get(RegisteredCountDate, on) is None:
            session.add(RegisteredCountDate(reference_date=on))
            session.flush()
        fresh = participation.registered_counts_per_program(session, on)
        changed[on] = _replace(session, on, fresh, program_counts(session, on))
    return changed


def refresh_municipality(session: Session, municipality_id: int) -> None:
    """Recount one municipality's programs on every kept date from the versions (after a first upload)."""
    programs = set(session.scalars(select(Program.id).where(Program.municipality_id == municipality_id)))
    for on in tracked_dates(session):
        fresh = participation.registered_counts_per_program(session, on, municipality_id)
        stored = {pid: n for pid, n in program_counts(session, on).items() if pid in programs}
        _replace(session, on, fresh, stored)


def _replace(session: Session, on: dt.date, fresh: dict[int, int], stored: dict[int, int]) -> int:
    """Write the programs whose kept count differs from ``fresh``; return how many did.

    Absolute values in two statements (a national rebuild writes thousands of programs at once).
    """
    differing = sorted(pid for pid in set(fresh) | set(stored) if fresh.get(pid, 0) != stored.get(pid, 0))
    if not differing:
        return 0
    table = table_of(RegisteredCount)
    for start in range(0, len(differing), LOOKUP_CHUNK):
        part = differing[start : start + LOOKUP_CHUNK]
        session.execute(delete(table).where(table.c.reference_date == on, in_values(session, table.c.program_id, part)))
    rows = [{"reference_date": on, "program_id": pid, "registered": fresh[pid]} for pid in differing if fresh.get(pid)]
    if rows:
        session.execute(insert(table), rows)
    return len(differing)


@dataclass
class Snapshot:
    """The counts of some (program, person) pairs on every kept date, taken before a change."""

    dates: list[dt.date]
    keys: set[Key]
    counts: dict[tuple[dt.date, int], int]


def snapshot(session: Session, keys: Iterable[Key], dates: list[dt.date] | None = None) -> Snapshot | None:
    """Count the pairs ``keys`` on every kept date before they change (None when nothing is kept)."""
    wanted = set(keys)
    dates = tracked_dates(session) if dates is None else dates
    if not dates or not wanted:
        return None
    return Snapshot(dates, wanted, counted_pairs(session, wanted, dates))


def apply(session: Session, before: Snapshot | None) -> None:
    """Count the same pairs again after the change and add the difference to the kept counts."""
    if before is None:
        return
    after = counted_pairs(session, before.keys, before.dates)
    deltas = {key: after.get(key, 0) - before.counts.get(key, 0) for key in set(after) | set(before.counts)}
    _add(session, {key: delta for key, delta in deltas.items() if delta})


def counted_pairs(session: Session, keys: set[Key], dates: list[dt.date]) -> dict[tuple[dt.date, int], int]:
    """Return, per (date, program id), how many of the pairs ``keys`` count on that date.

    The rule of ``participation.registered_counts_by_rule``: a pair counts when one of its certificates
    (rejected ones aside) was registered by the end of the date and valid on it; a version withdrawn by
    then does not count.
    """
    rows: list[Any] = []
    digests = sorted({digest for _, digest in keys})
    programs = sorted({program_id for program_id, _ in keys})
    certificates, versions = Certificate.__table__.c, CertificateVersion.__table__.c
    for start in range(0, len(digests), LOOKUP_CHUNK):
        stmt = (
            select(
                certificates.id,
                certificates.program_id,
                certificates.person_digest,
                versions.version,
                versions.effective_from,
                versions.valid_from,
                versions.valid_to,
                CertificateVersion.recorded_at,
                CertificateVersion.withdrawn_at,
            )
            .join(CertificateVersion, CertificateVersion.certificate_id == certificates.id)
            .where(
                in_values(session, certificates.person_digest, digests[start : start + LOOKUP_CHUNK]),
                in_values(session, certificates.program_id, programs),
                certificates.link_status != "rejected",
            )
        )
        rows.extend(session.execute(stmt))
    totals: dict[tuple[dt.date, int], int] = {}
    for on in dates:
        cutoff = participation.end_of_day_utc(on)
        tracked: dict[int, participation.Tracked] = {}
        for certificate_id, program_id, digest, version, effective, valid_from, valid_to, recorded, withdrawn in rows:
            # A version withdrawn (取消) by the end of the date is as if never issued (participation's rule).
            if withdrawn is not None and withdrawn < cutoff:
                continue
            if (program_id, digest) in keys and recorded < cutoff:
                entry = tracked.setdefault(certificate_id, participation.Tracked((program_id, digest)))
                entry.add((effective, version), valid_from, valid_to, on)
        for program_id, _ in {t.key for t in tracked.values() if t.valid_on(on)}:
            totals[(on, program_id)] = totals.get((on, program_id), 0) + 1
    return totals


def _add(session: Session, deltas: dict[tuple[dt.date, int], int]) -> None:
    """Add ``deltas`` to the kept counts, creating the rows of programs not kept yet."""
    table = table_of(RegisteredCount)
    for (on, program_id), delta in sorted(deltas.items()):
        done = session.execute(
            update(table)
            .where(table.c.reference_date == on, table.c.program_id == program_id)
            .values(registered=table.c.registered + delta)
        )
        if getattr(done, "rowcount", 0) == 0:
            session.execute(insert(table).values(reference_date=on, program_id=program_id, registered=delta))
