"""The institution's CR user list (顔認証付きCR利用者リスト) and the patient link (マイナ診察券).

Each reception of the day is a row with the person's insurance facts, the count of certificates
shared (never which were withheld) and the institution's own patient number once linked. Linking
guards against the wrong patient: differing facts need the clerk's confirmation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmh.audit import service as audit
from pmh.auth.schemas import Caller
from pmh.bulk import in_values
from pmh.cards import service as cards
from pmh.cards.models import InsuranceRecord
from pmh.eligibility.common import insurance_read, reception_of, today_in_japan
from pmh.eligibility.models import Reception, ReceptionCertificate
from pmh.eligibility.schemas import PatientCandidate, PatientLink, ReceptionRow, SubsidyConsent
from pmh.errors import Conflict, FieldError, NotFound
from pmh.reception import service as patients
from pmh.reception.models import Patient


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
                insurance=insurance_read(record),
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
    reception = reception_of(session, caller, reception_id)
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
    reception = reception_of(session, caller, reception_id)
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
    reception = reception_of(session, caller, reception_id)
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
    reception = reception_of(session, caller, reception_id)
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
