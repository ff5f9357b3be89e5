"""The registry's logic: programs, 外字 tables, certificates as of a date, and the review queue."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence

from sqlalchemy import delete, func, literal, select
from sqlalchemy.orm import Session

from pmh import clock
from pmh.audit import service as audit
from pmh.auth.models import Organisation
from pmh.auth.schemas import Caller
from pmh.cards import service as cards
from pmh.codes.checkdigits import check_number
from pmh.errors import Conflict, FieldError, InvalidInput, NotFound, NotPermitted
from pmh.reference import catalogue
from pmh.registry import counts
from pmh.registry.asof import in_force_on
from pmh.registry.models import Certificate, CertificateVersion, GaijiMapping, LinkReview, PayerNumber, Program
from pmh.registry.names import name_forms
from pmh.registry.schemas import (
    CertificateRead,
    CertificateVersionRead,
    GaijiEntry,
    IdentityView,
    LinkReviewRead,
    ProgramCreate,
    ProgramRead,
)


def _municipality_of(session: Session, caller: Caller) -> Organisation:
    organisation = session.get_one(Organisation, caller.organisation_id)
    if organisation.kind != "municipality":
        raise NotPermitted("この操作は自治体のみが行えます。")
    return organisation


def add_program(session: Session, caller: Caller, data: ProgramCreate) -> ProgramRead:
    """Register a program (or more payer numbers of it) for the caller's municipality.

    Refused when the implementing-body rule forbids it, when a payer number is invalid, of another
    prefecture, of another program's 法別番号 (national programs) or already registered.
    """
    municipality = _municipality_of(session, caller)
    try:
        entry = catalogue.program(data.program_code)
    except KeyError as exc:
        raise InvalidInput(
            f"制度コード {data.program_code} はありません。",
            [FieldError("program_code", "unknown_program", f"制度コード {data.program_code} はカタログにありません。")],
        ) from exc
    refusal = catalogue.implementing_body_refusal(entry, catalogue.municipality(municipality.code))
    if refusal:
        raise InvalidInput(refusal, [FieldError("program_code", "implementing_body", refusal)])
    check_digit = True if data.recipient_check_digit is None else data.recipient_check_digit
    if entry.national and not check_digit:
        message = f"{entry.name}は国の制度のため、受給者番号の検証番号を省略できません。"
        raise InvalidInput(message, [FieldError("recipient_check_digit", "national_needs_check_digit", message)])
    payers, warnings = _checked_payer_numbers(session, data.payer_numbers, entry, municipality)

    program = session.scalar(
        select(Program).where(Program.municipality_id == municipality.id, Program.program_code == entry.code)
    )
    type_id = data.certificate_type_id
    if type_id is not None:
        holder = session.scalar(
            select(Program).where(Program.municipality_id == municipality.id, Program.certificate_type_id == type_id)
        )
        if holder is not None and (program is None or holder.id != program.id):
            message = (
                f"機関別受給者証種別ID {type_id} は{catalogue.program(holder.program_code).name}に登録済みです"
                "（自治体内で一意）。"
            )
            raise Conflict(message, [FieldError("certificate_type_id", "duplicate_certificate_type_id", message)])
    if program is None:
        program = Program(
            municipality_id=municipality.id,
            program_code=entry.code,
            start_date=data.start_date or clock.today(),
            planned_recipients=data.planned_recipients,
            recipient_check_digit=check_digit,
            certificate_type_id=type_id,
        )
        session.add(program)
        session.flush()
    elif type_id is not None:
        program.certificate_type_id = type_id
    session.add_all(PayerNumber(payer_number=p, program_id=program.id) for p in payers)
    session.flush()
    return _program_read(session, program, warnings)


def certificate_types(session: Session, municipality_id: int) -> dict[str, str]:
    """Return the municipality's 機関別受給者証種別ID → program code (the registration API's
    ``orgSpecificCertificateTypeId`` resolves through it)."""
    rows = session.execute(
        select(Program.certificate_type_id, Program.program_code).where(
            Program.municipality_id == municipality_id, Program.certificate_type_id.is_not(None)
        )
    ).all()
    return {type_id: code for type_id, code in rows if type_id is not None}


def _checked_payer_numbers(
    session: Session, numbers: Sequence[str], entry: catalogue.Program, municipality: Organisation
) -> tuple[list[str], list[str]]:
    errors: list[FieldError] = []
    warnings: list[str] = []
    checked: list[str] = []
    for number in numbers:
        result = check_number(number, "payer")
        if not result.valid:
            errors.append(FieldError("payer_numbers", "invalid_payer_number", f"{number}: {result.reason}"))
            continue
        payer, houbetsu, prefecture = result.value, result.value[:2], result.value[2:4]
        if prefecture != municipality.prefecture_code:
            errors.append(
                FieldError(
                    "payer_numbers",
                    "other_prefecture",
                    f"{payer}: 都道府県番号 {prefecture} が{municipality.name}の都道府県番号"
                    f" {municipality.prefecture_code} と一致しません。",
                )
            )
        elif not catalogue.houbetsu_fits(entry, houbetsu):
            message = (
                f"{payer}: 法別番号 {houbetsu} は{entry.name}の法別番号（{'・'.join(entry.houbetsu)}）ではありません。"
            )
            if entry.local:
                warnings.append(message + "地単のため登録しました。番号をご確認ください。")
            else:
                errors.append(FieldError("payer_numbers", "houbetsu_mismatch", message))
        if session.scalar(select(PayerNumber.id).where(PayerNumber.payer_number == payer)) is not None:
            raise Conflict(f"公費負担者番号 {payer} は既に登録されています。")
        if payer in checked:
            errors.append(FieldError("payer_numbers", "duplicate", f"{payer}: 同じ番号が2回指定されています。"))
        checked.append(payer)
    if errors:
        raise InvalidInput("公費負担者番号に誤りがあります。", errors)
    return checked, warnings


def _program_read(session: Session, program: Program, warnings: list[str] | None = None) -> ProgramRead:
    payers = session.scalars(
        select(PayerNumber.payer_number).where(PayerNumber.program_id == program.id).order_by(PayerNumber.payer_number)
    ).all()
    return ProgramRead(
        id=program.id,
        program_code=program.program_code,
        program_name=catalogue.program(program.program_code).name,
        payer_numbers=list(payers),
        start_date=program.start_date,
        planned_recipients=program.planned_recipients,
        recipient_check_digit=program.recipient_check_digit,
        certificate_type_id=program.certificate_type_id,
        warnings=warnings or [],
    )


def payer_numbers_of(session: Session, municipality_code: str) -> list[tuple[str, str]]:
    """Return (payer number, program code) of every program a municipality registered."""
    rows = session.execute(
        select(PayerNumber.payer_number, Program.program_code)
        .join(Program, Program.id == PayerNumber.program_id)
        .join(Organisation, Organisation.id == Program.municipality_id)
        .where(Organisation.code == municipality_code)
        .order_by(PayerNumber.payer_number)
    ).all()
    return [(payer, code) for payer, code in rows]


def list_programs(session: Session, caller: Caller) -> list[ProgramRead]:
    """Return the caller's municipality's programs."""
    programs = session.scalars(
        select(Program).where(Program.municipality_id == caller.organisation_id).order_by(Program.program_code)
    )
    return [_program_read(session, p) for p in programs]


# --- 外字対応表 -----------------------------------------------------------------------------------

_CODE_POINT = re.compile(r"^[Uu]\+([0-9A-Fa-f]{4,6})$")


def _character(text: str) -> str:
    match = _CODE_POINT.match(text.strip())
    if match:
        return chr(int(match.group(1), 16))
    if len(text) != 1:
        raise InvalidInput(f"外字は1文字か U+XXXX で指定してください（{text!r}）。")
    return text


def replace_gaiji_table(session: Session, caller: Caller, entries: Sequence[GaijiEntry]) -> int:
    """Replace the municipality's 外字対応表; returns how many entries it now has."""
    municipality = _municipality_of(session, caller)
    table = {_character(e.character): e.replacement for e in entries}
    session.execute(delete(GaijiMapping).where(GaijiMapping.municipality_id == municipality.id))
    session.add_all(
        GaijiMapping(municipality_id=municipality.id, character=c, replacement=r) for c, r in sorted(table.items())
    )
    session.flush()
    return len(table)


def gaiji_table(session: Session, municipality_id: int) -> dict[str, str]:
    """Return a municipality's 外字対応表 as character → replacement."""
    rows = session.execute(
        select(GaijiMapping.character, GaijiMapping.replacement).where(GaijiMapping.municipality_id == municipality_id)
    )
    return {character: replacement for character, replacement in rows}


# --- certificates as of a date --------------------------------------------------------------------


def _split(text: str) -> list[str]:
    return [part for part in text.split(";") if part]


def version_read(version: CertificateVersion) -> CertificateVersionRead:
    """Return the API shape of one stored version."""
    forms = name_forms(version)
    return CertificateVersionRead(
        version=version.version,
        operation=version.operation,
        effective_from=version.effective_from,
        recorded_at=version.recorded_at,
        name=version.name,
        name_jisx0213=forms.jisx0213,
        name_jisx0208=forms.jisx0208,
        name_unmapped=forms.unmapped,
        name_kana=version.name_kana,
        birth_date=version.birth_date,
        sex=version.sex,
        valid_from=version.valid_from,
        valid_to=version.valid_to,
        monthly_cap=version.monthly_cap,
        inpatient_cap=version.inpatient_cap,
        copay_rate=version.copay_rate,
        income_category=version.income_category,
        cap_managed=version.cap_managed,
        diseases=_split(version.diseases),
        designated_institutions=_split(version.designated_institutions),
        guardian_name=version.guardian_name,
        certification_name=version.certification_name,
        address=version.address,
        not_disclosed=version.not_disclosed,
        always_reimbursement=version.always_reimbursement,
        additional_conditions=json.loads(version.additional_conditions or "{}"),
        certificate_details=json.loads(version.certificate_details or "{}"),
        history_key=version.history_key,
        withdrawn_at=version.withdrawn_at,
    )


def certificate_as_of(
    session: Session, caller: Caller, payer_number: str, recipient_number: str, as_of: dt.date
) -> CertificateRead:
    """Return one of the caller's municipality's certificates as of a date, with its history (audited)."""
    certificate = session.scalar(
        select(Certificate).where(
            Certificate.payer_number == payer_number,
            Certificate.recipient_number == recipient_number,
            Certificate.municipality_id == caller.organisation_id,
        )
    )
    if certificate is None:
        raise NotFound("該当する受給者証は登録されていません。")
    versions = list(
        session.scalars(
            select(CertificateVersion)
            .where(CertificateVersion.certificate_id == certificate.id)
            .order_by(CertificateVersion.version)
        )
    )
    found = in_force_on(versions, as_of)
    status: str
    if found is not None:
        in_force = version_read(found[0])
        in_force.valid_to, status = found[1].valid_to, found[1].status
    else:  # every version withdrawn: the newest is shown, marked
        in_force, status = version_read(versions[-1]), "withdrawn"
    program = session.get_one(Program, certificate.program_id)
    audit.record(session, caller, "certificate.read", "certificate", str(certificate.id), {"as_of": as_of})
    return CertificateRead(
        payer_number=certificate.payer_number,
        recipient_number=certificate.recipient_number,
        program_code=program.program_code,
        link_status=certificate.link_status,
        as_of=as_of,
        status=status,
        in_force=in_force,
        history=[version_read(v) for v in versions],
    )


# --- the review queue -----------------------------------------------------------------------------


def list_link_reviews(
    session: Session,
    caller: Caller,
    status: str | None = "open",
    limit: int = 200,
    *,
    program_code: str | None = None,
    reason_code: str | None = None,
) -> list[LinkReviewRead]:
    """Return the municipality's held certificates with the facts to compare (audited).

    ``program_code`` and ``reason_code`` narrow the list to one program or one mismatch reason.
    """
    stmt = (
        select(LinkReview, Certificate, CertificateVersion, Program.program_code)
        .join(Certificate, Certificate.id == LinkReview.certificate_id)
        .join(Program, Program.id == Certificate.program_id)
        .join(
            CertificateVersion,
            (CertificateVersion.certificate_id == LinkReview.certificate_id)
            & (CertificateVersion.version == LinkReview.version),
        )
        .where(LinkReview.municipality_id == caller.organisation_id)
        .order_by(LinkReview.id)
        .limit(limit)
    )
    if status:
        stmt = stmt.where(LinkReview.status == status)
    if program_code:
        stmt = stmt.where(Program.program_code == program_code)
    if reason_code:  # codes are stored comma-joined: match one whole code
        stmt = stmt.where((literal(",") + LinkReview.reason_codes + literal(",")).contains(f",{reason_code},"))
    rows = session.execute(stmt).all()
    records = cards.records_by_digest(session, {certificate.person_digest for _, certificate, _, _ in rows})
    reviews = []
    for review, certificate, version, code in rows:
        record = records.get(certificate.person_digest)
        reviews.append(
            LinkReviewRead(
                id=review.id,
                payer_number=certificate.payer_number,
                recipient_number=certificate.recipient_number,
                program_code=code,
                version=review.version,
                reason_codes=review.reason_codes.split(","),
                reasons=review.reasons.split("\n"),
                status=review.status,
                certificate=IdentityView(name=version.name, name_kana=version.name_kana, birth_date=version.birth_date),
                insurance_record=IdentityView(
                    name=record.name, name_kana=record.name_kana, birth_date=record.birth_date
                )
                if record
                else None,
                created_at=review.created_at,
                resolved_by=review.resolved_by,
                resolved_at=review.resolved_at,
                resolution_note=review.resolution_note,
            )
        )
    if reviews:
        audit.record(session, caller, "link_review.list", "link_review", [str(r.id) for r in reviews][:20])
    return reviews


def resolve_link_review(session: Session, caller: Caller, review_id: int, decision: str, note: str | None) -> None:
    """Link (same person, notation differs) or reject a held certificate; audited."""
    review = session.scalar(
        select(LinkReview).where(LinkReview.id == review_id, LinkReview.municipality_id == caller.organisation_id)
    )
    if review is None:
        raise NotFound("該当する確認待ちはありません。")
    if review.status != "open":
        raise Conflict("この確認待ちは既に処理済みです。")
    review.status = "linked" if decision == "link" else "rejected"
    review.resolution_note = note
    review.resolved_by = caller.actor
    review.resolved_at = clock.now()
    counts.lock_municipality(session, review.municipality_id)  # the kept counts change with the verdict
    certificate = session.get_one(Certificate, review.certificate_id, with_for_update=True)
    before = counts.snapshot(session, {(certificate.program_id, certificate.person_digest)})
    still_open = session.scalar(
        select(LinkReview.id).where(
            LinkReview.certificate_id == certificate.id, LinkReview.status == "open", LinkReview.id != review.id
        )
    )
    if review.status == "rejected":
        certificate.link_status = "rejected"
    elif still_open is None:
        certificate.link_status = "linked"
    session.flush()
    counts.apply(session, before)
    audit.record(session, caller, f"link_review.{decision}", "certificate", str(certificate.id), {"review": review.id})


def resolve_link_reviews(
    session: Session, caller: Caller, review_ids: Sequence[int], decision: str, note: str | None
) -> int:
    """Decide several held certificates at once: one decision (and one audit entry) per review.

    Runs inside the caller's transaction: when one review is unknown or already decided, the
    error propagates and none of the decisions is kept.
    """
    unique = list(dict.fromkeys(review_ids))
    if not unique:
        raise InvalidInput("処理する受給者証を1件以上選んでください。")
    for review_id in unique:
        resolve_link_review(session, caller, review_id, decision, note)
    return len(unique)


def municipality_program_codes(session: Session, caller: Caller) -> list[str]:
    """Return the codes of the programs the municipality runs (for filters), in code order."""
    return list(
        session.scalars(
            select(Program.program_code)
            .where(Program.municipality_id == caller.organisation_id)
            .order_by(Program.program_code)
        )
    )


def link_review_counts(session: Session, caller: Caller) -> dict[str, int]:
    """Count the municipality's reviews by status (open, linked, rejected); no personal data read."""
    rows = session.execute(
        select(LinkReview.status, func.count())
        .where(LinkReview.municipality_id == caller.organisation_id)
        .group_by(LinkReview.status)
    ).all()
    counts = {"open": 0, "linked": 0, "rejected": 0}
    counts.update({status: int(n) for status, n in rows})
    return counts
