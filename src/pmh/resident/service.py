"""The resident's own view: sign in with the card, my certificates, who read my data, my cap, my consents.

Everything here is scoped to one person, the holder of the card that opened the session (their My
Number digest), never to an organisation. The view reads the other areas' records of that person
only; what institutions did is taken from the audit log, so the access log is as complete as the
log itself. Staff names (the audit entries' ``actor``) are never returned.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from pmh import clock
from pmh.audit import service as audit
from pmh.audit.models import AuditEntry
from pmh.auth.institutions import ConnectedInstitution, connected_institutions
from pmh.auth.models import Organisation
from pmh.auth.schemas import Caller
from pmh.cards import service as cards
from pmh.cards.models import TestCard
from pmh.clock import JST
from pmh.codes.prefectures import prefecture_name
from pmh.copay.ledger import ledger_name
from pmh.copay.models import CopayEntry, CopayMonth
from pmh.db import utcnow
from pmh.eligibility.claims import in_claim_order
from pmh.eligibility.models import CardSession, Reception, ReceptionCertificate
from pmh.errors import FieldError, InvalidInput, NotAuthenticated, NotFound
from pmh.operator.contracts import service as contracts
from pmh.operator.models import ContactWindow
from pmh.reference import catalogue
from pmh.registry import asof, participation
from pmh.registry.models import Certificate, CertificateVersion, Program
from pmh.resident.models import ResidentSession
from pmh.resident.schemas import (
    AccessLogEntry,
    ContactWindowRead,
    CopayLine,
    InstitutionRef,
    MyCertificate,
    MyConsent,
    MyCopaySheet,
    ResidentSessionCreate,
    ResidentSessionRead,
    WithdrawalRead,
)
from pmh.settings import get_settings

TOKEN_PREFIX = "pmhr_"
"""Resident tokens start with this, so that neither side mistakes them for an API key."""
SESSION_EXPIRED = "本人確認の有効期限が切れました。もう一度マイナンバーカードでログインしてください。"
_UNKNOWN_RECEPTION = "この受付は見つかりません。"

RESIDENT = Caller(
    organisation_id=cast(int, None),  # a resident belongs to no organisation; the audit entry says so
    organisation_code="",
    organisation_name="本人",
    organisation_kind="resident",
    role="resident",
    actor="resident",
)
"""The caller the audit log records for the resident's own actions (no organisation, no name)."""


@dataclass(frozen=True, slots=True)
class Resident:
    """The person behind a resident session: the card's holder, known only by their My Number digest."""

    session_id: int
    person_digest: str
    card_serial: str
    expires_at: dt.datetime
    csrf_token: str


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- sign-in ------------------------------------------------------------------------------------


def open_session(session: Session, data: ResidentSessionCreate, now: dt.datetime | None = None) -> ResidentSessionRead:
    """Authenticate the card by its PIN and open a short resident session (audited either way).

    The PIN counter is the card service's own, shared with every card reader: three wrong PINs in a
    row lock the card everywhere. A refusal is raised as the card service's
    :class:`~pmh.cards.service.CardRefused`, whose ``keeps_work`` commits the count before the answer.
    """
    now = now or utcnow()
    check = cards.authenticate_card(session, data.card_serial, "pin", data.pin, today=clock.japan_date_of(now))
    if check.identity is None:
        refusal = check.refusal or cards.CardRefused("カードによる本人確認ができませんでした。")
        detail = {"code": refusal.code}
        audit.record(session, RESIDENT, "resident_session.refused", "card", data.card_serial[:32], detail)
        raise refusal
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ResidentSession(
        token_digest=_token_digest(token),
        csrf_token=secrets.token_urlsafe(24),
        person_digest=check.identity.person_digest,
        card_serial=check.identity.card_serial,
        expires_at=now + dt.timedelta(minutes=get_settings().resident_session_minutes),
    )
    session.add(row)
    session.flush()
    audit.record(session, RESIDENT, "resident_session.open", "resident_session", str(row.id))
    return ResidentSessionRead(token=token, expires_at=row.expires_at)


def resolve(session: Session, token: str, now: dt.datetime | None = None) -> Resident:
    """Return the resident a token stands for, or refuse an unknown, ended or expired one (401)."""
    now = now or utcnow()
    if not token.startswith(TOKEN_PREFIX):
        raise NotAuthenticated("本人用のページ・APIは、マイナンバーカードでログインしてから使います。")
    row = session.scalar(select(ResidentSession).where(ResidentSession.token_digest == _token_digest(token)))
    if row is None or row.ended_at is not None or now >= row.expires_at:
        raise NotAuthenticated(SESSION_EXPIRED)
    return Resident(row.id, row.person_digest, row.card_serial, row.expires_at, row.csrf_token)


def end_session(session: Session, resident: Resident, now: dt.datetime | None = None) -> None:
    """End the resident's session (ログアウト)."""
    row = session.get_one(ResidentSession, resident.session_id)
    if row.ended_at is None:
        row.ended_at = now or utcnow()
        audit.record(session, RESIDENT, "resident_session.end", "resident_session", str(row.id))


# --- what the view needs to know about the person ----------------------------------------------


@dataclass
class _Names:
    """Program codes and organisation names, read once for a whole answer."""

    programs: dict[int, str] = field(default_factory=dict)
    organisations: dict[int, Organisation] = field(default_factory=dict)


def _names(session: Session, certificates: Iterable[Certificate], organisation_ids: Iterable[int] = ()) -> _Names:
    listed = list(certificates)
    names = _Names()
    program_ids = sorted({c.program_id for c in listed})
    if program_ids:
        rows = session.execute(select(Program.id, Program.program_code).where(Program.id.in_(program_ids)))
        names.programs = {program_id: code for program_id, code in rows}
    wanted = sorted({c.municipality_id for c in listed} | set(organisation_ids))
    if wanted:
        query = select(Organisation).where(Organisation.id.in_(wanted))
        names.organisations = {o.id: o for o in session.scalars(query)}
    return names


def _own_certificates(session: Session, person_digest: str) -> list[Certificate]:
    """Return the person's certificates: confirmed ones and those held for review (rejected ones are not theirs)."""
    return list(
        session.scalars(
            select(Certificate)
            .where(Certificate.person_digest == person_digest, Certificate.link_status.in_(("linked", "held")))
            .order_by(Certificate.id)
        )
    )


def _label(certificate: Certificate, names: _Names) -> str:
    """Return how the resident's pages name a certificate: program and municipality, numbers when confirmed."""
    program = catalogue.program(names.programs[certificate.program_id]).name
    municipality = names.organisations[certificate.municipality_id].name
    if certificate.link_status != "linked":
        return f"{program}（{municipality}・確認中）"
    return f"{program}（{municipality}・{certificate.payer_number} / {certificate.recipient_number}）"


def _split(text: str) -> list[str]:
    return [part for part in (text or "").split(";") if part]


def _contact(window: ContactWindow | None) -> ContactWindowRead | None:
    if window is None:
        return None
    return ContactWindowRead(department=window.department, phone=window.phone, email=window.email)


# --- my certificates ----------------------------------------------------------------------------


def certificates(session: Session, resident: Resident, today: dt.date) -> list[MyCertificate]:
    """Return every certificate of the person as of today, including not-to-disclose ones (audited).

    A certificate held for review shows as 確認中 with the municipality's contact window and nothing
    the municipality has not confirmed (no numbers, validity or caps).
    """
    own = _own_certificates(session, resident.person_digest)
    names = _names(session, own)
    linked = [c for c in own if c.link_status == "linked"]
    states = in_claim_order(asof.certificates_on(session, [c.id for c in linked], today))
    windows = contracts.contact_windows(session)
    designated_codes = sorted({code for s in states for code in _split(s.version.designated_institutions)})
    institution_names: dict[str, str] = {}
    if designated_codes:
        rows = session.execute(
            select(Organisation.code, Organisation.name).where(Organisation.code.in_(designated_codes))
        )
        institution_names = {code: name for code, name in rows}
    result: list[MyCertificate] = []
    for state in states:
        certificate, version = state.certificate, state.version
        municipality = names.organisations[certificate.municipality_id]
        result.append(
            MyCertificate(
                program_code=state.program_code,
                program_name=catalogue.program(state.program_code).name,
                municipality_code=municipality.code,
                municipality_name=municipality.name,
                status=cast(Any, state.status),
                payer_number=certificate.payer_number,
                recipient_number=certificate.recipient_number,
                certification_name=version.certification_name,
                valid_from=version.valid_from,
                valid_to=state.valid_to,
                monthly_cap=version.monthly_cap,
                inpatient_cap=version.inpatient_cap,
                copay_rate=version.copay_rate,
                income_category=version.income_category,
                cap_managed=version.cap_managed,
                diseases=_split(version.diseases),
                designated_institutions=[
                    InstitutionRef(code=code, name=institution_names.get(code))
                    for code in _split(version.designated_institutions)
                ],
                not_disclosed=version.not_disclosed,
                contact=_contact(windows.get(municipality.code)),
            )
        )
    for certificate in own:
        if certificate.link_status == "linked":
            continue
        municipality = names.organisations[certificate.municipality_id]
        program_code = names.programs[certificate.program_id]
        result.append(
            MyCertificate(
                program_code=program_code,
                program_name=catalogue.program(program_code).name,
                municipality_code=municipality.code,
                municipality_name=municipality.name,
                status="under_review",
                contact=_contact(windows.get(municipality.code)),
            )
        )
    detail = {"certificates": [c.id for c in own]}
    audit.record(session, RESIDENT, "resident.certificates.read", "resident_session", str(resident.session_id), detail)
    return result


# --- who read my data ---------------------------------------------------------------------------

ACTION_LABELS = {
    "card_session.open": "カードリーダーで本人確認",
    "card_session.refused": "カードリーダーで本人確認できませんでした（暗証番号の誤りなど）",
    "consent.give": "情報の提供に同意",
    "eligibility.read": "医療費助成の資格情報を確認",
    "eligibility.recheck": "一括照会（月ごとの再確認）",
    "reception.read": "受付の情報を表示",
    "reception.link": "受付を患者番号と紐づけ",
    "copay.quote": "自己負担額を計算",
    "copay.record": "自己負担額を記録",
    "copay.cancel": "自己負担額の記録を取り消し（訂正）",
    "copay.sheet": "上限額管理票を表示",
    "certificate.read": "自治体が受給者証を照会",
    "certificates.import": "自治体が受給者証を登録・変更",
    "link_review.link": "自治体が本人の受給者証であると確認",
}
_CONSENT_LABELS = {
    "all": "情報の提供に同意（すべて提供）",
    "select": "情報の提供に同意（一部を提供）",
    "none": "医療費助成の情報は提供しないと回答",
}
_WIDE_ACTIONS = ("eligibility.recheck", "reception.link")
"""Actions whose entry names many receptions (or none by id): matched by institution and checked here."""
KIND_LABELS = {"municipality": "自治体", "operator": "運営主体", "institution": "医療機関・薬局"}
INSTITUTION_KIND_LABELS = {"clinic": "診療所", "hospital": "病院", "pharmacy": "薬局"}


def _kind_label(organisation: Organisation) -> str:
    if organisation.kind == "institution" and organisation.institution_kind in INSTITUTION_KIND_LABELS:
        return INSTITUTION_KIND_LABELS[organisation.institution_kind]
    return KIND_LABELS.get(organisation.kind, organisation.kind)


@dataclass
class _Footprint:
    """The person's records other areas keep, by the ids the audit log names them with."""

    certificates: dict[int, Certificate]
    serials: list[str]
    card_sessions: set[int]
    receptions: dict[int, Reception]
    shared: dict[int, list[ReceptionCertificate]]
    uploads: dict[int, set[int]]


def _footprint(session: Session, person_digest: str) -> _Footprint:
    own = {c.id: c for c in _own_certificates(session, person_digest)}
    serials = list(session.scalars(select(TestCard.card_serial).where(TestCard.person_digest == person_digest)))
    card_sessions = set(session.scalars(select(CardSession.id).where(CardSession.person_digest == person_digest)))
    receptions = {r.id: r for r in session.scalars(select(Reception).where(Reception.person_digest == person_digest))}
    shared: dict[int, list[ReceptionCertificate]] = defaultdict(list)
    if receptions:
        for link in session.scalars(
            select(ReceptionCertificate).where(ReceptionCertificate.reception_id.in_(sorted(receptions)))
        ):
            shared[link.reception_id].append(link)
    uploads: dict[int, set[int]] = defaultdict(set)
    if own:
        rows = session.execute(
            select(CertificateVersion.upload_id, CertificateVersion.certificate_id).where(
                CertificateVersion.certificate_id.in_(sorted(own)), CertificateVersion.upload_id.is_not(None)
            )
        )
        for upload_id, certificate_id in rows:
            if upload_id is not None:
                uploads[upload_id].add(certificate_id)
    return _Footprint(own, serials, card_sessions, receptions, shared, uploads)


def _entries(
    session: Session, footprint: _Footprint, since: dt.datetime | None, until: dt.datetime | None
) -> list[AuditEntry]:
    """Return the organisations' audit entries that may concern the person, newest first."""
    matches: list[ColumnElement[bool]] = []

    def by_subject(subject_type: str, ids: Iterable[object]) -> None:
        wanted = sorted({str(i) for i in ids})
        if wanted:
            matches.append(and_(AuditEntry.subject_type == subject_type, AuditEntry.subject_id.in_(wanted)))

    by_subject("certificate", footprint.certificates)
    by_subject("card", footprint.serials)
    by_subject("card_session", footprint.card_sessions)
    by_subject("reception", footprint.receptions)
    by_subject("upload", footprint.uploads)
    first_visits: dict[int, dt.datetime] = {}
    for reception in footprint.receptions.values():
        known = first_visits.get(reception.institution_id)
        if known is None or reception.received_at < known:
            first_visits[reception.institution_id] = reception.received_at
    for institution_id, first in sorted(first_visits.items()):
        matches.append(
            and_(
                AuditEntry.organisation_id == institution_id,
                AuditEntry.action.in_(_WIDE_ACTIONS),
                AuditEntry.occurred_at >= first,
            )
        )
    if not matches:
        return []
    query = select(AuditEntry).where(or_(*matches), AuditEntry.organisation_id.is_not(None))
    if since is not None:
        query = query.where(AuditEntry.occurred_at >= since)
    if until is not None:
        query = query.where(AuditEntry.occurred_at < until)
    return list(session.scalars(query.order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())))


def _ids(values: object) -> list[int]:
    if not isinstance(values, list):
        return []
    return [int(v) for v in values if isinstance(v, int | str) and str(v).isdigit()]


def _month_of_reception(reception: Reception) -> str:
    return f"{reception.received_on.year:04d}-{reception.received_on.month:02d}"


def _rechecked(entry: AuditEntry, detail: dict[str, Any], footprint: _Footprint) -> tuple[list[int], int | None]:
    """Return the person's certificates a 一括照会 re-read, and one of their receptions it covered.

    The entry names the month and the institution; it covered every reception of that month that
    still had consent, and re-read each certificate already read once.
    """
    certificate_ids: list[int] = []
    reception_id = None
    for reception in footprint.receptions.values():
        if (
            reception.institution_id != entry.organisation_id
            or _month_of_reception(reception) != detail.get("month")
            or reception.subsidy_consent == "none"
            or reception.received_at > entry.occurred_at
            or (reception.withdrawn_at is not None and reception.withdrawn_at <= entry.occurred_at)
        ):
            continue
        read = [
            link.certificate_id
            for link in footprint.shared.get(reception.id, [])
            if link.first_read_at is not None and link.first_read_at <= entry.occurred_at
        ]
        if read:
            certificate_ids += read
            reception_id = reception.id if reception_id is None else reception_id
    return certificate_ids, reception_id


def _described(entry: AuditEntry, footprint: _Footprint) -> tuple[str, list[int], int | None] | None:
    """Return the entry's label, the person's certificates it concerns and its reception; None if not theirs."""
    detail: dict[str, Any] = json.loads(entry.detail or "{}")
    label = ACTION_LABELS.get(entry.action, f"記録の参照・操作（{entry.action}）")
    if entry.action == "eligibility.recheck":
        certificate_ids, reception_id = _rechecked(entry, detail, footprint)
        return (label, certificate_ids, reception_id) if certificate_ids else None
    subject = entry.subject_id
    if entry.subject_type == "reception":
        mine = [int(i) for i in subject.split(",") if i.isdigit() and int(i) in footprint.receptions]
        if not mine:
            return None
        if entry.action == "consent.give":
            label = _CONSENT_LABELS.get(str(detail.get("subsidy")), label)
            return label, _ids(detail.get("shared_certificates")), mine[0]
        if entry.action == "eligibility.read":
            return label, _ids(detail.get("certificates")), mine[0]
        return label, [], mine[0]
    if entry.subject_type == "card_session":
        return label, _ids(detail.get("offered_certificates")), None
    if entry.subject_type == "card":
        return label, [], None
    if entry.subject_type == "certificate":
        return label, [int(subject)], None
    if entry.subject_type == "upload":
        if entry.action != "certificates.import" or not subject.isdigit():
            return None
        return label, sorted(footprint.uploads.get(int(subject), ())), None
    return None


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), JST).astimezone(dt.UTC)


def access_log(
    session: Session, resident: Resident, since: dt.date | None = None, until: dt.date | None = None
) -> list[AccessLogEntry]:
    """Return every time an organisation touched the person's subsidy data, newest first (audited).

    ``since`` and ``until`` are days in Japan, both included. Built from the audit log: card
    sessions, consents, eligibility reads, 一括照会, copay entries and corrections, and the
    municipality's uploads and reads of the person's certificates.
    """
    if since is not None and until is not None and since > until:
        message = "期間の終わりが始まりより前になっています。"
        raise InvalidInput(message, [FieldError("to", "invalid_range", message)])
    footprint = _footprint(session, resident.person_digest)
    entries = _entries(
        session,
        footprint,
        _day_start(since) if since else None,
        _day_start(until + dt.timedelta(days=1)) if until else None,
    )
    names = _names(session, footprint.certificates.values(), (e.organisation_id for e in entries if e.organisation_id))
    result: list[AccessLogEntry] = []
    for entry in entries:
        described = _described(entry, footprint)
        if described is None or entry.organisation_id is None:
            continue
        label, certificate_ids, reception_id = described
        organisation = names.organisations[entry.organisation_id]
        result.append(
            AccessLogEntry(
                at=entry.occurred_at.astimezone(JST),
                organisation_name=organisation.name,
                organisation_kind=organisation.kind,
                organisation_kind_label=_kind_label(organisation),
                action=entry.action,
                action_label=label,
                certificates=[
                    _label(footprint.certificates[i], names)
                    for i in dict.fromkeys(certificate_ids)
                    if i in footprint.certificates
                ],
                reception_id=reception_id,
            )
        )
    audit.record(
        session,
        RESIDENT,
        "resident.access_log.read",
        "resident_session",
        str(resident.session_id),
        {"from": since, "to": until, "entries": len(result)},
    )
    return result


# --- my cap this month --------------------------------------------------------------------------


def _month_bounds(month: str) -> tuple[dt.date, dt.date]:
    year, number = (int(part) for part in month.split("-"))
    first = dt.date(year, number, 1)
    following = dt.date(year + (number == 12), number % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


def copay(session: Session, resident: Resident, month: str) -> list[MyCopaySheet]:
    """Return each cap-managed certificate's sheet for the month: where, when, paid, running total, remaining.

    Every institution's lines are shown (it is the person's own sheet); cancelled lines stay,
    marked, without a running total.
    """
    first, _ = _month_bounds(month)
    linked = [c for c in _own_certificates(session, resident.person_digest) if c.link_status == "linked"]
    names = _names(session, linked)
    states = in_claim_order(asof.certificates_on(session, [c.id for c in linked], first))
    rows: dict[int, list[CopayMonth]] = defaultdict(list)
    if states:
        query = select(CopayMonth).where(
            CopayMonth.certificate_id.in_([s.certificate.id for s in states]), CopayMonth.month == month
        )
        for row in session.scalars(query.order_by(CopayMonth.ledger)):
            rows[row.certificate_id].append(row)
    entries: dict[int, list[CopayEntry]] = defaultdict(list)
    month_ids = [row.id for group in rows.values() for row in group]
    if month_ids:
        query_entries = select(CopayEntry).where(CopayEntry.copay_month_id.in_(month_ids))
        for entry in session.scalars(query_entries.order_by(CopayEntry.service_date, CopayEntry.id)):
            entries[entry.copay_month_id].append(entry)
    institutions = _names(session, [], {e.institution_id for group in entries.values() for e in group})
    sheets: list[MyCopaySheet] = []
    for state in states:
        version, certificate = state.version, state.certificate
        ledgers = [row.ledger for row in rows[certificate.id]]
        if not ledgers and version.cap_managed:
            ledgers = [ledger_name(version.inpatient_cap is not None, False)]
        by_ledger = {row.ledger: row for row in rows[certificate.id]}
        for ledger in ledgers:
            cap = version.inpatient_cap if ledger == "inpatient" else version.monthly_cap
            if cap is None:
                continue
            running = 0
            lines = []
            month_row = by_ledger.get(ledger)
            for entry in entries[month_row.id] if month_row is not None else []:
                if entry.cancelled_at is None:
                    running += entry.copay_amount
                lines.append(
                    CopayLine(
                        service_date=entry.service_date,
                        institution_name=institutions.organisations[entry.institution_id].name,
                        inpatient=entry.inpatient,
                        paid=entry.copay_amount,
                        running_total=running if entry.cancelled_at is None else None,
                        cancelled=entry.cancelled_at is not None,
                    )
                )
            sheets.append(
                MyCopaySheet(
                    month=month,
                    program_name=catalogue.program(state.program_code).name,
                    municipality_name=names.organisations[certificate.municipality_id].name,
                    payer_number=certificate.payer_number,
                    recipient_number=certificate.recipient_number,
                    ledger=cast(Any, ledger),
                    cap=cap,
                    month_total=running,
                    remaining=max(cap - running, 0),
                    lines=lines,
                )
            )
    detail = {"month": month, "certificates": [s.certificate.id for s in states]}
    audit.record(session, RESIDENT, "resident.copay.read", "resident_session", str(resident.session_id), detail)
    return sheets


# --- my consents --------------------------------------------------------------------------------


def consents(session: Session, resident: Resident, limit: int = 100) -> list[MyConsent]:
    """Return the person's receptions, newest first, with what they shared and whether they withdrew it."""
    receptions = list(
        session.scalars(
            select(Reception)
            .where(Reception.person_digest == resident.person_digest)
            .order_by(Reception.received_at.desc(), Reception.id.desc())
            .limit(limit)
        )
    )
    shared: dict[int, list[int]] = defaultdict(list)
    if receptions:
        query = select(ReceptionCertificate).where(ReceptionCertificate.reception_id.in_([r.id for r in receptions]))
        for link in session.scalars(query.order_by(ReceptionCertificate.offered_order)):
            shared[link.reception_id].append(link.certificate_id)
    wanted = sorted({i for ids in shared.values() for i in ids})
    certificates_by_id = (
        {c.id: c for c in session.scalars(select(Certificate).where(Certificate.id.in_(wanted)))} if wanted else {}
    )
    names = _names(session, certificates_by_id.values(), (r.institution_id for r in receptions))
    audit.record(
        session,
        RESIDENT,
        "resident.consents.read",
        "resident_session",
        str(resident.session_id),
        {"receptions": [r.id for r in receptions][:50]},
    )
    return [
        MyConsent(
            reception_id=r.id,
            received_at=r.received_at.astimezone(JST),
            institution_name=names.organisations[r.institution_id].name,
            subsidy_consent=r.subsidy_consent,
            certificates=[_label(certificates_by_id[i], names) for i in shared.get(r.id, [])],
            withdrawn_at=r.withdrawn_at.astimezone(JST) if r.withdrawn_at else None,
        )
        for r in receptions
    ]


def withdraw_consent(
    session: Session, resident: Resident, reception_id: int, now: dt.datetime | None = None
) -> WithdrawalRead:
    """Withdraw the consent of one of the person's receptions (同意の撤回); withdrawing twice changes nothing.

    From then on the institution gets, for that reception, what it gets for one that does not exist
    (eligibility, copay, 一括照会, the reception list). What it already read stays in the access log.
    """
    reception = session.get(Reception, reception_id, with_for_update=True)
    if reception is None or reception.person_digest != resident.person_digest:
        raise NotFound(_UNKNOWN_RECEPTION)  # someone else's reception looks like none at all
    if reception.withdrawn_at is None:
        reception.withdrawn_at = now or utcnow()
        audit.record(
            session,
            RESIDENT,
            "consent.withdraw",
            "reception",
            str(reception.id),
            {"institution_id": reception.institution_id},
        )
    institution = session.get_one(Organisation, reception.institution_id)
    withdrawn_at = reception.withdrawn_at.astimezone(JST)
    return WithdrawalRead(reception_id=reception.id, institution_name=institution.name, withdrawn_at=withdrawn_at)


def default_month(today: dt.date) -> str:
    """Return the month of a day as YYYY-MM (the copay page opens on this month)."""
    return f"{today.year:04d}-{today.month:02d}"


def months_before(month: str, count: int) -> list[str]:
    """Return ``month`` and the ``count`` - 1 months before it, newest first (the copay page's choices)."""
    year, number = (int(part) for part in month.split("-"))
    found = []
    for _ in range(count):
        found.append(f"{year:04d}-{number:02d}")
        year, number = (year - 1, 12) if number == 1 else (year, number - 1)
    return found


# --- the municipality's leaflet (住民向け周知リーフレット) ----------------------------------------


@dataclass
class Leaflet:
    """What the printed leaflet says: programs usable with the card from which date, where, and whom to ask."""

    municipality_code: str
    municipality_name: str
    prefecture_name: str
    programs: list[tuple[str, dt.date]]
    institutions: list[ConnectedInstitution]
    more_institutions: int
    contact: ContactWindowRead | None


LEAFLET_INSTITUTIONS = 40
"""At most this many institutions are printed; the rest are counted and found in the public directory."""


def leaflet(session: Session, municipality_code: str) -> Leaflet:
    """Return a participating municipality's leaflet, from the registry and the public directory."""
    try:
        body = catalogue.municipality(municipality_code)
    except KeyError:
        raise NotFound(f"自治体コード {municipality_code} の自治体は見つかりません。") from None
    programs = sorted(
        (
            (catalogue.program(p.program_code).name, p.start_date)
            for p in participation.registered_programs(session)
            if p.municipality_code == body.code
        ),
        key=lambda item: (item[1], item[0]),
    )
    if not programs:
        raise NotFound(f"{body.full_name}は、マイナンバーカードで使える医療費助成をまだ登録していません。")
    institutions = connected_institutions(session, body.prefecture_code)
    window = contracts.contact_windows(session).get(body.code)
    return Leaflet(
        municipality_code=body.code,
        municipality_name=body.full_name,
        prefecture_name=prefecture_name(body.prefecture_code),
        programs=programs,
        institutions=institutions[:LEAFLET_INSTITUTIONS],
        more_institutions=max(len(institutions) - LEAFLET_INSTITUTIONS, 0),
        contact=_contact(window),
    )
