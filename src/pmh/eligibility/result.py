"""What an institution reads: the eligibility result of a reception, and the proof of consent behind it.

Every function that reads a person's data takes the :class:`Caller`, scopes its query to the
caller's organisation and writes one audit entry. Institutions see only what the patient consented
to share at their reader; a certificate not consented and one that does not exist look the same.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmh.audit import service as audit
from pmh.auth.schemas import Caller
from pmh.cards import service as cards
from pmh.cards.models import InsuranceRecord
from pmh.codes.charsets import to_jisx0213
from pmh.copay import ledger
from pmh.db import utcnow
from pmh.eligibility.claims import designated_institution, in_claim_order
from pmh.eligibility.common import insurance_read, reception_of, today_in_japan
from pmh.eligibility.models import Reception, ReceptionCertificate
from pmh.eligibility.schemas import EligibilityResult, PersonRead, SubsidyRead
from pmh.errors import NotFound
from pmh.reference import catalogue
from pmh.registry import asof
from pmh.registry.asof import CertificateOn
from pmh.registry.models import Certificate, CertificateVersion

OUTPATIENT_LEDGERS = ("all", "outpatient")
"""The ledgers whose month total counts against the monthly cap the result shows."""


def _links(session: Session, reception_id: int) -> list[ReceptionCertificate]:
    """Return what the reception's patient consented to share, in the order it was offered."""
    query = select(ReceptionCertificate).where(ReceptionCertificate.reception_id == reception_id)
    return list(session.scalars(query.order_by(ReceptionCertificate.offered_order)))


def _person(record: InsuranceRecord | None, fallback: CertificateVersion | None) -> PersonRead:
    """Return the patient as the insurance record names them, else as the first certificate does."""
    source: InsuranceRecord | CertificateVersion | None = record or fallback
    if source is None:
        # Neither an insurance record nor a shared certificate: nothing to answer with.
        raise NotFound("この方の保険資格が確認できませんでした（資格情報がありません）。")
    return PersonRead(
        name=source.name,
        name_kana=source.name_kana,
        birth_date=source.birth_date,
        sex=source.sex,
        name_jisx0213=to_jisx0213(source.name)[0],
    )


def _split(text: str) -> list[str]:
    return [part for part in text.split(";") if part]


def subsidy_of(
    state: CertificateOn,
    priority: int,
    institution_code: str,
    used: int = 0,
    total_cost: int | None = None,
    insurance_rate: int | None = None,
) -> SubsidyRead:
    """Return one certificate as the eligibility result carries it.

    ``used`` is what the month's ledger already holds (outpatient side); with ``total_cost`` the
    result suggests what to charge: the certificate's rate (else the insurance's) applied to the
    cost, at most what remains under the cap.
    """
    version = state.version
    remaining = max(version.monthly_cap - used, 0) if version.monthly_cap is not None else None
    rate = version.copay_rate if version.copay_rate is not None else insurance_rate
    suggestion = None if total_cost is None else ledger.suggested_copay(total_cost, rate, remaining)
    return SubsidyRead(
        program_code=state.program_code,
        program_name=catalogue.program(state.program_code).name,
        payer_number=state.certificate.payer_number,
        recipient_number=state.certificate.recipient_number,
        municipality_code=state.municipality_code,
        municipality_name=state.municipality_name,
        valid_from=version.valid_from,
        valid_to=state.valid_to,
        status=state.status,
        monthly_cap=version.monthly_cap,
        inpatient_cap=version.inpatient_cap,
        copay_rate=version.copay_rate,
        income_category=version.income_category,
        cap_managed=version.cap_managed,
        cap_used_this_month=used if remaining is not None else None,
        cap_remaining_this_month=remaining,
        diseases=_split(version.diseases),
        designated_institution=designated_institution(
            state.program_code, _split(version.designated_institutions), institution_code
        ),
        always_reimbursement=version.always_reimbursement,
        additional_conditions=json.loads(version.additional_conditions or "{}"),
        priority=priority,
        suggested_copay=suggestion,
        certification_name=version.certification_name,
    )


SNAPSHOT_FIELDS = (
    "payer_number",
    "recipient_number",
    "valid_from",
    "valid_to",
    "status",
    "monthly_cap",
    "inpatient_cap",
)


def _snapshot(subsidy: SubsidyRead, service_date: dt.date) -> str:
    """Return what the 一括照会 later compares: the numbers, the validity and the caps as first read."""
    snapshot = subsidy.model_dump(mode="json", include=set(SNAPSHOT_FIELDS))
    snapshot["service_date"] = service_date.isoformat()
    return json.dumps(snapshot, sort_keys=True)


@dataclass(frozen=True, slots=True)
class Loaded:
    """What one eligibility read needs from the database, however it was read (see :func:`compose`)."""

    reception_id: int
    received_at: dt.datetime
    first_read: dict[int, bool]
    """Per consented certificate id: whether its first read is already kept."""
    states: list[CertificateOn]
    """The consented certificates still linked, as of the service date, in claim order."""
    record: InsuranceRecord | None
    used: dict[int, int]
    """Per certificate: the month's recorded copay total (outpatient side)."""


@dataclass(frozen=True, slots=True)
class Composed:
    """The answer of one read, the first reads to keep and what the audit entry says."""

    result: EligibilityResult
    first_reads: dict[int, str]
    """Certificate id → the snapshot to keep as its first read (only those not kept yet)."""
    audit_detail: dict[str, Any]


def compose(loaded: Loaded, caller: Caller, on: dt.date, result_format: str, total_cost: int | None = None) -> Composed:
    """Return the eligibility result from what was loaded: the one place its rules are applied.

    Both read paths (the general one below and the PostgreSQL one in
    :mod:`pmh.eligibility.fastread`) load the same :class:`Loaded` and call this.
    """
    record, states = loaded.record, loaded.states
    subsidies = [
        subsidy_of(
            state,
            priority,
            caller.organisation_code,
            loaded.used.get(state.certificate.id, 0),
            total_cost,
            record.copay_rate if record else None,
        )
        for priority, state in enumerate(states, 1)
    ]
    first_reads = {
        state.certificate.id: _snapshot(subsidy, on)
        for state, subsidy in zip(states, subsidies, strict=True)
        if not loaded.first_read[state.certificate.id]
    }
    shown = [s.certificate.id for s in states]
    detail = {
        "service_date": on,
        "format": result_format,
        "certificates": shown,
        "withheld": sorted(set(loaded.first_read) - set(shown)),
    }
    result = EligibilityResult(
        reception_id=loaded.reception_id,
        institution_code=caller.organisation_code,
        received_at=loaded.received_at,
        service_date=on,
        person=_person(record, states[0].version if states else None),
        insurance=insurance_read(record),
        subsidies=subsidies,
    )
    return Composed(result, first_reads, detail)


def eligibility(
    session: Session,
    caller: Caller,
    reception_id: int,
    service_date: dt.date | None = None,
    result_format: str = "json",
    now: dt.datetime | None = None,
    total_cost: int | None = None,
) -> EligibilityResult:
    """Return the insurance result and the consented certificates of a reception, as of a service date.

    Only the institution that received the patient may read it, and only the certificates consented
    at its reader that are still linked; the rest is absent, without a reason (the audit entry
    names what was returned and what was withheld). The first read of each certificate is kept for
    the monthly 一括照会.
    """
    now = now or utcnow()
    reception = reception_of(session, caller, reception_id)
    on = service_date or today_in_japan(now)
    links = {link.certificate_id: link for link in _links(session, reception.id)}
    states = in_claim_order(
        s for s in asof.certificates_on(session, list(links), on) if s.certificate.link_status == "linked"
    )
    record = cards.records_by_digest(session, [reception.person_digest]).get(reception.person_digest)
    used = ledger.used(session, [s.certificate.id for s in states], ledger.month_of(on), OUTPATIENT_LEDGERS)
    first_read = {certificate_id: link.first_read_at is not None for certificate_id, link in links.items()}
    loaded = Loaded(reception.id, reception.received_at, first_read, states, record, used)
    composed = compose(loaded, caller, on, result_format, total_cost)
    for certificate_id, snapshot in composed.first_reads.items():
        links[certificate_id].first_read_at = now
        links[certificate_id].first_read = snapshot
    audit.record(session, caller, "eligibility.read", "reception", str(reception.id), composed.audit_detail)
    return composed.result


def consented_certificate(
    session: Session, caller: Caller, reception_id: int, payer_number: str, recipient_number: str, on: dt.date
) -> tuple[Reception, CertificateOn]:
    """Return the reception and the certificate it consented to share, as of a date.

    The proof an institution gives before it may write to or read a certificate's ledger; a
    certificate not consented here looks exactly like one that does not exist.
    """
    reception = reception_of(session, caller, reception_id)
    links = _links(session, reception.id)
    for state in asof.certificates_on(session, [link.certificate_id for link in links], on):
        key = (state.certificate.payer_number, state.certificate.recipient_number)
        if key == (payer_number, recipient_number) and state.certificate.link_status == "linked":
            return reception, state
    raise NotFound("この受付で提供に同意された受給者証ではありません。")


def certificate_state(session: Session, certificate_id: int, on: dt.date) -> CertificateOn:
    """Return one certificate as of a date (for a ledger line the caller has already been shown)."""
    found = asof.certificates_on(session, [certificate_id], on)
    if not found:  # every version withdrawn (取消)
        raise NotFound("この受給者証は取り消されています。")
    return found[0]


def consenting(session: Session, caller: Caller, certificate_id: int) -> bool:
    """Return whether any reception of the caller's institution has consent to share this certificate."""
    found = session.scalar(
        select(ReceptionCertificate.id)
        .join(Reception, Reception.id == ReceptionCertificate.reception_id)
        .where(
            ReceptionCertificate.certificate_id == certificate_id,
            Reception.institution_id == caller.organisation_id,
            Reception.withdrawn_at.is_(None),
        )
        .limit(1)
    )
    return found is not None


def insurance_rate(session: Session, person_digest: str) -> int | None:
    """Return the person's insurance copay rate (%), if the insurance record has one."""
    record = cards.records_by_digest(session, [person_digest]).get(person_digest)
    return record.copay_rate if record else None


def first_reads_by_program(session: Session) -> dict[int, dt.datetime]:
    """Return, per program id, when an institution first read one of its certificates (counts only).

    This is what "the program is live" means for the onboarding readiness: an eligibility read
    returned one of its certificates to an institution.
    """
    stmt = (
        select(Certificate.program_id, func.min(ReceptionCertificate.first_read_at))
        .join(Certificate, Certificate.id == ReceptionCertificate.certificate_id)
        .where(ReceptionCertificate.first_read_at.is_not(None))
        .group_by(Certificate.program_id)
    )
    found: dict[int, dt.datetime] = {}
    for program_id, first in session.execute(stmt):
        if first is None:
            continue
        if isinstance(first, str):
            first = dt.datetime.fromisoformat(first)
        found[program_id] = first if first.tzinfo else first.replace(tzinfo=dt.UTC)
    return found
