"""The institution's patient registry (患者受付登録一覧): import, look-ups and the person link.

A patient row belongs to one institution and is named by that institution's patient number. When a
reception is linked to it, the row keeps the person's My Number digest, so the same person's next
card tap at the same institution links by itself (マイナ診察券).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh.audit import service as audit
from pmh.auth.schemas import Caller
from pmh.codes.text import is_katakana, normalize_digits, normalize_kana, normalize_text
from pmh.codes.wareki import DateFormatError, parse_date
from pmh.csvfiles import rows_under_header, text_stream
from pmh.errors import Conflict, FieldError, InvalidInput
from pmh.reception.models import Patient
from pmh.reception.schemas import PATIENT_COLUMN_LABELS, PATIENT_COLUMNS, PatientImportResult, PatientRead
from pmh.registry.parsing import detect_encoding, today_in_japan

_PATIENT_NUMBER = re.compile(r"[0-9A-Za-z\-]{1,20}")
_SEX = {"1": 1, "2": 2, "男": 1, "女": 2, "男性": 1, "女性": 2}
MAX_ERRORS = 1000


def normalize_patient_number(value: str) -> str:
    """Return a patient number with full-width characters folded and surrounding spaces dropped."""
    return normalize_text(value).replace(" ", "")


def known_patient(session: Session, institution_id: int, person_digest: str) -> int | None:
    """Return the id of the institution's patient this person was linked to before, if any."""
    return session.scalar(
        select(Patient.id).where(Patient.institution_id == institution_id, Patient.person_digest == person_digest)
    )


def patient_by_number(session: Session, institution_id: int, patient_number: str) -> Patient | None:
    """Return the institution's patient with this patient number, if registered."""
    return session.scalar(
        select(Patient).where(
            Patient.institution_id == institution_id,
            Patient.patient_number == normalize_patient_number(patient_number),
        )
    )


def patients_by_id(session: Session, ids: Iterable[int]) -> dict[int, Patient]:
    """Return patients by id (for the CR user list)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {p.id: p for p in session.scalars(select(Patient).where(Patient.id.in_(wanted)))}


def candidates(
    session: Session, institution_id: int, people: Sequence[tuple[str, dt.date]]
) -> dict[tuple[str, dt.date], list[Patient]]:
    """Return, per (kana, birth date), the not-yet-linked patients with the same kana and birth date.

    Kana are compared after normalisation (width, small kana, spaces), which is how a reception
    desk would recognise the person in its own list.
    """
    births = sorted({birth for _, birth in people})
    found: dict[tuple[str, dt.date], list[Patient]] = {key: [] for key in people}
    if not births:
        return found
    rows = session.scalars(
        select(Patient)
        .where(
            Patient.institution_id == institution_id, Patient.birth_date.in_(births), Patient.person_digest.is_(None)
        )
        .order_by(Patient.patient_number)
    )
    wanted = {(_kana_key(kana), birth): (kana, birth) for kana, birth in people}
    for patient in rows:
        key = wanted.get((_kana_key(patient.name_kana), patient.birth_date))
        if key is not None:
            found[key].append(patient)
    return found


def _kana_key(kana: str) -> str:
    return normalize_kana(kana).replace(" ", "").replace("\u3000", "")


PERSON_FIELDS = ("name", "name_kana", "birth_date", "sex")
"""What a reception desk compares before linking: 氏名, カナ氏名, 生年月日, 性別."""
FIELD_LABELS = {"name": "氏名", "name_kana": "カナ氏名", "birth_date": "生年月日", "sex": "性別"}


def person_facts(patient: Patient) -> dict[str, Any]:
    """Return the registry's name, kana, birth date and sex of a patient row."""
    return {name: getattr(patient, name) for name in PERSON_FIELDS}


def differences(patient: Patient, facts: dict[str, Any] | None) -> list[str]:
    """Return which of name, kana, birth date and sex differ between a patient row and a person.

    Names are compared as a desk would read them: width, small kana and spaces do not count.
    Without the person's facts (no insurance record) everything counts as unverified.
    """
    if facts is None:
        return list(PERSON_FIELDS)
    found = []
    if _name_key(patient.name) != _name_key(facts.get("name") or ""):
        found.append("name")
    if _kana_key(patient.name_kana) != _kana_key(facts.get("name_kana") or ""):
        found.append("name_kana")
    if patient.birth_date != facts.get("birth_date"):
        found.append("birth_date")
    if patient.sex is not None and facts.get("sex") is not None and patient.sex != facts.get("sex"):
        found.append("sex")
    return found


def _name_key(name: str) -> str:
    return normalize_text(name).replace(" ", "").replace("\u3000", "")


def unlink_person(session: Session, patient: Patient, person_digest: str) -> None:
    """Untie a patient row from a person, so the person's next card tap no longer links to it."""
    if patient.person_digest == person_digest:
        patient.person_digest = None


def link_person(session: Session, patient: Patient, person_digest: str) -> None:
    """Tie a patient row to a person, moving the tie from any other row of the same institution.

    A row already tied to a different person is refused: one patient number is one person.
    """
    if patient.person_digest not in (None, person_digest):
        raise Conflict(
            f"患者番号 {patient.patient_number} は別の方のマイナンバーカードと紐づいています。"
            "患者番号を確認してください。"
        )
    previous = session.scalars(
        select(Patient).where(
            Patient.institution_id == patient.institution_id,
            Patient.person_digest == person_digest,
            Patient.id != patient.id,
        )
    )
    for other in previous:
        other.person_digest = None  # a correction by staff: the person is this patient, not that one
    patient.person_digest = person_digest


def register_patient(session: Session, institution_id: int, patient_number: str, facts: dict[str, Any]) -> Patient:
    """Add a new patient under a new patient number (name, kana, birth date and sex from ``facts``)."""
    number = normalize_patient_number(patient_number)
    _check_patient_number(number, None)
    if patient_by_number(session, institution_id, number) is not None:
        raise Conflict(
            f"患者番号 {number} はすでに登録されています。既存の患者と紐づける場合は新規登録を外してください。"
        )
    patient = Patient(institution_id=institution_id, patient_number=number, person_digest=None, **facts)
    session.add(patient)
    session.flush()
    return patient


def _check_patient_number(number: str, row: int | None) -> FieldError | None:
    if _PATIENT_NUMBER.fullmatch(number):
        return None
    error = FieldError(
        "patient_number", "invalid_patient_number", "患者番号は英数字とハイフン20文字以内で入力してください。", row
    )
    if row is None:
        raise InvalidInput(error.message, [error])
    return error


def list_patients(session: Session, caller: Caller, query: str = "", limit: int = 200) -> list[PatientRead]:
    """Return the caller's registered patients, optionally filtered by number, name or kana (audited)."""
    stmt = select(Patient).where(Patient.institution_id == caller.organisation_id)
    text = normalize_text(query)
    if text:
        kana = normalize_kana(text)
        like = f"%{text}%"
        stmt = stmt.where(
            (Patient.patient_number == text) | Patient.name.like(like) | Patient.name_kana.like(f"%{kana}%")
        )
    rows = list(session.scalars(stmt.order_by(Patient.patient_number).limit(limit)))
    audit.record(session, caller, "patient.list", "patient", [str(p.id) for p in rows][:20], {"count": len(rows)})
    return [patient_read(p) for p in rows]


def patient_read(patient: Patient) -> PatientRead:
    """Return the API shape of a patient row."""
    return PatientRead(
        patient_number=patient.patient_number,
        name=patient.name,
        name_kana=patient.name_kana,
        birth_date=patient.birth_date,
        sex=patient.sex,
        linked=patient.person_digest is not None,
    )


# --- the CSV import ---------------------------------------------------------------------------


@dataclass
class _Import:
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)


def _lines(data: bytes) -> Iterator[tuple[int, dict[str, str]]]:
    text = data.decode(detect_encoding(data[:65536]), errors="strict")
    return rows_under_header(text_stream(text), PATIENT_COLUMNS, _column, PATIENT_COLUMN_LABELS)


_COLUMN_OF_HEADING = {label: column for column, label in PATIENT_COLUMN_LABELS.items()} | {"氏名カナ": "name_kana"}


def _column(heading: str) -> str:
    """Read a heading: the column name, or its Japanese heading (患者番号, 氏名, カナ氏名, 生年月日, 性別)."""
    text = normalize_text(heading)
    return _COLUMN_OF_HEADING.get(text, text)


def _validated(raw: dict[str, str], row: int, errors: list[FieldError]) -> dict[str, Any] | None:
    before = len(errors)
    value = {c: normalize_text(raw.get(c) or "") for c in PATIENT_COLUMNS}
    for column in PATIENT_COLUMNS:
        if not value[column]:
            errors.append(FieldError(column, "required", f"{PATIENT_COLUMN_LABELS[column]}は必須です。", row))
    number = value["patient_number"].replace(" ", "")
    if number and (problem := _check_patient_number(number, row)):
        errors.append(problem)
    kana = normalize_kana(value["name_kana"])
    if kana and not is_katakana(kana):
        errors.append(FieldError("name_kana", "not_katakana", "カナ氏名はカタカナで入力してください。", row))
    birth: dt.date | None = None
    if value["birth_date"]:
        try:
            birth = parse_date(value["birth_date"])
        except DateFormatError as exc:
            errors.append(FieldError("birth_date", "invalid_date", f"生年月日: {exc}", row))
    if birth is not None and birth > today_in_japan():
        errors.append(FieldError("birth_date", "future_date", "生年月日が未来の日付です。", row))
    sex = _SEX.get(normalize_digits(value["sex"]))
    if value["sex"] and sex is None:
        errors.append(FieldError("sex", "invalid_choice", "性別は 1（男）か 2（女）です。", row))
    if len(errors) > before:
        return None
    return {"patient_number": number, "name": value["name"], "name_kana": kana, "birth_date": birth, "sex": sex}


def import_patients(session: Session, caller: Caller, data: bytes) -> PatientImportResult:
    """Load the institution's patient registry from CSV, all or nothing; existing numbers are updated.

    Columns: :data:`PATIENT_COLUMNS` (UTF-8 with or without BOM, or CP932). Every problem is reported
    with its row, column and reason; with any problem nothing is written. A re-import keeps the
    card links already made.
    """
    state = _Import()
    try:
        for row, raw in _lines(data):
            record = _validated(raw, row, state.errors)
            if record is None:
                continue
            if record["patient_number"] in state.rows:
                state.errors.append(
                    FieldError("patient_number", "duplicate_in_file", "同じ患者番号が複数行にあります。", row)
                )
                continue
            state.rows[record["patient_number"]] = record
    except UnicodeDecodeError as exc:
        message = f"ファイルの文字コードを読み取れません（UTF-8 または Shift_JIS で保存してください）: {exc.reason}"
        raise InvalidInput(message, [FieldError("file", "encoding", message)]) from exc
    if state.errors:
        raise InvalidInput(f"患者一覧ファイルに {len(state.errors)} 件の誤りがあります。", state.errors[:MAX_ERRORS])
    existing = {
        p.patient_number: p
        for p in session.scalars(select(Patient).where(Patient.institution_id == caller.organisation_id))
    }
    added = updated = 0
    for number, record in state.rows.items():
        patient = existing.get(number)
        if patient is None:
            session.add(Patient(institution_id=caller.organisation_id, person_digest=None, **record))
            added += 1
        else:
            for key, value in record.items():
                setattr(patient, key, value)
            updated += 1
    session.flush()
    audit.record(session, caller, "patient.import", "patient", "registry", {"added": added, "updated": updated})
    return PatientImportResult(added=added, updated=updated)


def patient_number_of_reception(session: Session, institution_id: int, reception_id: int) -> str | None:
    """Return the 患者番号 linked to one of the institution's receptions, or None when none is linked."""
    from pmh.eligibility.models import Reception

    number: str | None = session.scalar(
        select(Patient.patient_number)
        .join(Reception, Reception.patient_id == Patient.id)
        .where(Reception.id == reception_id, Reception.institution_id == institution_id)
    )
    return number
