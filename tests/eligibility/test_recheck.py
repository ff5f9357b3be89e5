"""一括照会: what changed since an institution first read a consented certificate."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories as f
from tests.eligibility import world as w

MONTH = w.TODAY.strftime("%Y-%m")


@pytest.fixture
def world(db_session: Session, client: TestClient) -> w.World:
    return w.build(db_session, client)


def _recheck(world: w.World, month: str = MONTH) -> dict[str, Any]:
    response = world.client.post("/api/v1/eligibility/recheck", json={"month": month}, headers=world.clinic())
    assert response.status_code == 200, response.text
    return dict(response.json())


def _changes(report: dict[str, Any]) -> dict[str, list[str]]:
    return {item["program_code"]: [c["kind"] for c in item["changes"]] for item in report["items"]}


def test_nothing_changed_reports_nothing(world: w.World) -> None:
    world.eligibility(world.receive("all"))
    report = _recheck(world)
    assert report["receptions_checked"] == 1 and report["certificates_checked"] == 4
    assert report["changed"] == 0 and report["items"] == []


def test_new_cap_and_end_are_reported(world: w.World) -> None:
    world.eligibility(world.receive("all"))
    w.register(
        world.session,
        world.tokyo,
        [
            {
                "op": 2,
                "payer_number": w.NANBYO_PAYER,
                "recipient_number": f.recipient(1),
                "valid_from": w.day(-365),
                "monthly_cap": 10000,
                "inpatient_cap": 10000,
            }
        ],
    )
    w.register(
        world.session,
        world.hachioji,
        [{"op": 3, "payer_number": f.KODOMO_PAYER, "recipient_number": f.recipient(2), "valid_to": w.day(-1)}],
    )
    report = _recheck(world)
    assert _changes(report) == {"nanbyo": ["new_cap"], "kodomo": ["ended"]}
    cap = (
        report["items"][0]["changes"][0]
        if report["items"][0]["program_code"] == "nanbyo"
        else report["items"][1]["changes"][0]
    )
    assert (cap["before"], cap["after"]) == (5000, 10000)


def test_renewal_with_a_new_number_is_reported_unless_not_to_be_disclosed(world: w.World) -> None:
    world.eligibility(world.receive("all"))
    # こども renewed under a new number; ひとり親 (not disclosed) too, and the new one is also not disclosed.
    w.register(
        world.session,
        world.hachioji,
        [
            {"op": 3, "payer_number": f.KODOMO_PAYER, "recipient_number": f.recipient(2), "valid_to": w.day(-1)},
            {"op": 3, "payer_number": f.HITORIOYA_PAYER, "recipient_number": f.recipient(4), "valid_to": w.day(-1)},
        ],
    )
    w.register(
        world.session,
        world.hachioji,
        [
            w.certificate(f.KODOMO_PAYER, 7, valid_from=w.day(0)),
            w.certificate(f.HITORIOYA_PAYER, 8, valid_from=w.day(0), not_disclosed=1),
        ],
    )
    report = _recheck(world)
    changes = _changes(report)
    assert changes["kodomo"] == ["ended", "new_number"]
    assert changes["hitorioya"] == ["ended"]
    text = str(report)
    assert f.recipient(7) in text and f.recipient(8) not in text


def test_withdrawn_certificate_and_unread_or_unconsented_receptions(world: w.World) -> None:
    world.eligibility(world.receive("all"))
    world.receive("all")  # never read: nothing to compare with
    world.receive("none")  # no consent: not checked
    w.register(
        world.session,
        world.hachioji,
        [
            {
                "op": 2,
                "payer_number": f.KODOMO_PAYER,
                "recipient_number": f.recipient(2),
                "valid_from": w.day(-1),
                "name": "山田 三郎",
                "name_kana": "ヤマダ サブロウ",
            }
        ],
    )
    report = _recheck(world)
    assert report["receptions_checked"] == 2 and report["certificates_checked"] == 4
    assert _changes(report) == {"kodomo": ["withdrawn"]}


def test_other_months_and_other_institutions_see_nothing(world: w.World) -> None:
    world.eligibility(world.receive("all"))
    assert _recheck(world, "2020-01")["receptions_checked"] == 0
    other = world.client.post(
        "/api/v1/eligibility/recheck", json={"month": MONTH}, headers=f.bearer(world.other_clinic_key)
    )
    assert other.json()["receptions_checked"] == 0
    bad = world.client.post("/api/v1/eligibility/recheck", json={"month": "2026-13"}, headers=world.clinic())
    assert bad.status_code == 422
