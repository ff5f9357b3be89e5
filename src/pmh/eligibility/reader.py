"""The reader flow (顔認証付きカードリーダー): the card session and the patient's consent.

The reader authenticates the card, offers the holder's certificates by name only, and records the
answer (すべて提供 / 個別に提供 / 提供しない) as a reception (受付) the institution then reads. Every
step is audited; a refused card counts towards the rate limits.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from pmh.audit import service as audit
from pmh.auth import limits
from pmh.auth.schemas import Caller
from pmh.cards import service as cards
from pmh.codes.text import normalize_text
from pmh.db import utcnow
from pmh.eligibility.claims import in_claim_order
from pmh.eligibility.common import today_in_japan
from pmh.eligibility.models import CardSession, Reception, ReceptionCertificate, ReceptionDay
from pmh.eligibility.schemas import CardSessionCreate, CardSessionRead, ConsentCreate, ConsentRead, OfferedCertificate
from pmh.errors import Conflict, FieldError, InvalidInput, NotFound, PmhError
from pmh.reception import service as patients
from pmh.reference import catalogue
from pmh.registry import asof

CARD_SESSION_MINUTES = 10
"""How long a reader may wait for the patient's answer before the card must be placed again."""
STARTING_SOON_DAYS = 31
"""A certificate that starts within this many days is offered at the reader already."""
QUESTION = "以下の医療費助成受給者証があります。情報を提供しますか。"
NO_CERTIFICATES = "医療費助成の受給者証は登録されていません。"


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
    linked = asof.linked_certificates(session, [identity.person_digest])[identity.person_digest]
    states = [
        s
        for s in in_claim_order(asof.certificates_on(session, [c.id for c in linked], today))
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
    offered = [
        OfferedCertificate(
            key=str(i),
            program_code=s.program_code,
            program_name=catalogue.program(s.program_code).name,
            municipality_name=s.municipality_name,
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
