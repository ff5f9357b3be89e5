"""The self-pay ledger over HTTP: month totals, caps, refusals, corrections, quotes and the sheet."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pmh.copay.ledger import suggested_copay
from tests import factories as f
from tests.eligibility import world as w


@pytest.fixture
def world(db_session: Session, client: TestClient) -> w.World:
    return w.build(db_session, client)


def _nanbyo(reception_id: int, day: dt.date, paid: int, cost: int = 100_000, inpatient: bool = False) -> dict[str, Any]:
    return {
        "reception_id": reception_id,
        "payer_number": w.NANBYO_PAYER,
        "recipient_number": f.recipient(1),
        "service_date": day.isoformat(),
        "total_cost": cost,
        "copay_amount": paid,
        "inpatient": inpatient,
    }


def _post(world: w.World, body: dict[str, Any], key: str | None = None) -> tuple[int, dict[str, Any]]:
    response = world.client.post("/api/v1/copay-entries", json=body, headers=f.bearer(key or world.clinic_key))
    return response.status_code, dict(response.json())


@pytest.fixture
def other(world: w.World) -> str:
    """An institution key of another clinic whose reader received the same patient with consent."""
    return world.other_clinic_key


def _other_reception(world: w.World) -> int:
    return world.receive("all", key=world.other_reader_key)


def test_entries_add_up_per_month_across_institutions(world: w.World) -> None:
    mine, theirs = world.receive("all"), _other_reception(world)
    today = w.TODAY
    status, first = _post(world, _nanbyo(mine, today, 2000))
    assert status == 201
    assert (first["month"], first["month_total"], first["cap"], first["remaining"]) == (
        today.strftime("%Y-%m"),
        2000,
        5000,
        3000,
    )
    status, second = _post(world, _nanbyo(theirs, today, 1500), world.other_clinic_key)
    assert status == 201 and (second["month_total"], second["remaining"]) == (3500, 1500)
    result = world.eligibility(mine, service_date=today.isoformat(), total_cost="30000")
    nanbyo = next(s for s in result["subsidies"] if s["program_code"] == "nanbyo")
    assert (nanbyo["cap_used_this_month"], nanbyo["cap_remaining_this_month"]) == (3500, 1500)
    assert nanbyo["suggested_copay"] == 1500  # 20 % of 30,000 is 6,000; only 1,500 remains


def test_month_boundary_starts_a_new_sheet(world: w.World) -> None:
    mine = world.receive("all")
    last_day = dt.date(w.TODAY.year, w.TODAY.month, 1) - dt.timedelta(days=1)
    first_day = last_day + dt.timedelta(days=1)
    assert _post(world, _nanbyo(mine, last_day, 5000))[1]["remaining"] == 0
    status, body = _post(world, _nanbyo(mine, first_day, 5000))
    assert status == 201 and body["month"] == first_day.strftime("%Y-%m") and body["month_total"] == 5000


def test_past_the_cap_is_refused_with_what_remains_and_changes_nothing(world: w.World) -> None:
    mine = world.receive("all")
    _post(world, _nanbyo(mine, w.TODAY, 4200))
    status, problem = _post(world, _nanbyo(mine, w.TODAY, 1000))
    assert status == 409 and problem["code"] == "cap_exceeded"
    assert (problem["remaining"], problem["month_total"], problem["cap"]) == (800, 4200, 5000)
    assert "800" in problem["detail"] and problem["errors"][0]["field"] == "copay_amount"
    assert _post(world, _nanbyo(mine, w.TODAY, 800))[1]["remaining"] == 0


def test_inpatient_cap_is_kept_apart(world: w.World) -> None:
    mine = world.receive("all")
    _post(world, _nanbyo(mine, w.TODAY, 5000))
    status, body = _post(world, _nanbyo(mine, w.TODAY, 9000, inpatient=True))
    assert status == 201 and (body["ledger"], body["cap"], body["remaining"]) == ("inpatient", 10000, 1000)
    assert _post(world, _nanbyo(mine, w.TODAY, 1, inpatient=False))[0] == 409


def test_a_certificate_without_a_cap_or_not_consented_or_not_valid(world: w.World) -> None:
    mine = world.receive("all")
    kodomo = _nanbyo(mine, w.TODAY, 100) | {"payer_number": f.KODOMO_PAYER, "recipient_number": f.recipient(2)}
    assert _post(world, kodomo)[0] == 409
    card_session = world.open_session()
    keys = {c["program_code"]: c["key"] for c in card_session["certificates"]}
    chosen = world.client.post(
        f"/api/v1/card-sessions/{card_session['id']}/consent",
        json={"subsidy": "select", "selected": [keys["kodomo"]]},
        headers=world.reader(),
    ).json()["reception_id"]
    assert _post(world, _nanbyo(chosen, w.TODAY, 100))[0] == 404  # not consented looks like absent
    shoman = _nanbyo(mine, w.TODAY, 100) | {"payer_number": w.SHOMAN_PAYER, "recipient_number": f.recipient(6)}
    status, problem = _post(world, shoman)
    assert status == 422 and problem["errors"][0]["code"] == "certificate_not_valid"
    assert _post(world, _nanbyo(mine, w.TODAY, 200, cost=100))[0] == 422


def test_corrections_by_the_recording_institution_only(world: w.World) -> None:
    mine, theirs = world.receive("all"), _other_reception(world)
    _, entry = _post(world, _nanbyo(mine, w.TODAY, 5000))
    assert _post(world, _nanbyo(theirs, w.TODAY, 500), world.other_clinic_key)[0] == 409
    refused = world.client.delete(f"/api/v1/copay-entries/{entry['id']}", headers=f.bearer(world.other_clinic_key))
    assert refused.status_code == 403
    cancelled = world.client.delete(f"/api/v1/copay-entries/{entry['id']}", headers=world.clinic())
    assert cancelled.status_code == 200 and cancelled.json()["month_total"] == 0 and cancelled.json()["cancelled"]
    assert world.client.delete(f"/api/v1/copay-entries/{entry['id']}", headers=world.clinic()).status_code == 409
    assert _post(world, _nanbyo(theirs, w.TODAY, 500), world.other_clinic_key)[0] == 201


def test_an_institution_without_consent_sees_nothing(world: w.World) -> None:
    mine = world.receive("all")
    _, entry = _post(world, _nanbyo(mine, w.TODAY, 100))
    # The other clinic never received this patient: the entry does not exist for it.
    refused = world.client.delete(f"/api/v1/copay-entries/{entry['id']}", headers=f.bearer(world.other_clinic_key))
    assert refused.status_code == 404
    params = {
        "reception_id": mine,
        "payer_number": w.NANBYO_PAYER,
        "recipient_number": f.recipient(1),
        "month": w.TODAY.strftime("%Y-%m"),
    }
    assert (
        world.client.get("/api/v1/copay-entries", params=params, headers=f.bearer(world.other_clinic_key)).status_code
        == 404
    )


def test_the_sheet_lists_every_institution_with_running_totals_and_struck_lines(world: w.World) -> None:
    mine, theirs = world.receive("all"), _other_reception(world)
    _, first = _post(world, _nanbyo(mine, w.TODAY, 1000, cost=5000))
    _post(world, _nanbyo(theirs, w.TODAY, 700, cost=3500), world.other_clinic_key)
    world.client.delete(f"/api/v1/copay-entries/{first['id']}", headers=world.clinic())
    _post(world, _nanbyo(mine, w.TODAY, 900, cost=4500))
    params = {
        "reception_id": mine,
        "payer_number": w.NANBYO_PAYER,
        "recipient_number": f.recipient(1),
        "month": w.TODAY.strftime("%Y-%m"),
    }
    sheet = world.client.get("/api/v1/copay-entries", params=params, headers=world.clinic()).json()
    assert [(x["copay_amount"], x["running_total"], x["cancelled"], x["mine"]) for x in sheet["lines"]] == [
        (1000, None, True, True),
        (700, 700, False, False),
        (900, 1600, False, True),
    ]
    assert (sheet["month_total"], sheet["remaining"], sheet["cap"]) == (1600, 3400, 5000)
    assert sheet["lines"][1]["institution_name"] == "別のクリニック"


def test_quote_suggests_rate_times_cost_within_what_remains(world: w.World) -> None:
    mine = world.receive("all")
    body = _nanbyo(mine, w.TODAY, 0, cost=12_345)
    body.pop("copay_amount")
    quote = world.client.post("/api/v1/copay-quotes", json=body, headers=world.clinic()).json()
    assert (quote["rate"], quote["suggested_copay"], quote["remaining"]) == (20, 2470, 5000)
    _post(world, _nanbyo(mine, w.TODAY, 4000))
    quote = world.client.post("/api/v1/copay-quotes", json=body, headers=world.clinic()).json()
    assert (quote["suggested_copay"], quote["month_total"]) == (1000, 4000)


@pytest.mark.parametrize(
    ("cost", "rate", "remaining", "expected"),
    [
        (12_345, 20, None, 2470),
        (12_355, 10, None, 1240),
        (12_344, 10, None, 1230),
        (50_000, 30, 800, 800),
        (1000, None, 500, None),
        (1000, 20, 0, 0),
    ],
)
def test_suggested_copay_rounds_to_ten_yen_and_stays_under_the_cap(
    cost: int, rate: int | None, remaining: int | None, expected: int | None
) -> None:
    assert suggested_copay(cost, rate, remaining) == expected
