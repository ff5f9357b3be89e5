"""Test My Number cards: issuing, PIN and face authentication, the PIN lock, expiry and revocation."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pmh import clock
from pmh.cards import models, service
from pmh.cards.service import CardCheck, IssuedCard
from pmh.cli import app as cli
from pmh.errors import InvalidInput, NotFound
from tests import factories as f

MY_NUMBER = f.my_number(4242)
PIN = "4826"
METHODS: tuple[service.CardMethod, ...] = ("pin", "face")


@pytest.fixture
def card(db_session: Session) -> IssuedCard:
    with db_session.begin_nested():
        return service.issue_card(db_session, MY_NUMBER, PIN)


def _request(session: Session, serial: str, pin: str | None, method: service.CardMethod = "pin") -> CardCheck:
    """Authenticate in a savepoint of its own, committed like a separate request's transaction."""
    with session.begin_nested():
        check = service.authenticate_card(session, serial, method, pin, face_matched=method == "face")
    session.expire_all()
    return check


def _stored(session: Session, serial: str) -> models.TestCard:
    stored = session.scalar(select(models.TestCard).where(models.TestCard.card_serial == serial))
    assert stored is not None
    return stored


def _refusal_code(check: CardCheck) -> str:
    assert check.identity is None and check.refusal is not None
    return check.refusal.code


def test_issue_stores_neither_the_my_number_nor_the_pin(db_session: Session, card: IssuedCard) -> None:
    row = db_session.execute(text("SELECT * FROM test_cards WHERE card_serial = :s"), {"s": card.card_serial}).one()
    values = " ".join(str(value) for value in row)
    assert MY_NUMBER not in values
    assert PIN not in values
    stored = _stored(db_session, card.card_serial)
    assert stored.person_digest == service.person_digest(MY_NUMBER)
    assert stored.pin_hash.startswith("$argon2")


def test_issue_draws_serial_pin_and_ten_year_expiry(db_session: Session) -> None:
    issued = service.issue_card(db_session, MY_NUMBER)
    assert len(issued.card_serial) == 12
    assert set(issued.card_serial) <= set(service.SERIAL_ALPHABET)
    assert not set(issued.card_serial) & set("0O1I")
    assert len(issued.pin) == 4 and issued.pin.isdigit()
    assert issued.expires_on == _ten_years(clock.today())
    assert service.authenticate_card(db_session, issued.card_serial, "pin", issued.pin).accepted


def _ten_years(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 10)
    except ValueError:
        return day.replace(year=day.year + 10, day=28)


def test_issue_refuses_a_wrong_my_number(db_session: Session) -> None:
    wrong = MY_NUMBER[:11] + str((int(MY_NUMBER[11]) + 1) % 10)
    with pytest.raises(InvalidInput, match="検証番号") as caught:
        service.issue_card(db_session, wrong, PIN)
    assert caught.value.errors[0].field == "my_number"
    assert wrong not in caught.value.message


@pytest.mark.parametrize("pin", ["123", "12345", "12a4", ""])
def test_issue_refuses_a_pin_that_is_not_four_digits(db_session: Session, pin: str) -> None:
    with pytest.raises(InvalidInput, match="数字4桁") as caught:
        service.issue_card(db_session, MY_NUMBER, pin)
    assert caught.value.errors[0].field == "pin"


def test_right_pin_authenticates_to_the_persons_digest(db_session: Session, card: IssuedCard) -> None:
    identity = _request(db_session, card.card_serial, PIN).identity_or_raise()
    assert identity == service.CardIdentity(card.card_serial, service.person_digest(MY_NUMBER))


def test_wrong_pin_says_how_many_tries_remain(db_session: Session, card: IssuedCard) -> None:
    check = _request(db_session, card.card_serial, "0000")
    assert _refusal_code(check) == "pin_wrong"
    with pytest.raises(service.PinWrong) as caught:
        check.identity_or_raise()
    assert caught.value.message == "暗証番号が違います。あと2回間違えるとカードがロックされます。"
    assert caught.value.status_code == 401


def test_three_wrong_pins_in_a_row_lock_the_card(db_session: Session, card: IssuedCard) -> None:
    codes = [_refusal_code(_request(db_session, card.card_serial, "0000")) for _ in range(3)]
    assert codes == ["pin_wrong", "pin_wrong", "card_locked"]
    stored = _stored(db_session, card.card_serial)
    assert stored.failed_pin_attempts == 3 and stored.locked_at is not None


def test_wrong_pin_is_counted_when_the_edge_raises_after_commit(db_session: Session, card: IssuedCard) -> None:
    with pytest.raises(service.PinWrong):
        _request(db_session, card.card_serial, "0000").identity_or_raise()
    assert _stored(db_session, card.card_serial).failed_pin_attempts == 1


def test_right_pin_resets_the_count(db_session: Session, card: IssuedCard) -> None:
    for _ in range(2):
        _request(db_session, card.card_serial, "0000")
    assert _request(db_session, card.card_serial, PIN).accepted
    assert _stored(db_session, card.card_serial).failed_pin_attempts == 0
    assert _refusal_code(_request(db_session, card.card_serial, "0000")) == "pin_wrong"


def test_locked_card_refuses_the_right_pin(db_session: Session, card: IssuedCard) -> None:
    for _ in range(3):
        _request(db_session, card.card_serial, "0000")
    check = _request(db_session, card.card_serial, PIN)
    assert _refusal_code(check) == "card_locked"
    assert check.refusal is not None and "市区町村の窓口" in check.refusal.message
    assert _stored(db_session, card.card_serial).failed_pin_attempts == 3


def test_face_authentication_works_on_a_pin_locked_card(db_session: Session, card: IssuedCard) -> None:
    for _ in range(3):
        _request(db_session, card.card_serial, "0000")
    identity = _request(db_session, card.card_serial, None, "face").identity_or_raise()
    assert identity.person_digest == service.person_digest(MY_NUMBER)
    assert _stored(db_session, card.card_serial).failed_pin_attempts == 3


def test_face_authentication_leaves_the_pin_count_alone(db_session: Session, card: IssuedCard) -> None:
    _request(db_session, card.card_serial, "0000")
    assert _request(db_session, card.card_serial, None, "face").accepted
    assert _stored(db_session, card.card_serial).failed_pin_attempts == 1


def test_face_not_matched_is_refused(db_session: Session, card: IssuedCard) -> None:
    check = service.authenticate_card(db_session, card.card_serial, "face", face_matched=False)
    assert _refusal_code(check) == "face_not_matched"


def test_face_match_is_not_assumed(db_session: Session, card: IssuedCard) -> None:
    assert _refusal_code(service.authenticate_card(db_session, card.card_serial, "face")) == "face_not_matched"


def test_pin_method_without_a_pin_is_refused_and_not_counted(db_session: Session, card: IssuedCard) -> None:
    assert _refusal_code(_request(db_session, card.card_serial, None)) == "pin_required"
    assert _stored(db_session, card.card_serial).failed_pin_attempts == 0


def test_expired_card_is_refused_by_pin_and_face(db_session: Session) -> None:
    expires_on = dt.date(2030, 3, 31)
    issued = service.issue_card(db_session, MY_NUMBER, PIN, expires_on)
    assert service.authenticate_card(db_session, issued.card_serial, "pin", PIN, today=expires_on).accepted
    after = expires_on + dt.timedelta(days=1)
    for method in METHODS:
        check = service.authenticate_card(db_session, issued.card_serial, method, PIN, True, today=after)
        assert _refusal_code(check) == "card_expired"


def test_revoked_card_is_refused(db_session: Session, card: IssuedCard) -> None:
    service.revoke_card(db_session, card.card_serial)
    for method in METHODS:
        check = service.authenticate_card(db_session, card.card_serial, method, PIN, True)
        assert _refusal_code(check) == "card_revoked"


def test_unknown_serial_is_refused(db_session: Session) -> None:
    check = service.authenticate_card(db_session, "ABCDEFGHJKLM", "pin", PIN)
    assert _refusal_code(check) == "card_unknown"
    with pytest.raises(service.CardUnknown):
        check.identity_or_raise()


def test_unlock_clears_the_lock(db_session: Session, card: IssuedCard) -> None:
    for _ in range(3):
        _request(db_session, card.card_serial, "0000")
    with db_session.begin_nested():
        service.unlock_card(db_session, card.card_serial)
    stored = _stored(db_session, card.card_serial)
    assert stored.failed_pin_attempts == 0 and stored.locked_at is None
    assert _request(db_session, card.card_serial, PIN).accepted


def test_unlock_of_an_unknown_serial_is_not_found(db_session: Session) -> None:
    with pytest.raises(NotFound):
        service.unlock_card(db_session, "ABCDEFGHJKLM")


def test_cli_issue_prints_serial_and_pin_but_never_the_my_number(db_session: Session) -> None:
    result = CliRunner().invoke(cli, ["cards", "issue", "--my-number", MY_NUMBER, "--pin", PIN, "--json"])
    assert result.exit_code == 0, result.output
    assert MY_NUMBER not in result.output
    issued = json.loads(result.stdout)
    assert set(issued) == {"card_serial", "pin", "expires_on"}
    assert issued["pin"] == PIN
    identity = service.authenticate_card(db_session, issued["card_serial"], "pin", PIN).identity_or_raise()
    assert identity.person_digest == service.person_digest(MY_NUMBER)


def test_cli_issue_refuses_a_wrong_my_number(db_session: Session) -> None:
    wrong = MY_NUMBER[:11] + str((int(MY_NUMBER[11]) + 1) % 10)
    result = CliRunner().invoke(cli, ["cards", "issue", "--my-number", wrong, "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == "invalid_input"


def test_cli_unlock_clears_the_lock(db_session: Session, card: IssuedCard) -> None:
    for _ in range(3):
        _request(db_session, card.card_serial, "0000")
    result = CliRunner().invoke(cli, ["cards", "unlock", card.card_serial])
    assert result.exit_code == 0, result.output
    db_session.expire_all()
    assert _stored(db_session, card.card_serial).locked_at is None
