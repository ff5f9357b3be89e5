"""The reader flow and what institutions read: card sessions, consent, receptions, eligibility, 一括照会.

Every function that reads a person's data takes the :class:`Caller`, scopes its query to the
caller's organisation and writes one audit entry. Institutions see only what the patient consented
to share at their reader; a certificate not consented and one that does not exist look the same.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from pmh import clock
from pmh.audit import service as audit
from pmh.auth import limits
from pmh.auth.models import Organisation
from pmh.auth.schemas import Caller
from pmh.bulk import in_values
from pmh.cards import service as cards
from pmh.cards.models import InsuranceRecord
from pmh.codes.charsets import to_jisx0213
from pmh.codes.fiscal import month_bounds
from pmh.codes.text import normalize_text
from pmh.copay import ledger
from pmh.db import utcnow
from pmh.eligibility.claims import claim_order_key, designated_institution
from pmh.eligibility.models import CardSession, Reception, ReceptionCertificate, ReceptionDay
from pmh.eligibility.schemas import (
    CardSessionCreate,
    CardSessionRead,
    ConsentCreate,
    ConsentRead,
    EligibilityResult,
    InsuranceRead,
    OfferedCertificate,
    PatientCandidate,
    PatientLink,
    PersonRead,
    ReceptionRow,
    RecheckChange,
    RecheckItem,
    RecheckReport,
    SubsidyConsent,
    SubsidyRead,
)
from pmh.errors import Conflict, FieldError, InvalidInput, NotFound, PmhError
from pmh.reception import service as patients
from pmh.reception.models import Patient
from pmh.reference import catalogue
from pmh.registry.models import Certificate, CertificateVersion, Program
from pmh.registry.service import end_date, validity_status, version_in_force

JST = dt.timezone(dt.timedelta(hours=9), "JST")
CARD_SESSION_MINUTES = 10
"""How long a reader may wait for the patient's answer before the card must be placed again."""
STARTING_SOON_DAYS = 31
"""A certificate that starts within this many days is offered at the reader already."""
QUESTION = "以下の医療費助成受給者証があります。情報を提供しますか。"
NO_CERTIFICATES = "医療費助成の受給者証は登録されていません。"
_UNKNOWN_RECEPTION = "この受付は見つかりません。"


def today_in_japan(now: dt.datetime | None = None) -> dt.date:
    """Return the date in Japan (receptions, validity and months are kept by it)."""
    return clock.japan_date_of(now) if now is not None else clock.today()


# --- certificates as of a date ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CertificateState:
    """A certificate with the version in force on a date and what the claim needs around it."""

    certificate: Certificate
    program_code: str
    version: CertificateVersion
    valid_to: dt.date | None
    status: str


def _versions_of(session: Session, certificate_ids: Sequence[int]) -> dict[int, list[CertificateVersion]]:
    found: dict[int, list[CertificateVersion]] = defaultdict(list)
    if certificate_ids:
        # A withdrawn version (取消) is as if never issued: it is never in force nor sets an end date.
        query = select(CertificateVersion).where(
            in_values(session, CertificateVersion.__table__.c.certificate_id, list(certificate_ids)),
            CertificateVersion.withdrawn_at.is_(None),
        )
        for version in session.scalars(query):
            found[version.certificate_id].append(version)
    return found


def _program_codes(session: Session, program_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(program_ids))
    if not ids:
        return {}
    rows = session.execute(select(Program.id, Program.program_code).where(Program.id.in_(ids)))
    return {program_id: code for program_id, code in rows}


def state_of(
    certificate: Certificate, history: Sequence[CertificateVersion], program_code: str, on: dt.date
) -> CertificateState:
    """Return one certificate as of a date from its versions."""
    in_force = version_in_force(history, on)
    valid_to = end_date(history)
    return CertificateState(
        certificate, program_code, in_force, valid_to, validity_status(in_force.valid_from, valid_to, on)
    )


def _claim_order(state: CertificateState) -> tuple[int, int, str, str]:
    return claim_order_key(state.certificate.payer_number, state.certificate.recipient_number)


def states_on(
    session: Session, certificates: Sequence[Certificate], on: dt.date, programs: dict[int, str] | None = None
) -> list[CertificateState]:
    """Return each certificate as of a date, in claim order (公費1 first); ``programs`` if already known."""
    versions = _versions_of(session, [c.id for c in certificates])
    if programs is None:
        programs = _program_codes(session, (c.program_id for c in certificates))
    states = [state_of(c, versions[c.id], programs[c.program_id], on) for c in certificates if versions[c.id]]
    return sorted(states, key=_claim_order)


def _linked_certificates_of(session: Session, person_digest: str) -> list[Certificate]:
    return list(
        session.scalars(
            select(Certificate).where(Certificate.person_digest == person_digest, Certificate.link_status == "linked")
        )
    )


def _organisation_names(session: Session, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(Organisation.id, Organisation.code, Organisation.name).where(Organisation.id.in_(wanted))
    )
    return {row.id: (row.code, row.name) for row in rows}


# --- the reader: card session and consent -----------------------------------------------------


def _auth_details(caller: Caller, data: CardSessionCreate, refusal: PmhError | None = None) -> dict[str, Any]:
    """Return how the holder was authenticated and at which registered reader (audit details)."""
    details: dict[str, Any] = {"auth": data.auth}
    if caller.reader_name is not None:
        details["reader"] = caller.reader_name
    if data.auth == "face" and caller.face_device:
        details["face_device"] = True
    if refusal is not None:
        details["code"] = refusal.code
    return details


def open_card_session(
    session: Session, caller: Caller, data: CardSessionCreate, now: dt.datetime | None = None
) -> CardSessionRead:
    """Authenticate the card at the caller's reader and list the certificates to offer (names only).

    Offered are the holder's certificates that are linked (never held or rejected ones) and valid
    today or starting within :data:`STARTING_SOON_DAYS`. A refused card raises its
    :class:`~pmh.cards.service.CardRefused`, which keeps the wrong-PIN count committed.
    """
    now = now or utcnow()
    today = today_in_japan(now)
    if data.auth == "face" and not caller.face_device:
        not_face_device = cards.FaceNotAvailable(
            "このカードリーダーは顔認証付きカードリーダーとして登録されていないため、顔認証は使えません。"
            "暗証番号（数字4桁）で本人確認してください。"
        )
        details = _auth_details(caller, data, not_face_device)
        audit.record(session, caller, "card_session.refused", "card", data.card_serial[:32], details)
        raise not_face_device
    targets = [
        limits.Target("card_serial", normalize_text(data.card_serial).upper()),
        limits.Target("card_reader", f"{caller.organisation_id}:{caller.actor}"),
    ]
    limits.refuse_if_limited(session, targets, now)
    check = cards.authenticate_card(session, data.card_serial, data.auth, data.pin, data.face_matched, today)
    if check.identity is None:
        refusal = check.refusal or cards.CardRefused("カードによる本人確認ができませんでした。")
        audit.record(
            session, caller, "card_session.refused", "card", data.card_serial[:32], _auth_details(caller, data, refusal)
        )
        limits.note_failures(session, targets, now)
        raise refusal
    identity = check.identity
    states = [
        s
        for s in states_on(session, _linked_certificates_of(session, identity.person_digest), today)
        if s.status == "valid"
        or (s.status == "not_yet_valid" and s.version.valid_from <= today + dt.timedelta(days=STARTING_SOON_DAYS))
    ]
    card_session = CardSession(
        token=secrets.token_urlsafe(24),
        institution_id=caller.organisation_id,
        person_digest=identity.person_digest,
        card_serial=identity.card_serial,
        auth_method=data.auth,
        expires_at=now + dt.timedelta(minutes=CARD_SESSION_MINUTES),
        offered=json.dumps([{"key": str(i), "certificate_id": s.certificate.id} for i, s in enumerate(states, 1)]),
    )
    session.add(card_session)
    session.flush()
    audit.record(
        session,
        caller,
        "card_session.open",
        "card_session",
        str(card_session.id),
        _auth_details(caller, data) | {"offered_certificates": [s.certificate.id for s in states]},
    )
    names = _organisation_names(session, (s.certificate.municipality_id for s in states))
    offered = [
        OfferedCertificate(
            key=str(i),
            program_code=s.program_code,
            program_name=catalogue.program(s.program_code).name,
            municipality_name=names[s.certificate.municipality_id][1],
            status="valid" if s.status == "valid" else "not_yet_valid",
            valid_from=s.version.valid_from,
        )
        for i, s in enumerate(states, 1)
    ]
    return CardSessionRead(
        id=card_session.token,
        expires_at=card_session.expires_at,
        question=QUESTION if offered else NO_CERTIFICATES,
        certificates=offered,
    )


def _card_session(session: Session, caller: Caller, token: str) -> CardSession:
    card_session = session.scalar(
        select(CardSession)
        .where(CardSession.token == token, CardSession.institution_id == caller.organisation_id)
        .with_for_update()
    )
    if card_session is None:
        raise NotFound("このカードセッションは見つかりません。もう一度カードを置いてください。")
    return card_session


def _chosen(offered: list[dict[str, Any]], data: ConsentCreate) -> list[dict[str, Any]]:
    if data.subsidy == "all":
        return offered
    if data.subsidy == "none":
        return []
    if not data.selected:
        message = "個別に提供する場合は、提供する受給者証を1件以上選んでください。"
        raise InvalidInput(message, [FieldError("selected", "required", message)])
    by_key = {entry["key"]: entry for entry in offered}
    if any(key not in by_key for key in data.selected):
        # The same answer whatever was offered: the message names no key and counts nothing.
        message = "選ばれた受給者証は、この画面で提示したものではありません。"
        raise InvalidInput(message, [FieldError("selected", "not_offered", message)])
    keys = set(data.selected)
    return [entry for entry in offered if entry["key"] in keys]


def give_consent(
    session: Session, caller: Caller, token: str, data: ConsentCreate, now: dt.datetime | None = None
) -> ConsentRead:
    """Record the patient's answer and create the reception (受付) the institution will read.

    すべて提供 shares every offered certificate, 個別に提供 the chosen ones, 提供しない none (the
    reception still exists: the insurance check and the CR user list do not depend on it). A session
    answers once and only before it expires. A patient this institution linked before is linked to
    their patient number at once.
    """
    now = now or utcnow()
    card_session = _card_session(session, caller, token)
    if card_session.consented_at is not None:
        raise Conflict("このカードセッションでは回答済みです。")
    if now > card_session.expires_at:
        raise Conflict("カードセッションの有効期限が切れました。もう一度カードを置いてください。")
    offered: list[dict[str, Any]] = json.loads(card_session.offered)
    chosen = _chosen(offered, data)
    card_session.consented_at = now
    patient_id = patients.known_patient(session, caller.organisation_id, card_session.person_digest)
    received_on = today_in_japan(now)
    reception = Reception(
        day_number=_next_reception_number(session, caller.organisation_id, received_on),
        institution_id=caller.organisation_id,
        card_session_id=card_session.id,
        person_digest=card_session.person_digest,
        received_at=now,
        received_on=received_on,
        subsidy_consent=data.subsidy,
        patient_id=patient_id,
        link_method="auto" if patient_id is not None else None,
    )
    session.add(reception)
    session.flush()
    for order, entry in enumerate(chosen, 1):
        session.add(
            ReceptionCertificate(reception_id=reception.id, certificate_id=entry["certificate_id"], offered_order=order)
        )
    audit.record(
        session,
        caller,
        "consent.give",
        "reception",
        str(reception.id),
        {
            "subsidy": data.subsidy,
            "offered_certificates": [e["certificate_id"] for e in offered],
            "shared_certificates": [e["certificate_id"] for e in chosen],
        },
    )
    return ConsentRead(reception_id=reception.id, shared=len(chosen), reception_number=reception.day_number)


def _next_reception_number(session: Session, institution_id: int, day: dt.date) -> int:
    """Give out the institution's next 受付番号 of the day (1 for the day's first patient).

    The day's counter row is created once, then incremented by one UPDATE … RETURNING, which holds
    the row until commit: two readers of one institution never get the same number.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(ReceptionDay).values(institution_id=institution_id, day=day, last_number=0).on_conflict_do_nothing()
    )
    number = session.execute(
        update(ReceptionDay)
        .where(ReceptionDay.institution_id == institution_id, ReceptionDay.day == day)
        .values(last_number=ReceptionDay.last_number + 1)
        .returning(ReceptionDay.last_number)
    ).scalar_one()
    return int(number)


# --- eligibility ------------------------------------------------------------------------------


def _reception(session: Session, caller: Caller, reception_id: int) -> Reception:
    reception = session.get(Reception, reception_id)
    if reception is None or reception.institution_id != caller.organisation_id or reception.withdrawn_at is not None:
        # Another institution's reception, or one whose consent the patient withdrew, looks like none at all.
        raise NotFound(_UNKNOWN_RECEPTION)
    return reception


def _shared_certificates(
    session: Session, reception_ids: Sequence[int]
) -> dict[int, list[tuple[ReceptionCertificate, Certificate]]]:
    shared: dict[int, list[tuple[ReceptionCertificate, Certificate]]] = defaultdict(list)
    if not reception_ids:
        return shared
    rows = session.execute(
        select(ReceptionCertificate, Certificate)
        .join(Certificate, Certificate.id == ReceptionCertificate.certificate_id)
        .where(in_values(session, ReceptionCertificate.__table__.c.reception_id, list(reception_ids)))
        .order_by(ReceptionCertificate.reception_id, ReceptionCertificate.offered_order)
    )
    for link, certificate in rows:
        shared[link.reception_id].append((link, certificate))
    return shared


@dataclass(frozen=True, slots=True)
class _Shared:
    """A reception's consented certificates with their program codes and municipalities, read at once."""

    pairs: list[tuple[ReceptionCertificate, Certificate]]
    programs: dict[int, str]
    municipalities: dict[int, tuple[str, str]]


def _shared_with_names(session: Session, reception_id: int) -> _Shared:
    """Return one reception's consented certificates, program codes and municipality names in one query."""
    municipality = Organisation.__table__.alias("municipality")
    rows = session.execute(
        select(ReceptionCertificate, Certificate, Program.program_code, municipality.c.code, municipality.c.name)
        .join(Certificate, Certificate.id == ReceptionCertificate.certificate_id)
        .join(Program, Program.id == Certificate.program_id)
        .join(municipality, municipality.c.id == Certificate.municipality_id)
        .where(ReceptionCertificate.reception_id == reception_id)
        .order_by(ReceptionCertificate.offered_order)
    )
    shared = _Shared([], {}, {})
    for link, certificate, program_code, code, name in rows:
        shared.pairs.append((link, certificate))
        shared.programs[certificate.program_id] = program_code
        shared.municipalities[certificate.municipality_id] = (code, name)
    return shared


def _insurance(record: InsuranceRecord | None) -> InsuranceRead | None:
    if record is None:
        return None
    return InsuranceRead(
        insurer_number=record.insurer_number,
        symbol=record.symbol,
        number=record.number,
        branch=record.branch,
        copay_rate=record.copay_rate,
        valid_from=record.valid_from,
        valid_to=record.valid_to,
        relationship=record.relationship,
    )


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
    state: CertificateState,
    priority: int,
    municipality: tuple[str, str],
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
        municipality_code=municipality[0],
        municipality_name=municipality[1],
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
    reception = _reception(session, caller, reception_id)
    on = service_date or today_in_japan(now)
    shared = _shared_with_names(session, reception.id)
    pairs, names = shared.pairs, shared.municipalities
    visible = [certificate for _, certificate in pairs if certificate.link_status == "linked"]
    states = states_on(session, visible, on, shared.programs)
    record = cards.records_by_digest(session, [reception.person_digest]).get(reception.person_digest)
    used = ledger.used(session, [s.certificate.id for s in states], ledger.month_of(on), ("all", "outpatient"))
    subsidies = [
        subsidy_of(
            state,
            priority,
            names[state.certificate.municipality_id],
            caller.organisation_code,
            used[state.certificate.id],
            total_cost,
            record.copay_rate if record else None,
        )
        for priority, state in enumerate(states, 1)
    ]
    links = {certificate.id: link for link, certificate in pairs}
    for state, subsidy in zip(states, subsidies, strict=True):
        link = links[state.certificate.id]
        if link.first_read_at is None:
            link.first_read_at = now
            link.first_read = _snapshot(subsidy, on)
    audit.record(
        session,
        caller,
        "eligibility.read",
        "reception",
        str(reception.id),
        {
            "service_date": on,
            "format": result_format,
            "certificates": [s.certificate.id for s in states],
            "withheld": sorted(set(links) - {s.certificate.id for s in states}),
        },
    )
    return EligibilityResult(
        reception_id=reception.id,
        institution_code=caller.organisation_code,
        received_at=reception.received_at,
        service_date=on,
        person=_person(record, states[0].version if states else None),
        insurance=_insurance(record),
        subsidies=subsidies,
    )


def consented_certificate(
    session: Session, caller: Caller, reception_id: int, payer_number: str, recipient_number: str, on: dt.date
) -> tuple[Reception, CertificateState]:
    """Return the reception and the certificate it consented to share, as of a date.

    The proof an institution gives before it may write to or read a certificate's ledger; a
    certificate not consented here looks exactly like one that does not exist.
    """
    reception = _reception(session, caller, reception_id)
    shared = _shared_with_names(session, reception.id)
    for _, certificate in shared.pairs:
        key = (certificate.payer_number, certificate.recipient_number)
        if key == (payer_number, recipient_number) and certificate.link_status == "linked":
            for state in states_on(session, [certificate], on, shared.programs):  # none when withdrawn
                return reception, state
    raise NotFound("この受付で提供に同意された受給者証ではありません。")


def certificate_state(session: Session, certificate_id: int, on: dt.date) -> CertificateState:
    """Return one certificate as of a date (for a ledger line the caller has already been shown)."""
    states = states_on(session, [session.get_one(Certificate, certificate_id)], on)
    if not states:
        raise NotFound("この受給者証は取り消されています。")
    return states[0]


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


# --- the CR user list and the patient link (マイナ診察券) --------------------------------------


def _rows(session: Session, caller: Caller, receptions: Sequence[Reception]) -> list[ReceptionRow]:
    records = cards.records_by_digest(session, [r.person_digest for r in receptions])
    linked = patients.patients_by_id(session, (r.patient_id for r in receptions if r.patient_id is not None))
    shared = _shared_counts(session, [r.id for r in receptions])
    wanted = [
        (record.name_kana, record.birth_date)
        for r in receptions
        if r.patient_id is None and (record := records.get(r.person_digest)) is not None
    ]
    found = patients.candidates(session, caller.organisation_id, wanted)
    rows = []
    for reception in receptions:
        record = records.get(reception.person_digest)
        patient = linked.get(reception.patient_id) if reception.patient_id is not None else None
        matches = found.get((record.name_kana, record.birth_date), []) if record and patient is None else []
        rows.append(
            ReceptionRow(
                id=reception.id,
                number=reception.day_number,
                received_at=reception.received_at,
                name=record.name if record else "",
                name_kana=record.name_kana if record else "",
                birth_date=record.birth_date if record else None,
                sex=record.sex if record else None,
                insurance=_insurance(record),
                insurance_status=_insurance_status(record, reception.received_on),
                subsidy_consent=consent_as_shared(shared.get(reception.id, 0)),
                shared_certificates=shared.get(reception.id, 0),
                patient_number=patient.patient_number if patient else None,
                link_method=reception.link_method,
                candidates=[_candidate(m) for m in matches],
                patient=_candidate(patient) if patient else None,
            )
        )
    return rows


def _insurance_status(record: InsuranceRecord | None, day: dt.date) -> Literal["valid", "expired", "unconfirmed"]:
    """Return the insurance's standing on the reception day, as a 資格確認端末 colours it."""
    if record is None or (record.valid_from is not None and record.valid_from > day):
        return "unconfirmed"
    if record.valid_to is not None and record.valid_to < day:
        return "expired"
    return "valid"


def _candidate(patient: Patient) -> PatientCandidate:
    return PatientCandidate(
        patient_number=patient.patient_number,
        name=patient.name,
        name_kana=patient.name_kana,
        birth_date=patient.birth_date,
        sex=patient.sex,
    )


def consent_as_shared(shared: int) -> SubsidyConsent:
    """Return the consent as an institution sees it: ``all`` when anything was shared, else ``none``.

    The patient's own answer stays with the reception (and the operator's audit view): 個別に提供
    would tell the institution that more than one certificate was offered, and 提供しない with no
    certificate at all must look the same as declining every one.
    """
    return "all" if shared else "none"


def _shared_counts(session: Session, reception_ids: Sequence[int]) -> dict[int, int]:
    if not reception_ids:
        return {}
    rows = session.execute(
        select(ReceptionCertificate.reception_id, func.count())
        .where(in_values(session, ReceptionCertificate.__table__.c.reception_id, list(reception_ids)))
        .group_by(ReceptionCertificate.reception_id)
    )
    return {reception_id: count for reception_id, count in rows}


def list_receptions(session: Session, caller: Caller, day: dt.date | None = None, after: int = 0) -> list[ReceptionRow]:
    """Return the day's 顔認証付きCR利用者リスト of the caller's institution, in arrival order (audited).

    With ``after``, only receptions newer than that one (the desk's poll for arrivals); a poll that
    finds nobody has read nobody's data and writes no audit entry.
    """
    day = day or today_in_japan()
    query = select(Reception).where(
        Reception.institution_id == caller.organisation_id,
        Reception.received_on == day,
        Reception.withdrawn_at.is_(None),
    )
    if after:
        query = query.where(Reception.id > after)
    receptions = list(session.scalars(query.order_by(Reception.received_at, Reception.id)))
    if after and not receptions:
        return []
    rows = _rows(session, caller, receptions)
    audit.record(
        session,
        caller,
        "reception.list",
        "reception",
        [str(r.id) for r in receptions][:50],
        {"date": day, "count": len(rows), **({"after": after} if after else {})},
    )
    return rows


def reception_row(session: Session, caller: Caller, reception_id: int) -> ReceptionRow:
    """Return one row of the CR user list (audited)."""
    reception = _reception(session, caller, reception_id)
    audit.record(session, caller, "reception.read", "reception", str(reception.id))
    return _rows(session, caller, [reception])[0]


class PatientMismatch(Conflict):
    """The chosen patient's name, kana, birth date or sex differ from the person who came (確認が必要)."""

    code = "patient_mismatch"
    title = "受付の方と患者の情報が一致しません"


def _facts(record: InsuranceRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {"name": record.name, "name_kana": record.name_kana, "birth_date": record.birth_date, "sex": record.sex}


def _mismatch(
    reception: Reception, patient: Patient, facts: dict[str, Any] | None, found: list[str]
) -> PatientMismatch:
    labels = "・".join(patients.FIELD_LABELS[name] for name in found)
    message = (
        f"患者番号 {patient.patient_number}（{patient.name}）は受付の方と{labels}が異なります。"
        "別の方と紐づけると、次回から自動で誤った患者に紐づきます。"
        "本人であることを確かめたうえで、確認して紐づけてください。"
    )
    extensions = {
        "reception": jsonable(facts or {}),
        "patient": jsonable({"patient_number": patient.patient_number, **patients.person_facts(patient)}),
        "differences": found,
    }
    return PatientMismatch(message, [FieldError("patient_number", "patient_mismatch", message)], extensions=extensions)


def jsonable(values: dict[str, Any]) -> dict[str, Any]:
    """Return a dict whose dates are ISO strings (for problem-detail extensions)."""
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in values.items()}


def link_patient(session: Session, caller: Caller, reception_id: int, data: PatientLink) -> ReceptionRow:
    """Link a reception to the institution's patient registry, by an existing or a new patient number.

    The person's other unlinked receptions at this institution follow, and so will their next ones
    (automatically, at consent). A patient number tied to another person is refused. When the
    registry's name, kana, birth date or sex differ from the person who came, the link is refused
    with :class:`PatientMismatch` unless the clerk confirms (``confirm``); a confirmed link is
    audited with the differences.
    """
    reception = _reception(session, caller, reception_id)
    record = cards.records_by_digest(session, [reception.person_digest]).get(reception.person_digest)
    found_differences: list[str] = []
    if data.register_new:
        if record is None:
            raise Conflict("保険資格が確認できないため、この受付から患者を新規登録できません。")
        patient = patients.register_patient(session, caller.organisation_id, data.patient_number, _facts(record) or {})
        method = "new"
    else:
        found = patients.patient_by_number(session, caller.organisation_id, data.patient_number)
        if found is None:
            message = (
                f"患者番号 {data.patient_number} は患者受付登録一覧にありません。"
                "新しい患者として登録する場合は「新規登録」を選んでください。"
            )
            raise NotFound(message, [FieldError("patient_number", "unknown_patient", message)])
        patient, method = found, "staff"
        found_differences = patients.differences(patient, _facts(record))
        if found_differences and not data.confirm:
            raise _mismatch(reception, patient, _facts(record), found_differences)
    patients.link_person(session, patient, reception.person_digest)
    same_person = session.scalars(
        select(Reception).where(
            Reception.institution_id == caller.organisation_id,
            Reception.person_digest == reception.person_digest,
            (Reception.patient_id.is_(None)) | (Reception.id == reception.id),
            Reception.withdrawn_at.is_(None),
        )
    )
    linked = []
    for other in same_person:
        other.patient_id = patient.id
        other.link_method = method if other.id == reception.id else "auto"
        other.linked_by = caller.actor
        linked.append(str(other.id))
    session.flush()
    details: dict[str, Any] = {"patient_id": patient.id, "method": method}
    if found_differences:
        details["confirmed_differences"] = found_differences
    audit.record(session, caller, "reception.link", "reception", linked, details)
    return _rows(session, caller, [reception])[0]


@dataclass(frozen=True)
class LinkPreview:
    """The registry's patient a clerk is about to link, and what differs from the person who came."""

    patient: PatientCandidate
    differences: list[str]


def preview_link(session: Session, caller: Caller, reception_id: int, patient_number: str) -> LinkPreview:
    """Return the institution's patient under ``patient_number`` beside the reception, before linking (audited)."""
    reception = _reception(session, caller, reception_id)
    patient = patients.patient_by_number(session, caller.organisation_id, patient_number)
    if patient is None:
        message = (
            f"患者番号 {patient_number} は患者受付登録一覧にありません。"
            "新しい患者として登録する場合は「新規登録」を選んでください。"
        )
        raise NotFound(message, [FieldError("patient_number", "unknown_patient", message)])
    record = cards.records_by_digest(session, [reception.person_digest]).get(reception.person_digest)
    audit.record(session, caller, "patient.read", "patient", str(patient.id), {"reception_id": reception.id})
    return LinkPreview(_candidate(patient), patients.differences(patient, _facts(record)))


def unlink_patient(session: Session, caller: Caller, reception_id: int) -> ReceptionRow:
    """Undo a reception's patient-number link; the person's next card tap no longer links by itself.

    Every reception of the same person at this institution that points at the same patient is
    unlinked too (they were linked automatically from this one), and the registry row forgets the
    person. Audited as ``reception.unlink``.
    """
    reception = _reception(session, caller, reception_id)
    if reception.patient_id is None:
        message = "この受付は患者番号と紐づいていません。"
        raise Conflict(message, [FieldError("patient_number", "not_linked", message)])
    patient_id = reception.patient_id
    patient = patients.patients_by_id(session, [patient_id]).get(patient_id)
    same_link = session.scalars(
        select(Reception).where(
            Reception.institution_id == caller.organisation_id,
            Reception.person_digest == reception.person_digest,
            Reception.patient_id == patient_id,
        )
    )
    unlinked = []
    for other in same_link:
        other.patient_id = None
        other.link_method = None
        other.linked_by = None
        unlinked.append(str(other.id))
    if patient is not None:
        patients.unlink_person(session, patient, reception.person_digest)
    session.flush()
    audit.record(session, caller, "reception.unlink", "reception", unlinked, {"patient_id": patient_id})
    return _rows(session, caller, [reception])[0]


# --- 一括照会: the monthly re-check before the claim ---------------------------------------------


def _changes(before: dict[str, Any], now: SubsidyRead | None, successors: list[Certificate]) -> list[RecheckChange]:
    if now is None:
        return [
            RecheckChange(
                kind="withdrawn",
                field="certificate",
                before=before["recipient_number"],
                message="自治体がこの受給者証の情報を取り下げました（確認中または削除）。",
            )
        ]
    after = now.model_dump(mode="json")
    changes = []
    if before.get("valid_to") != after["valid_to"] or (before["status"] != "expired" and now.status == "expired"):
        ended = after["valid_to"]
        message = f"有効期間の終了日が {ended} になりました。" if ended else "有効期間の終了日がなくなりました。"
        if now.status == "expired":
            message += "受付日には有効期間外です。"
        changes.append(
            RecheckChange(kind="ended", field="valid_to", before=before.get("valid_to"), after=ended, message=message)
        )
    for field in ("monthly_cap", "inpatient_cap"):
        if before.get(field) != after[field]:
            label = "自己負担上限額（月額）" if field == "monthly_cap" else "入院の自己負担上限額"
            message = f"{label}が {before.get(field)} 円から {after[field]} 円に変わりました。"
            changes.append(
                RecheckChange(
                    kind="new_cap", field=field, before=before.get(field), after=after[field], message=message
                )
            )
    if before.get("valid_from") != after["valid_from"]:
        message = f"有効期間の開始日が {after['valid_from']} に変わりました。"
        changes.append(
            RecheckChange(
                kind="changed",
                field="valid_from",
                before=before.get("valid_from"),
                after=after["valid_from"],
                message=message,
            )
        )
    for successor in successors:
        numbers = f"{successor.payer_number} / {successor.recipient_number}"
        changes.append(
            RecheckChange(
                kind="new_number",
                field="recipient_number",
                before=f"{before['payer_number']} / {before['recipient_number']}",
                after=numbers,
                message=(
                    f"同じ制度の新しい受給者証（公費負担者番号 / 受給者番号 {numbers}）が登録されています。"
                    "請求には新しい番号を使ってください。"
                ),
            )
        )
    return changes


def _successors(session: Session, digests: Sequence[str]) -> dict[tuple[str, int], list[Certificate]]:
    """Return the linked certificates of these people by (person, program), for the new-number check."""
    found: dict[tuple[str, int], list[Certificate]] = defaultdict(list)
    if digests:
        query = select(Certificate).where(
            in_values(session, Certificate.__table__.c.person_digest, list(digests)),
            Certificate.link_status == "linked",
        )
        for certificate in session.scalars(query):
            found[(certificate.person_digest, certificate.program_id)].append(certificate)
    return found


@dataclass
class _Recheck:
    """The month's data, loaded in bulk once."""

    receptions: dict[int, Reception]
    shared: dict[int, list[tuple[ReceptionCertificate, Certificate]]]
    versions: dict[int, list[CertificateVersion]]
    programs: dict[int, str]
    municipalities: dict[int, tuple[str, str]]
    others: dict[tuple[str, int], list[Certificate]]


def _load_month(session: Session, caller: Caller, first: dt.date, last: dt.date) -> _Recheck:
    receptions = {
        r.id: r
        for r in session.scalars(
            select(Reception).where(
                Reception.institution_id == caller.organisation_id,
                Reception.received_on >= first,
                Reception.received_on <= last,
                Reception.subsidy_consent != "none",
                Reception.withdrawn_at.is_(None),
            )
        )
    }
    shared = _shared_certificates(session, list(receptions))
    others = _successors(session, sorted({r.person_digest for r in receptions.values()}))
    certificates = {c.id: c for pairs in shared.values() for _, c in pairs}
    certificates |= {c.id: c for group in others.values() for c in group}
    return _Recheck(
        receptions=receptions,
        shared=shared,
        versions=_versions_of(session, list(certificates)),
        programs=_program_codes(session, (c.program_id for c in certificates.values())),
        municipalities=_organisation_names(session, (c.municipality_id for c in certificates.values())),
        others=others,
    )


def recheck(session: Session, caller: Caller, month: str) -> RecheckReport:
    """Re-check every reception of the month that still has consent: what changed since first read (一括照会).

    Each consented certificate is taken again as of the service date of its first read and compared
    with what the institution received then: ended, a new cap, a withdrawn certificate, and a new
    certificate of the same program for the same person (a new number at renewal). A new certificate
    the municipality marked not to disclose is never reported here: it reaches an institution only
    through the patient's own card session. Certificates never read are skipped (their first read
    will already be current).
    """
    first, last = month_bounds(month)
    data = _load_month(session, caller, first, last)
    items: list[RecheckItem] = []
    checked = 0
    for reception_id, pairs in sorted(data.shared.items()):
        reception = data.receptions[reception_id]
        consented = {c.id for _, c in pairs}
        for link, certificate in pairs:
            if link.first_read is None or link.first_read_at is None:
                continue
            checked += 1
            before = json.loads(link.first_read)
            on = dt.date.fromisoformat(before["service_date"])
            now = None
            if certificate.link_status == "linked" and data.versions[certificate.id]:
                state = state_of(certificate, data.versions[certificate.id], data.programs[certificate.program_id], on)
                municipality = data.municipalities[certificate.municipality_id]
                now = subsidy_of(state, 0, municipality, caller.organisation_code)
            successors = [
                other
                for other in data.others[(certificate.person_digest, certificate.program_id)]
                if other.id not in consented
                and _disclosed_and_valid(data, other, on)
                and (now is None or now.status == "expired" or other.created_at > link.first_read_at)
            ]
            changes = _changes(before, now, successors)
            if changes:
                items.append(
                    RecheckItem(
                        reception_id=reception_id,
                        received_on=reception.received_on,
                        patient_number=None,
                        program_code=data.programs[certificate.program_id],
                        payer_number=certificate.payer_number,
                        recipient_number=certificate.recipient_number,
                        changes=changes,
                    )
                )
    numbers = patients.patients_by_id(session, (r.patient_id for r in data.receptions.values() if r.patient_id))
    for item in items:
        patient_id = data.receptions[item.reception_id].patient_id
        item.patient_number = numbers[patient_id].patient_number if patient_id in numbers else None
    audit.record(
        session,
        caller,
        "eligibility.recheck",
        "reception",
        [str(i) for i in sorted(data.shared)][:50],
        {"month": month, "receptions": len(data.shared), "certificates": checked, "changed": len(items)},
    )
    return RecheckReport(
        month=month, receptions_checked=len(data.shared), certificates_checked=checked, changed=len(items), items=items
    )


def _disclosed_and_valid(data: _Recheck, certificate: Certificate, on: dt.date) -> bool:
    history = data.versions.get(certificate.id)
    if not history:
        return False
    state = state_of(certificate, history, data.programs[certificate.program_id], on)
    return state.status == "valid" and not state.version.not_disclosed


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
