"""Organisations, API keys and staff sign-in: the logic behind every caller the hub knows."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh.auth import keycache
from pmh.auth.models import ApiKey, CardReader, Organisation, StaffSession, StaffUser
from pmh.auth.passwords import (
    MIN_PASSWORD_LENGTH,
    accepted_totp_step,
    hash_password,
    new_totp_secret,
    verify_password,
)
from pmh.auth.schemas import (
    ORGANISATION_KIND_FOR_ROLE,
    ROLE_LABELS,
    Caller,
    InstitutionKind,
    IssuedKey,
    Role,
)
from pmh.codes.checkdigits import check_number
from pmh.db import get_engine, utcnow
from pmh.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, NotPermitted
from pmh.reference import catalogue
from pmh.settings import get_settings

OPERATOR_CODE = "operator"
KEY_PREFIX = "pmh"
MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)

# 点数表 digit of a 医療機関コード: 1 医科, 3 歯科, 4 調剤 (pharmacies only).
_PHARMACY_TABLE = "4"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def get_organisation(session: Session, code: str) -> Organisation:
    """Return a registered organisation by its code."""
    organisation = session.scalar(select(Organisation).where(Organisation.code == code))
    if organisation is None:
        raise NotFound(f"組織コード {code} は登録されていません。")
    return organisation


def ensure_organisation(session: Session, code: str) -> Organisation:
    """Return the organisation with this code, registering a municipality or the operator on first use.

    Municipalities come from the reference master, so any valid 全国地方公共団体コード can be
    registered by naming it; institutions must be added explicitly with their name and kind.
    """
    existing = session.scalar(select(Organisation).where(Organisation.code == code))
    if existing is not None:
        return existing
    if code == OPERATOR_CODE:
        organisation = Organisation(code=OPERATOR_CODE, name="運営主体", kind="operator")
    else:
        try:
            municipality = catalogue.municipality(code)
        except KeyError as exc:
            raise NotFound(
                f"組織コード {code} は登録されていません。自治体は6桁の全国地方公共団体コード、"
                "医療機関は `pmh institutions add` で登録した医療機関コードを指定してください。"
            ) from exc
        organisation = Organisation(
            code=municipality.code,
            name=municipality.name,
            kind="municipality",
            prefecture_code=municipality.prefecture_code,
        )
    session.add(organisation)
    session.flush()
    return organisation


def add_institution(
    session: Session, code: str, name: str, kind: InstitutionKind, large_chain: bool = False
) -> Organisation:
    """Register an institution (医療機関・薬局) under its 10-digit 医療機関コード."""
    result = check_number(code, "institution")
    if not result.valid:
        raise InvalidInput(f"医療機関コードが不正です: {result.reason}")
    table_digit = result.value[2]
    if (kind == "pharmacy") != (table_digit == _PHARMACY_TABLE):
        raise InvalidInput("医療機関コードの点数表番号（3桁目）と種別が一致しません（薬局は4、医科は1、歯科は3）。")
    if large_chain and kind != "pharmacy":
        raise InvalidInput("大型チェーン薬局の指定は薬局にのみできます。")
    if session.scalar(select(Organisation.id).where(Organisation.code == result.value)) is not None:
        raise Conflict(f"医療機関コード {result.value} は既に登録されています。")
    organisation = Organisation(
        code=result.value,
        name=name.strip(),
        kind="institution",
        prefecture_code=result.value[:2],
        institution_kind=kind,
        large_chain=large_chain,
    )
    session.add(organisation)
    session.flush()
    return organisation


def create_api_key(session: Session, organisation: Organisation, role: Role, label: str | None = None) -> IssuedKey:
    """Issue an API key for one organisation and role; the plain key is returned once only."""
    expected_kind = ORGANISATION_KIND_FOR_ROLE[role]
    if organisation.kind != expected_kind:
        raise InvalidInput(
            f"{ROLE_LABELS[role]}の鍵は{ROLE_LABELS.get(expected_kind, expected_kind)}の組織にのみ発行できます"
            f"（{organisation.code} は{ROLE_LABELS.get(organisation.kind, organisation.kind)}）。"
        )
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    session.add(ApiKey(organisation_id=organisation.id, role=role, prefix=prefix, key_digest=_digest(key), label=label))
    session.flush()
    return IssuedKey(
        key=key,
        prefix=prefix,
        role=role,
        organisation_code=organisation.code,
        organisation_name=organisation.name,
    )


def revoke_api_key(session: Session, prefix: str) -> None:
    """Revoke the key with this prefix so it is refused from now on."""
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None:
        raise NotFound(f"鍵 {prefix} は見つかりません。")
    key.revoked_at = utcnow()
    keycache.announce_revocation(session)


class KeyRefused(NotAuthenticated):
    """An unknown or revoked API key; the failure count of the client's address commits with it."""

    keeps_work: ClassVar[bool] = True


def authenticate_api_key(session: Session, token: str) -> Caller:
    """Return the caller a bearer key stands for, or refuse an unknown or revoked key.

    A key issued to a registered card reader carries the reader's name and whether it is a
    face-recognition device.
    """
    digest = _digest(token)
    cache = keycache.cache_for(session.get_bind().engine, get_settings().api_key_cache_seconds)
    cached = cache.get(digest)
    if cached is not None:
        return cached
    generation = cache.generation
    row = session.execute(
        select(ApiKey, Organisation, CardReader)
        .join(Organisation, Organisation.id == ApiKey.organisation_id)
        .outerjoin(CardReader, CardReader.api_key_id == ApiKey.id)
        .where(ApiKey.key_digest == digest)
    ).first()
    if row is None or row.ApiKey.revoked_at is not None:
        raise KeyRefused("APIキーが無効です。")
    api_key, organisation, reader = row
    caller = Caller(
        organisation_id=organisation.id,
        organisation_code=organisation.code,
        organisation_name=organisation.name,
        organisation_kind=organisation.kind,
        role=api_key.role,
        actor=f"key:{api_key.prefix}",
        reader_name=reader.name if reader is not None else None,
        face_device=reader is not None and reader.face_recognition and reader.revoked_at is None,
    )
    cache.put(digest, caller, generation)
    return caller


def cached_caller(token: str) -> Caller | None:
    """Return the caller of a key this process verified recently on its configured database, else None.

    No database is read: a miss means "look it up" (:func:`authenticate_api_key`), never "refused".
    """
    return keycache.cache_for(get_engine(), get_settings().api_key_cache_seconds).get(_digest(token))


def require_role(caller: Caller, roles: tuple[str, ...]) -> None:
    """Refuse a caller whose role is not among those a route admits."""
    if caller.role not in roles:
        admitted = "・".join(ROLE_LABELS[r] for r in roles)
        raise NotPermitted(f"この操作は{admitted}のみが行えます。")


def create_staff_user(
    session: Session, organisation: Organisation, login: str, display_name: str, password: str
) -> tuple[StaffUser, str]:
    """Create a staff account; returns it with its new TOTP secret (shown once for enrolment)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"パスワードは{MIN_PASSWORD_LENGTH}文字以上にしてください。")
    if session.scalar(select(StaffUser.id).where(StaffUser.login == login)) is not None:
        raise Conflict(f"ログインID {login} は既に使われています。")
    secret = new_totp_secret()
    user = StaffUser(
        organisation_id=organisation.id,
        login=login,
        display_name=display_name,
        password_hash=hash_password(password),
        totp_secret=secret,
    )
    session.add(user)
    session.flush()
    return user, secret


_SIGN_IN_REFUSED = (
    "ログインID、パスワードまたは確認コードが正しくありません。"
    f"{MAX_FAILED_LOGINS}回続けて誤ると、しばらくログインできなくなります。"
)


@lru_cache(maxsize=1)
def _dummy_password_hash() -> str:
    """Return an argon2 hash no password matches, checked for unknown logins so they take as long."""
    return hash_password(secrets.token_urlsafe(24))


@dataclass(frozen=True)
class SignInOutcome:
    """The result of a sign-in attempt: a new session and its cookie token, or why it was refused.

    A refusal is returned rather than raised so that the edge still commits the failure count.
    """

    staff_session: StaffSession | None = None
    token: str | None = None
    refusal: str | None = None


def sign_in(session: Session, login: str, password: str, totp: str, *, absolute_hours: int) -> SignInOutcome:
    """Check password and TOTP code and open a staff session.

    The staff row is locked (``SELECT … FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` serialises
    writers the same way) for the whole check, so parallel attempts are counted one after the
    other: at most :data:`MAX_FAILED_LOGINS` password checks before the lock, and one TOTP code
    opens at most one session. The refusal never says which factor was wrong, nor whether the
    login exists or is locked: an unknown, inactive or locked login is checked against a dummy
    argon2 hash, so it takes as long and reads the same.
    """
    now = utcnow()
    user = session.scalar(select(StaffUser).where(StaffUser.login == login).with_for_update())
    if user is None or not user.is_active or (user.locked_until is not None and user.locked_until > now):
        verify_password(_dummy_password_hash(), password)
        return SignInOutcome(refusal=_SIGN_IN_REFUSED)
    password_ok = verify_password(user.password_hash, password)
    step = accepted_totp_step(user.totp_secret, totp, now, user.totp_last_step)
    if not password_ok or step is None:
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
        session.flush()
        return SignInOutcome(refusal=_SIGN_IN_REFUSED)
    user.failed_logins = 0
    user.locked_until = None
    user.totp_last_step = step
    token = secrets.token_urlsafe(32)
    staff_session = StaffSession(
        staff_user_id=user.id,
        token_digest=_digest(token),
        csrf_token=secrets.token_urlsafe(24),
        last_seen_at=now,
        expires_at=now + dt.timedelta(hours=absolute_hours),
    )
    session.add(staff_session)
    session.flush()
    return SignInOutcome(staff_session=staff_session, token=token)


def resolve_staff_session(session: Session, token: str, *, idle_minutes: int) -> tuple[Caller, StaffSession]:
    """Return the caller behind a session cookie; refuse an ended, idle or expired session."""
    now = utcnow()
    row = session.execute(
        select(StaffSession, StaffUser, Organisation)
        .join(StaffUser, StaffUser.id == StaffSession.staff_user_id)
        .join(Organisation, Organisation.id == StaffUser.organisation_id)
        .where(StaffSession.token_digest == _digest(token))
    ).first()
    if row is None:
        raise NotAuthenticated("ログインしてください。")
    staff_session, user, organisation = row
    idle_limit = staff_session.last_seen_at + dt.timedelta(minutes=idle_minutes)
    if staff_session.ended_at is not None or not user.is_active or now >= staff_session.expires_at:
        raise NotAuthenticated("ログインの有効期限が切れました。もう一度ログインしてください。")
    if now >= idle_limit:
        raise NotAuthenticated("一定時間操作がなかったため、ログアウトしました。")
    staff_session.last_seen_at = now
    caller = Caller(
        organisation_id=organisation.id,
        organisation_code=organisation.code,
        organisation_name=organisation.name,
        organisation_kind=organisation.kind,
        role=organisation.kind,
        actor=f"staff:{user.login}",
    )
    return caller, staff_session


def sign_out(session: Session, token: str) -> None:
    """End the staff session behind a cookie token (no error when it is already gone)."""
    staff_session = session.scalar(select(StaffSession).where(StaffSession.token_digest == _digest(token)))
    if staff_session is not None and staff_session.ended_at is None:
        staff_session.ended_at = utcnow()
