"""The simulated national services: insurance records found by My Number, and test My Number cards."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar, Literal

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from pmh import clock
from pmh.auth.passwords import hash_password, verify_password
from pmh.bulk import bulk_insert, in_values
from pmh.cards.models import InsuranceRecord, TestCard
from pmh.codes.checkdigits import check_number
from pmh.codes.text import is_katakana, normalize_digits, normalize_kana, normalize_text
from pmh.codes.wareki import DateFormatError, parse_date
from pmh.csvfiles import rows_under_header, text_stream
from pmh.db import table_of, utcnow
from pmh.errors import Conflict, FieldError, InvalidInput, NotAuthenticated, NotFound
from pmh.privacy import my_number_digest
from pmh.registry.parsing import today_in_japan
from pmh.settings import get_settings

INSURANCE_COLUMNS = (
    "my_number",
    "insurer_number",
    "symbol",
    "number",
    "branch",
    "name",
    "name_kana",
    "birth_date",
    "sex",
    "copay_rate",
    "valid_from",
    "valid_to",
    "relationship",
)
"""The columns of the insurance CSV (docs/cards.md); ``relationship`` is optional, even as a column."""
_REQUIRED = ("my_number", "insurer_number", "number", "name", "name_kana", "birth_date", "sex")
CHUNK = 5000

RELATIONSHIPS: dict[str, int] = {
    "1": 1,
    "2": 2,
    "被保険者": 1,
    "被扶養者": 2,
    "本人": 1,
    "家族": 2,
}
"""被保険者区分 as the CSV may write it → JP Core's code (1 被保険者, 2 被扶養者; urn:oid:1.2.392.100495.20.2.62)."""


def person_digest(my_number: str) -> str:
    """Return the keyed digest under which a person's My Number is stored and looked up."""
    return my_number_digest(my_number, get_settings().effective_secret_key)


def person_digester() -> Callable[[str], str]:
    """Return :func:`person_digest` with the server secret read once (for bulk work)."""
    secret = get_settings().effective_secret_key
    return lambda my_number: my_number_digest(my_number, secret)


@dataclass(frozen=True, slots=True)
class RecordIdentity:
    """The facts of an insurance record the linking guard compares."""

    name: str
    name_kana: str
    birth_date: dt.date


def identities_by_digest(session: Session, digests: Iterable[str]) -> dict[str, RecordIdentity]:
    """Return name, kana and birth date of the insurance records of the given digests (bulk lookups)."""
    wanted = list(set(digests))
    table = table_of(InsuranceRecord).c
    found: dict[str, RecordIdentity] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select(table.person_digest, table.name, table.name_kana, table.birth_date).where(
                in_values(session, table.person_digest, wanted[start : start + CHUNK])
            )
        )
        for digest, name, kana, birth in rows:
            found[digest] = RecordIdentity(name, kana, birth)
    return found


def records_by_digest(session: Session, digests: Iterable[str]) -> dict[str, InsuranceRecord]:
    """Return the insurance records of the given person digests."""
    wanted = list(set(digests))
    found: dict[str, InsuranceRecord] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        for record in session.scalars(select(InsuranceRecord).where(InsuranceRecord.person_digest.in_(chunk))):
            found[record.person_digest] = record
    return found


@dataclass
class InsuranceImport:
    """What an insurance-record import did: rows added and updated, or every problem found."""

    added: int = 0
    updated: int = 0
    errors: list[FieldError] = field(default_factory=list)


def _validated(raw: Mapping[str, str], row: int, errors: list[FieldError]) -> dict[str, Any] | None:
    """Return the record's column values, or None after adding its problems to ``errors``."""
    before = len(errors)
    value = {k: normalize_text(raw.get(k) or "") for k in INSURANCE_COLUMNS}
    for column in _REQUIRED:
        if not value[column]:
            errors.append(FieldError(column, "required", f"{column} は必須です。", row))
    record: dict[str, Any] = {}
    for column, kind in (("my_number", "mynumber"), ("insurer_number", "insurer")):
        if value[column]:
            result = check_number(value[column], kind)  # type: ignore[arg-type]
            if not result.valid:
                errors.append(FieldError(column, "invalid_number", f"{column}: {result.reason}", row))
            record[column] = result.value
    for column in ("birth_date", "valid_from", "valid_to"):
        record[column] = None
        if value[column]:
            try:
                record[column] = parse_date(value[column])
            except DateFormatError as exc:
                errors.append(FieldError(column, "invalid_date", f"{column}: {exc}", row))
    if record["birth_date"] is not None and record["birth_date"] > today_in_japan():
        errors.append(FieldError("birth_date", "future_date", "birth_date が未来の日付です。", row))
        record["birth_date"] = None
    kana = normalize_kana(value["name_kana"])
    if kana and not is_katakana(kana):
        errors.append(FieldError("name_kana", "not_katakana", "name_kana はカタカナで入力してください。", row))
    sex = normalize_digits(value["sex"])
    if sex and sex not in ("1", "2"):
        errors.append(FieldError("sex", "invalid_choice", "sex は 1（男）か 2（女）です。", row))
    rate = normalize_digits(value["copay_rate"])
    if rate and (not rate.isdigit() or int(rate) > 100):
        errors.append(FieldError("copay_rate", "out_of_range", "copay_rate は 0〜100 の整数です。", row))
    relationship = RELATIONSHIPS.get(normalize_digits(value["relationship"]))
    if value["relationship"] and relationship is None:
        message = (
            f"relationship（被保険者区分）は 1（被保険者・本人）か 2（被扶養者・家族）です"
            f"（入力「{value['relationship'][:20]}」）。"
        )
        errors.append(FieldError("relationship", "invalid_choice", message, row))
    if len(errors) > before:
        return None
    record.update(
        person_digest=person_digest(record.pop("my_number")),
        symbol=value["symbol"],
        number=value["number"],
        branch=value["branch"] or None,
        name=value["name"],
        name_kana=kana,
        sex=int(sex),
        copay_rate=int(rate) if rate else None,
    )
    # A file without the column says nothing about it: an update keeps the stored value then.
    if "relationship" in raw:
        record["relationship"] = relationship
    return record


def import_insurance_records(
    session: Session, stream: IO[str], progress: Callable[[int], None] | None = None
) -> InsuranceImport:
    """Load insurance records from CSV (docs/cards.md), all or nothing; upsert by My Number digest."""
    result = InsuranceImport()
    pending: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, raw in rows_under_header(stream, _REQUIRED):
        record = _validated(raw, number, result.errors)
        if record is None:
            continue
        if record["person_digest"] in seen:
            result.errors.append(
                FieldError("my_number", "duplicate_in_file", "同じ個人番号が複数行にあります。", number)
            )
            continue
        seen.add(record["person_digest"])
        pending.append(record)
        if len(pending) >= CHUNK:
            _store(session, pending, result)
            if progress:
                progress(number)
            pending = []
    if pending:
        _store(session, pending, result)
    if result.errors:
        raise InvalidInput(f"保険資格ファイルに {len(result.errors)} 件の誤りがあります。", result.errors)
    return result


def _store(session: Session, records: list[dict[str, Any]], result: InsuranceImport) -> None:
    if result.errors:
        return  # the import will be refused as a whole; stop writing
    existing = set(
        session.scalars(
            select(InsuranceRecord.person_digest).where(
                InsuranceRecord.person_digest.in_([r["person_digest"] for r in records])
            )
        )
    )
    now = utcnow()
    new = [dict(r, created_at=now, updated_at=now) for r in records if r["person_digest"] not in existing]
    changed = [dict(r, updated_at=now, key=r["person_digest"]) for r in records if r["person_digest"] in existing]
    if new:
        bulk_insert(session, table_of(InsuranceRecord), new)
    if changed:
        table = table_of(InsuranceRecord)
        columns: dict[str, Any] = {k: bindparam(k) for k in changed[0] if k not in ("key", "person_digest")}
        session.connection().execute(
            update(table).where(table.c.person_digest == bindparam("key")).values(**columns), changed
        )
    result.added += len(new)
    result.updated += len(changed)


def import_insurance_text(session: Session, text: str) -> InsuranceImport:
    """Import insurance records from CSV text (tests, the demo)."""
    return import_insurance_records(session, text_stream(text))


# --- Test My Number cards (the simulated card service) ---------------------------------------

PIN_ATTEMPTS = 3
"""Wrong PINs in a row that lock a card, as on real My Number cards."""
CARD_VALIDITY_YEARS = 10
SERIAL_LENGTH = 12
SERIAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""Upper-case letters and digits without the easily confused 0/O and 1/I."""
_PIN_PATTERN = re.compile(r"[0-9]{4}")
UNLOCK_PATH = (
    "お住まいの市区町村の窓口でPINの初期化（暗証番号の再設定）を行ってください。"
    "マイナンバーカードと本人確認書類をお持ちください。"
)
"""What a patient whose PIN is locked must do, as real card readers tell them (API and /kiosk)."""

CardMethod = Literal["face", "pin"]
"""How the holder proves themself at the card reader: face (顔認証) or PIN (暗証番号)."""


class CardRefused(NotAuthenticated):
    """The card service refuses a card or its holder's proof (カードによる本人確認ができません)."""

    code: ClassVar[str] = "card_refused"
    title: ClassVar[str] = "マイナンバーカードで本人確認できません"
    keeps_work: ClassVar[bool] = True  # the wrong-PIN count and the lock must survive the refusal


class CardUnknown(CardRefused):
    """No card with this serial was issued."""

    code: ClassVar[str] = "card_unknown"


class CardExpired(CardRefused):
    """The card is past its expiry date (有効期限切れ)."""

    code: ClassVar[str] = "card_expired"


class CardLocked(CardRefused):
    """The PIN is locked after too many wrong PINs in a row (暗証番号ロック); carries the unlock path."""

    code: ClassVar[str] = "card_locked"


class CardRevoked(CardRefused):
    """The card was revoked (廃止・失効)."""

    code: ClassVar[str] = "card_revoked"


class PinWrong(CardRefused):
    """The PIN does not match; the message says how many tries remain."""

    code: ClassVar[str] = "pin_wrong"


class PinRequired(CardRefused):
    """PIN authentication was chosen but no PIN was given."""

    code: ClassVar[str] = "pin_required"


class FaceNotAvailable(CardRefused):
    """Face authentication from a reader that is not a registered face-recognition device."""

    status_code: ClassVar[int] = 403
    code: ClassVar[str] = "face_not_available"


class FaceNotMatched(CardRefused):
    """The reader's face check did not match the card's photo."""

    code: ClassVar[str] = "face_not_matched"


@dataclass(frozen=True, slots=True)
class IssuedCard:
    """A newly issued test card: its serial, its PIN (shown this once) and its expiry date."""

    card_serial: str
    pin: str
    expires_on: dt.date


@dataclass(frozen=True, slots=True)
class CardIdentity:
    """Who an authenticated card belongs to: the card and the holder's My Number digest."""

    card_serial: str
    person_digest: str


@dataclass(frozen=True, slots=True)
class CardCheck:
    """The outcome of a card authentication: an identity, or the refusal to raise after commit."""

    identity: CardIdentity | None = None
    refusal: CardRefused | None = None

    @property
    def accepted(self) -> bool:
        """Return True when the holder was authenticated."""
        return self.identity is not None

    def identity_or_raise(self) -> CardIdentity:
        """Return the identity, or raise the refusal (call it only after the session has committed)."""
        if self.identity is None:
            raise self.refusal or CardRefused("カードによる本人確認ができませんでした。")
        return self.identity


def _ten_years_after(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + CARD_VALIDITY_YEARS)
    except ValueError:  # 29 February in a year that is not a leap year
        return day.replace(year=day.year + CARD_VALIDITY_YEARS, day=28)


def _new_serial(session: Session) -> str:
    while True:
        serial = "".join(secrets.choice(SERIAL_ALPHABET) for _ in range(SERIAL_LENGTH))
        if session.scalar(select(TestCard.id).where(TestCard.card_serial == serial)) is None:
            return serial


def _normalize_serial(card_serial: str) -> str:
    return normalize_text(card_serial).upper()


def issue_card(
    session: Session, my_number: str, pin: str | None = None, expires_on: dt.date | None = None
) -> IssuedCard:
    """Issue a test My Number card for a person; the PIN is returned this once and stored only hashed.

    Without ``pin`` a random 4-digit PIN is drawn; without ``expires_on`` the card is valid for ten
    years from today. A date in the past is accepted on purpose: it issues an expired card to test
    the refusal with.
    """
    checked = check_number(my_number, "mynumber")
    if not checked.valid:
        message = f"個人番号が正しくありません: {checked.reason}"
        raise InvalidInput(message, [FieldError("my_number", "invalid_number", message)])
    if pin is None:
        pin = f"{secrets.randbelow(10_000):04d}"
    pin = normalize_digits(pin)
    if not _PIN_PATTERN.fullmatch(pin):
        message = "暗証番号は数字4桁です。"
        raise InvalidInput(message, [FieldError("pin", "invalid_pin", message)])
    card = TestCard(
        card_serial=_new_serial(session),
        person_digest=person_digest(checked.value),
        pin_hash=hash_password(pin),
        failed_pin_attempts=0,
        expires_on=expires_on or _ten_years_after(clock.today()),
    )
    session.add(card)
    session.flush()
    return IssuedCard(card.card_serial, pin, card.expires_on)


def authenticate_card(
    session: Session,
    card_serial: str,
    method: CardMethod,
    pin: str | None = None,
    face_matched: bool = False,
    today: dt.date | None = None,
) -> CardCheck:
    """Authenticate a card's holder by face or PIN, as the card reader does with the card service.

    ``face_matched`` is the reader's own verdict and counts as a match only when given as True; the
    hub takes it only from a registered face-recognition reader (``eligibility.open_card_session``).

    A wrong PIN changes the card (the counter, and the lock on the third wrong PIN in a row), so a
    refusal is **returned**, never raised here: an edge that rolls back on :class:`PmhError` would
    otherwise undo the count and allow endless guessing. The edge commits first, then raises::

        with unit_of_work() as session:
            check = authenticate_card(session, serial, "pin", pin)
        identity = check.identity_or_raise()  # after the commit

    A correct PIN resets the counter; a locked card refuses even the correct PIN until
    :func:`unlock_card`. Face authentication neither reads nor touches the PIN counter and works on a
    PIN-locked card, as at a real reader. Revoked and expired cards (past ``expires_on``) are refused
    whatever the method.
    """
    query = select(TestCard).where(TestCard.card_serial == _normalize_serial(card_serial))
    if method == "pin":
        query = query.with_for_update()  # concurrent guesses must not share one count
    card = session.scalar(query)
    if card is None:
        return CardCheck(refusal=CardUnknown("このマイナンバーカードは発行されていません。"))
    if card.revoked_at is not None:
        return CardCheck(refusal=CardRevoked("このマイナンバーカードは廃止されています。"))
    if (today or clock.today()) > card.expires_on:
        return CardCheck(
            refusal=CardExpired(f"このマイナンバーカードは有効期限（{card.expires_on.isoformat()}）が切れています。")
        )
    identity = CardIdentity(card.card_serial, card.person_digest)
    if method == "face":
        if not face_matched:
            return CardCheck(refusal=FaceNotMatched("顔認証で本人と確認できませんでした。暗証番号で確認してください。"))
        return CardCheck(identity=identity)
    if card.locked_at is not None:
        return CardCheck(
            refusal=CardLocked(
                f"暗証番号（PIN）がロックされています。{UNLOCK_PATH}", extensions={"unlock_path": UNLOCK_PATH}
            )
        )
    if not pin:
        return CardCheck(refusal=PinRequired("暗証番号（数字4桁）を入力してください。"))
    if verify_password(card.pin_hash, normalize_digits(pin)):
        card.failed_pin_attempts = 0
        return CardCheck(identity=identity)
    card.failed_pin_attempts += 1
    remaining = PIN_ATTEMPTS - card.failed_pin_attempts
    if remaining <= 0:
        card.locked_at = utcnow()
        message = f"暗証番号が{PIN_ATTEMPTS}回続けて違ったため、ロックされました。{UNLOCK_PATH}"
        return CardCheck(refusal=CardLocked(message, extensions={"unlock_path": UNLOCK_PATH}))
    return CardCheck(refusal=PinWrong(f"暗証番号が違います。あと{remaining}回間違えるとカードがロックされます。"))


def _card(session: Session, card_serial: str) -> TestCard:
    card = session.scalar(
        select(TestCard).where(TestCard.card_serial == _normalize_serial(card_serial)).with_for_update()
    )
    if card is None:
        raise NotFound(f"カード {card_serial} は発行されていません。")
    return card


def unlock_card(session: Session, card_serial: str) -> None:
    """Clear a card's PIN lock and wrong-PIN counter (the municipal window's reset, ロック解除)."""
    card = _card(session, card_serial)
    if card.revoked_at is not None:
        raise Conflict("廃止されたカードのロックは解除できません。")
    card.failed_pin_attempts = 0
    card.locked_at = None


def revoke_card(session: Session, card_serial: str) -> None:
    """Revoke a card (廃止) so that every later authentication is refused; revoking twice changes nothing."""
    card = _card(session, card_serial)
    if card.revoked_at is None:
        card.revoked_at = utcnow()
