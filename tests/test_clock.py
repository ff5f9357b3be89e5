"""Japan's clock: the date-sensitive cases at 00:30 JST on a UTC host, where the host's date is yesterday.

The clock is frozen at 2027-04-01 00:30 JST (2027-03-31 15:30 UTC), away from the real date, so a
place that still asked the server's local date would see another day and fail here.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pmh import clock
from pmh.cards import service as cards
from pmh.eligibility.common import today_in_japan
from pmh.operator import clock as operator_clock
from pmh.registry import service as registry
from pmh.registry.schemas import ProgramCreate
from tests import factories as f
from tests.eligibility import world as w

JUST_AFTER_MIDNIGHT = dt.datetime(2027, 3, 31, 15, 30, tzinfo=dt.UTC)  # 2027-04-01 00:30 in Japan
JAPAN_DAY = dt.date(2027, 4, 1)


@pytest.fixture
def utc_host_after_midnight_in_japan(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        with clock.frozen_at(JUST_AFTER_MIDNIGHT):
            yield
    finally:
        monkeypatch.undo()
        time.tzset()


def test_every_today_is_japans_date(utc_host_after_midnight_in_japan: None) -> None:
    assert JUST_AFTER_MIDNIGHT.date() == dt.date(2027, 3, 31)  # what the host's own date would say
    assert clock.today() == JAPAN_DAY
    assert operator_clock.today() == JAPAN_DAY
    assert today_in_japan() == JAPAN_DAY
    assert clock.now_in_japan().utcoffset() == dt.timedelta(hours=9)


def test_frozen_at_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError), clock.frozen_at(dt.datetime(2027, 4, 1)):
        pass


def test_a_card_that_expired_yesterday_in_japan_is_refused(
    db_session: Session, utc_host_after_midnight_in_japan: None
) -> None:
    issued = cards.issue_card(db_session, f.my_number(4711), "1357", expires_on=dt.date(2027, 3, 31))
    check = cards.authenticate_card(db_session, issued.card_serial, "pin", "1357")
    assert check.refusal is not None and check.refusal.code == "card_expired"


def test_a_new_card_is_valid_ten_years_from_japans_date(
    db_session: Session, utc_host_after_midnight_in_japan: None
) -> None:
    issued = cards.issue_card(db_session, f.my_number(4712), "1357")
    assert issued.expires_on == dt.date(2037, 4, 1)


def test_a_program_without_a_start_date_starts_on_japans_date(
    db_session: Session, utc_host_after_midnight_in_japan: None
) -> None:
    caller = f.municipality_caller(db_session)
    program = registry.add_program(
        db_session, caller, ProgramCreate(program_code="kodomo", payer_numbers=[f.KODOMO_PAYER])
    )
    assert program.start_date == JAPAN_DAY


def test_a_certificate_starting_today_in_japan_is_in_force_by_default(
    db_session: Session, client: TestClient, utc_host_after_midnight_in_japan: None
) -> None:
    caller = f.municipality_caller(db_session, f.HACHIOJI)
    f.program(db_session, caller)
    f.insurance(db_session, w.MY_NUMBER, "佐藤 花子", "サトウ ハナコ", "2015-06-01", sex=2)
    w.register(db_session, caller, [w.certificate(f.KODOMO_PAYER, 7, valid_from=JAPAN_DAY.isoformat())])
    key = f.api_key(db_session, f.municipality(db_session, f.HACHIOJI), "municipality")
    response = client.get(
        "/api/v1/certificates",
        params={"payer_number": f.KODOMO_PAYER, "recipient_number": f.recipient(7)},
        headers=f.bearer(key),
    )
    assert response.status_code == 200, response.text
    assert response.json()["in_force"] is not None


def test_a_reception_at_half_past_midnight_belongs_to_japans_day(
    db_session: Session, client: TestClient, utc_host_after_midnight_in_japan: None
) -> None:
    world = w.build(db_session, client)
    reception_id = world.receive("all")
    listed = client.get("/api/v1/receptions", headers=world.clinic())  # no date: today in Japan
    assert [row["id"] for row in listed.json()] == [reception_id]
    result = world.eligibility(reception_id)  # no service date: today in Japan
    assert result["service_date"] == JAPAN_DAY.isoformat()


def test_pages_write_times_in_japan_with_the_zone_marked() -> None:
    from pmh.web.templating import jst_text

    assert jst_text(JUST_AFTER_MIDNIGHT) == "2027-04-01 00:30 JST"
    assert jst_text(JUST_AFTER_MIDNIGHT, "%H:%M") == "00:30 JST"
    assert jst_text(None) == ""


def test_the_keys_page_shows_a_key_made_after_midnight_in_japan_on_japans_date(
    db_session: Session, client: TestClient
) -> None:
    from tests.operator.support import sign_in

    clinic = f.institution(db_session)
    with clock.frozen_at(JUST_AFTER_MIDNIGHT):
        f.api_key(db_session, clinic, "institution")
    sign_in(client, db_session, clinic, "clock-clerk")
    page = client.get("/keys")
    assert "2027-04-01 00:30 JST" in page.text and "2027-03-31 15:30" not in page.text
