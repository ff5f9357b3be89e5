"""A certificate as of a date: the one read the registry offers everyone who needs one.

Eligibility, the 上限額管理, the monthly 一括照会 and the resident's own view all ask the same
question of a certificate — which version is in force on a date, until when the certificate runs,
and whether it is valid, expired or not yet valid on that date — and they get the answer from here.
Nothing outside the registry reads certificate versions to answer it.

The rules:

- The version in force on a date is the latest one whose ``effective_from`` is not after the date
  (ties: the newest). Before the first version takes effect, the first one answers (its status is
  then ``not_yet_valid``).
- An end date (終了) belongs to the certificate as a whole: the newest version's ``valid_to`` applies
  to whichever version is in force.
- A withdrawn version (取消, ``withdrawn_at``) is as if never issued: it is never in force and sets
  no end date. A certificate whose every version is withdrawn is not answered at all (institutions
  no longer receive it); :meth:`Histories.certificate` still names it, for the 一括照会.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh.auth.models import Organisation
from pmh.bulk import in_values
from pmh.registry.models import Certificate, CertificateVersion, Program

ValidityStatus = Literal["valid", "expired", "not_yet_valid"]


@dataclass(frozen=True, slots=True)
class Validity:
    """How long a certificate runs and what that means on one date."""

    valid_from: dt.date
    valid_to: dt.date | None
    status: ValidityStatus

    @classmethod
    def on(cls, valid_from: dt.date, valid_to: dt.date | None, day: dt.date) -> Validity:
        """Return the validity of the period ``valid_from``–``valid_to`` (open when None) on ``day``."""
        return cls(valid_from, valid_to, validity_status(valid_from, valid_to, day))

    @property
    def in_force(self) -> bool:
        """Whether the certificate is valid on the date."""
        return self.status == "valid"


@dataclass(frozen=True, slots=True)
class CertificateOn:
    """One certificate as of a date: the version in force, its validity, its program and municipality."""

    certificate: Certificate
    version: CertificateVersion
    validity: Validity
    program_code: str
    municipality_code: str
    municipality_name: str

    @property
    def status(self) -> ValidityStatus:
        """Valid, expired or not yet valid on the date."""
        return self.validity.status

    @property
    def valid_to(self) -> dt.date | None:
        """The certificate's end date (the newest version's), whichever version is in force."""
        return self.validity.valid_to


def version_in_force(versions: Sequence[CertificateVersion], as_of: dt.date) -> CertificateVersion:
    """Return the version in force on a date (see the module's rules)."""
    ordered = sorted(versions, key=lambda v: (v.effective_from, v.version))
    in_force = ordered[0]
    for version in ordered:
        if version.effective_from <= as_of:
            in_force = version
    return in_force


def end_date(versions: Sequence[CertificateVersion]) -> dt.date | None:
    """Return the end date set by the newest version."""
    newest = max(versions, key=lambda v: v.version)
    return newest.valid_to


def validity_status(valid_from: dt.date, valid_to: dt.date | None, on: dt.date) -> ValidityStatus:
    """Return valid, expired or not_yet_valid for a date."""
    if on < valid_from:
        return "not_yet_valid"
    if valid_to is not None and on > valid_to:
        return "expired"
    return "valid"


def in_force_on(versions: Sequence[CertificateVersion], day: dt.date) -> tuple[CertificateVersion, Validity] | None:
    """Return the version in force on ``day`` and the certificate's validity then, by the module's rules.

    Withdrawn versions are left out here, the one place; None when every version is withdrawn.
    """
    standing = [version for version in versions if version.withdrawn_at is None]
    if not standing:
        return None
    in_force = version_in_force(standing, day)
    return in_force, Validity.on(in_force.valid_from, end_date(standing), day)


@dataclass(frozen=True, slots=True)
class History:
    """One certificate with every version (withdrawn ones too), its program code and municipality."""

    certificate: Certificate
    versions: list[CertificateVersion]
    program_code: str
    municipality: tuple[str, str]


class Histories:
    """Certificates with all their versions, read at once, answerable for any date.

    For readers that need several dates (the 一括照会 takes each certificate as of the service date
    of its first read); one date for all is :func:`certificates_on`.
    """

    def __init__(self, found: dict[int, History]) -> None:
        self._found = found

    def __contains__(self, certificate_id: object) -> bool:
        return certificate_id in self._found

    def certificate(self, certificate_id: int) -> tuple[Certificate, str] | None:
        """Return a certificate that was read, with its program code, even when every version is withdrawn."""
        history = self._found.get(certificate_id)
        return (history.certificate, history.program_code) if history is not None else None

    def on(self, certificate_id: int, day: dt.date) -> CertificateOn | None:
        """Return the certificate as of ``day``; None when it was not read or every version is withdrawn."""
        history = self._found.get(certificate_id)
        found = in_force_on(history.versions, day) if history is not None else None
        if history is None or found is None:
            return None
        in_force, validity = found
        code, name = history.municipality
        return CertificateOn(history.certificate, in_force, validity, history.program_code, code, name)


def histories(session: Session, certificate_ids: Iterable[int]) -> Histories:
    """Read these certificates with every version, program code and municipality, in one query."""
    ids = sorted(set(certificate_ids))
    if not ids:
        return Histories({})
    municipality = Organisation.__table__.alias("municipality")
    query = (
        select(Certificate, CertificateVersion, Program.program_code, municipality.c.code, municipality.c.name)
        .join(CertificateVersion, CertificateVersion.certificate_id == Certificate.id)
        .join(Program, Program.id == Certificate.program_id)
        .join(municipality, municipality.c.id == Certificate.municipality_id)
        .where(in_values(session, Certificate.__table__.c.id, ids))
    )
    versions: dict[int, list[CertificateVersion]] = defaultdict(list)
    found: dict[int, History] = {}
    for certificate, version, program_code, code, name in session.execute(query):
        versions[certificate.id].append(version)
        if certificate.id not in found:
            found[certificate.id] = History(certificate, versions[certificate.id], program_code, (code, name))
    return Histories(found)


def certificates_on(session: Session, certificate_ids: Sequence[int], on: dt.date) -> list[CertificateOn]:
    """Return these certificates as of ``on``, in the order of ``certificate_ids`` (one query).

    A certificate id that does not exist, or whose every version is withdrawn, is left out.
    """
    read = histories(session, certificate_ids)
    found = (read.on(certificate_id, on) for certificate_id in dict.fromkeys(certificate_ids))
    return [state for state in found if state is not None]


def linked_certificates(session: Session, person_digests: Iterable[str]) -> dict[str, list[Certificate]]:
    """Return the linked certificates (never held or rejected ones) of these people, by person."""
    digests = sorted(set(person_digests))
    found: dict[str, list[Certificate]] = defaultdict(list)
    if digests:
        query = select(Certificate).where(
            in_values(session, Certificate.__table__.c.person_digest, digests), Certificate.link_status == "linked"
        )
        for certificate in session.scalars(query.order_by(Certificate.id)):
            found[certificate.person_digest].append(certificate)
    return found
