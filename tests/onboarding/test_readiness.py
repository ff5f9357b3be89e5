"""Readiness per municipality and program: reported and derived steps, scoping, deadlines, audit, CSV, CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pmh.audit.models import AuditEntry
from pmh.auth.schemas import Caller
from pmh.cli import app as cli
from pmh.codes.fiscal import fiscal_year as fiscal_year_of
from pmh.errors import InvalidInput, NotPermitted
from pmh.onboarding import service
from pmh.operator.clock import today as today_dependency
from pmh.operator.contracts import service as contracts
from tests import factories as f
from tests.eligibility import world as eligibility_world
from tests.operator.support import payer, register

TACHIKAWA, OSAKA_CITY, OSAKA = "132021", "271004", "270008"
FY = 2026
TODAY = dt.date(2026, 12, 2)


def operator(session: Session) -> Caller:
    organisation = f.operator(session)
    return Caller(organisation.id, organisation.code, organisation.name, "operator", "operator", "test")


@pytest.fixture
def hub(db_session: Session) -> Session:
    """東京都 runs 難病 (national); 八王子市 こども and ひとり親 (local); 立川市 こども; 大阪市 こども."""
    register(db_session, f.TOKYO, "nanbyo", [payer("54", "13", 602)], dt.date(2026, 4, 1), planned=150_000)
    register(db_session, f.HACHIOJI, "kodomo", [f.KODOMO_PAYER], dt.date(2025, 6, 1), planned=20_000)
    register(db_session, f.HACHIOJI, "hitorioya", [f.HITORIOYA_PAYER], dt.date(2025, 6, 1), planned=900)
    register(db_session, TACHIKAWA, "kodomo", [payer("88", "13", 21)], dt.date(2027, 1, 1), planned=5_000)
    register(db_session, OSAKA_CITY, "kodomo", [payer("88", "27", 10)], dt.date(2026, 4, 1))
    return db_session


def row_of(view: service.Overview, body: str, program: str) -> service.Readiness:
    return next(r for r in view.rows if r.municipality_code == body and r.program_code == program)


def test_ordinance_is_not_required_for_national_programs_and_reported_for_local_ones(hub: Session) -> None:
    view = service.overview(hub, operator(hub), FY, TODAY)
    assert row_of(view, f.TOKYO, "nanbyo").steps["ordinance"].status == "not_required"
    assert row_of(view, f.TOKYO, "nanbyo").steps["ordinance"].derived
    assert row_of(view, f.HACHIOJI, "kodomo").steps["ordinance"].status == "not_started"
    tokyo = f.municipality_caller(hub, f.TOKYO)
    with pytest.raises(InvalidInput) as refused:
        service.set_step(hub, tokyo, FY, f.TOKYO, "nanbyo", "ordinance", service.StepReport("in_progress"))
    assert refused.value.errors[0].code == "ordinance_not_required"
    hachioji = f.municipality_caller(hub)
    service.set_step(
        hub, hachioji, FY, f.HACHIOJI, "kodomo", "ordinance", service.StepReport("done", TODAY, "要綱改正")
    )
    state = row_of(service.overview(hub, operator(hub), FY, TODAY), f.HACHIOJI, "kodomo").steps["ordinance"]
    assert (state.status, state.date, state.note, state.derived) == ("done", TODAY, "要綱改正", False)


@pytest.mark.parametrize("step", ["contract", "test_upload", "go_live"])
def test_derived_steps_can_never_be_typed(client: TestClient, hub: Session, step: str) -> None:
    key = f.bearer(f.api_key(hub, f.municipality(hub, f.HACHIOJI), "municipality"))
    response = client.put(
        f"/api/v1/onboarding/{f.HACHIOJI}/kodomo/{step}", json={"status": "done", "date": "2026-12-01"}, headers=key
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "derived_step"
    assert "入力できません" in response.json()["detail"]
    with pytest.raises(InvalidInput):
        service.set_step(hub, operator(hub), FY, f.HACHIOJI, "kodomo", step, service.StepReport("done", TODAY))


def test_contract_is_derived_from_delegations_and_the_prefecture_contract(hub: Session) -> None:
    def contract(body: str, program: str) -> service.StepState:
        return row_of(service.overview(hub, operator(hub), FY, TODAY), body, program).steps["contract"]

    assert contract(f.HACHIOJI, "kodomo").status == "not_started"
    assert contract(f.TOKYO, "nanbyo").status == "in_progress"  # the prefecture's own line of its draft
    contracts.delegate(hub, f.HACHIOJI, 2027, ["kodomo"])
    assert contract(f.HACHIOJI, "kodomo").status == "in_progress"
    assert contract(f.HACHIOJI, "hitorioya").status == "not_started"
    contracts.build(hub, operator(hub), 2027)
    built = contract(f.HACHIOJI, "kodomo")
    assert built.status == "done" and built.date is not None and built.derived
    assert contract(f.TOKYO, "nanbyo").status == "done"
    contracts.delegate(hub, f.HACHIOJI, 2027, ["kodomo", "hitorioya"])  # after the contract: next update
    assert contract(f.HACHIOJI, "hitorioya").status == "in_progress"
    # FY2025's schedule prepared FY2026, when each body still contracted with the Digital Agency
    assert row_of(service.overview(hub, operator(hub), 2025, TODAY), f.HACHIOJI, "kodomo").steps["contract"].status == (
        "not_started"
    )


def test_test_upload_is_the_first_applied_upload_of_the_program(hub: Session) -> None:
    hachioji = f.municipality_caller(hub)
    view = service.overview(hub, operator(hub), FY, TODAY)
    assert row_of(view, f.HACHIOJI, "kodomo").steps["test_upload"].status == "not_started"
    f.insurance(hub, eligibility_world.MY_NUMBER, "佐藤 花子", "サトウ ハナコ", "2015-06-01", sex=2)
    eligibility_world.register(hub, hachioji, [eligibility_world.certificate(f.KODOMO_PAYER, 2)])
    view = service.overview(hub, operator(hub), FY, TODAY)
    uploaded = row_of(view, f.HACHIOJI, "kodomo").steps["test_upload"]
    assert uploaded.status == "done" and uploaded.date == eligibility_world.TODAY
    assert row_of(view, f.HACHIOJI, "hitorioya").steps["test_upload"].status == "not_started"
    assert row_of(view, f.HACHIOJI, "kodomo").pia.people == 20_000  # planned recipients outnumber the file
    service.set_step(hub, hachioji, FY, f.HACHIOJI, "shogaisha", "intent", service.StepReport("done", TODAY))
    unregistered = row_of(service.overview(hub, operator(hub), FY, TODAY), f.HACHIOJI, "shogaisha")
    assert not unregistered.registered
    assert unregistered.steps["test_upload"].status == unregistered.steps["go_live"].status == "not_started"


def test_go_live_needs_the_start_date_and_a_first_eligibility_read(db_session: Session, client: TestClient) -> None:
    world = eligibility_world.build(db_session, client)
    today = eligibility_world.TODAY
    op = operator(db_session)

    def go_live(program: str) -> service.StepState:
        return row_of(service.overview(db_session, op, 2026, today), f.HACHIOJI, program).steps["go_live"]

    assert go_live("kodomo").status == "in_progress" and go_live("kodomo").note == "医療機関からの初回照会待ち"
    before_start = row_of(service.overview(db_session, op, 2026, today - dt.timedelta(days=400)), f.HACHIOJI, "kodomo")
    assert before_start.steps["go_live"].note is not None and "開始日" in before_start.steps["go_live"].note
    world.eligibility(world.receive())
    live = go_live("kodomo")
    assert live.status == "done" and live.date == today and live.derived
    f.program(db_session, world.hachioji, "shogaisha", (payer("83", "13", 201),))  # started, never read
    assert go_live("shogaisha").status == "in_progress"


def test_a_municipality_writes_only_its_own_steps(client: TestClient, hub: Session) -> None:
    key = f.bearer(f.api_key(hub, f.municipality(hub, TACHIKAWA), "municipality"))
    body = {"fiscal_year": FY, "status": "done", "date": "2026-10-20"}
    refused = client.put(f"/api/v1/onboarding/{f.HACHIOJI}/kodomo/intent", json=body, headers=key)
    assert refused.status_code == 403
    prefecture = f.bearer(f.api_key(hub, f.municipality(hub, f.TOKYO), "municipality"))
    assert (
        client.put(f"/api/v1/onboarding/{f.HACHIOJI}/kodomo/intent", json=body, headers=prefecture).status_code == 403
    )
    clinic = f.bearer(f.api_key(hub, f.institution(hub), "institution"))
    assert client.put(f"/api/v1/onboarding/{TACHIKAWA}/kodomo/intent", json=body, headers=clinic).status_code == 403
    own = client.put(f"/api/v1/onboarding/{TACHIKAWA}/kodomo/intent", json=body, headers=key)
    assert own.status_code == 200, own.text
    assert own.json()["steps"]["intent"] == {
        "step": "intent",
        "status": "done",
        "date": "2026-10-20",
        "note": None,
        "derived": False,
        "source": None,
        "due_on": None,
        "deadline": None,
    }
    hachioji = service.overview(hub, operator(hub), FY, TODAY, municipality=f.HACHIOJI)
    assert all(r.steps["intent"].status == "not_started" for r in hachioji.rows)
    with pytest.raises(NotPermitted):
        service.set_step(
            hub,
            f.municipality_caller(hub, TACHIKAWA),
            FY,
            f.HACHIOJI,
            "kodomo",
            "budget",
            service.StepReport("done", TODAY),
        )


def test_bad_reports_are_refused_with_the_field_and_change_nothing(client: TestClient, hub: Session) -> None:
    key = f.bearer(f.api_key(hub, f.municipality(hub, f.HACHIOJI), "municipality"))
    cases = [
        ("kodomo/intent", {"status": "done"}, "date"),
        ("kodomo/intent", {"status": "finished"}, "status"),
        ("kodomo/budget", {"status": "done", "date": "2026-11-01", "pia_template": "revised"}, "pia_template"),
        ("kodomo/pia", {"status": "done", "date": "2026-11-01", "pia_evaluation": "half"}, "pia_evaluation"),
        ("nanbyo/intent", {"status": "in_progress"}, "program_code"),  # 難病 is not run by a city
        ("nothing/intent", {"status": "in_progress"}, "program_code"),
        ("kodomo/launch", {"status": "in_progress"}, "step"),
    ]
    for path, body, field_name in cases:
        response = client.put(f"/api/v1/onboarding/{f.HACHIOJI}/{path}", json=body, headers=key)
        assert response.status_code == 422, (path, response.text)
        assert field_name in json.dumps(response.json()["errors"]), (path, response.json())
    view = service.overview(hub, operator(hub), FY, TODAY, municipality=f.HACHIOJI)
    assert {r.program_code for r in view.rows} == {"kodomo", "hitorioya"}
    assert all(not s.date for r in view.rows for s in r.steps.values() if not s.derived)


def test_a_prefecture_sees_its_municipalities_and_a_municipality_itself(client: TestClient, hub: Session) -> None:
    client.app.dependency_overrides[today_dependency] = lambda: TODAY  # type: ignore[attr-defined]
    tokyo = f.bearer(f.api_key(hub, f.municipality(hub, f.TOKYO), "municipality"))
    listed = client.get("/api/v1/onboarding", params={"fiscal_year": FY}, headers=tokyo).json()
    assert {r["municipality_code"] for r in listed["rows"]} == {f.TOKYO, f.HACHIOJI, TACHIKAWA}
    assert client.get("/api/v1/onboarding", params={"prefecture": "27"}, headers=tokyo).status_code == 403
    hachioji = f.bearer(f.api_key(hub, f.municipality(hub, f.HACHIOJI), "municipality"))
    own = client.get("/api/v1/onboarding", headers=hachioji).json()
    assert own["fiscal_year"] == FY and own["today"] == TODAY.isoformat()
    assert {r["municipality_code"] for r in own["rows"]} == {f.HACHIOJI}
    assert client.get(f"/api/v1/onboarding/{TACHIKAWA}/kodomo", headers=hachioji).status_code == 403
    osaka = f.bearer(f.api_key(hub, f.municipality(hub, OSAKA), "municipality"))
    assert {r["municipality_code"] for r in client.get("/api/v1/onboarding", headers=osaka).json()["rows"]} == {
        OSAKA_CITY
    }
    op = f.bearer(f.api_key(hub, f.operator(hub), "operator"))
    everyone = client.get("/api/v1/onboarding", headers=op).json()
    assert {r["prefecture_code"] for r in everyone["rows"]} == {"13", "27"}
    assert {p["prefecture_code"] for p in everyone["by_prefecture"]} == {"13", "27"}
    only_osaka = client.get("/api/v1/onboarding", params={"prefecture": "27"}, headers=op).json()
    assert [r["municipality_code"] for r in only_osaka["rows"]] == [OSAKA_CITY]
    clinic = f.bearer(f.api_key(hub, f.institution(hub), "institution"))
    assert client.get("/api/v1/onboarding", headers=clinic).status_code == 403


def test_pia_help_suggests_the_level_and_flags_the_revision(client: TestClient, hub: Session) -> None:
    hachioji = f.municipality_caller(hub)
    service.set_step(
        hub,
        hachioji,
        FY,
        f.HACHIOJI,
        "kodomo",
        "pia",
        service.StepReport("done", dt.date(2025, 5, 1), None, "digital_agency", "basic"),
    )
    view = service.overview(hub, operator(hub), FY, TODAY)
    kodomo = row_of(view, f.HACHIOJI, "kodomo").pia
    assert (kodomo.people, kodomo.suggested, kodomo.revise_by) == (20_000, "basic", dt.date(2027, 4, 1))
    assert (kodomo.template, kodomo.evaluation) == ("digital_agency", "basic")
    assert row_of(view, f.TOKYO, "nanbyo").pia.suggested == "priority"  # 150,000 planned
    assert row_of(view, f.HACHIOJI, "hitorioya").pia.suggested == "none"  # 900 planned
    service.set_step(
        hub, hachioji, FY, f.HACHIOJI, "kodomo", "pia", service.StepReport("done", TODAY, None, "revised", "basic")
    )
    assert row_of(service.overview(hub, operator(hub), FY, TODAY), f.HACHIOJI, "kodomo").pia.revise_by is None
    tachikawa = f.municipality_caller(hub, TACHIKAWA)  # joins in FY2026 (January 2027), then must revise
    service.set_step(
        hub,
        tachikawa,
        FY,
        TACHIKAWA,
        "kodomo",
        "pia",
        service.StepReport("done", TODAY, None, "digital_agency", "basic"),
    )
    assert row_of(service.overview(hub, operator(hub), FY, TODAY), TACHIKAWA, "kodomo").pia.revise_by == dt.date(
        2027, 4, 1
    )


def test_deadlines_from_the_schedule_list_what_is_late_or_due_within_30_days(hub: Session) -> None:
    op = operator(hub)
    seeded = service.seed_deadlines(hub, op, FY)
    assert {d.step: d.due_on for d in seeded} == {
        "intent": dt.date(2026, 10, 31),
        "budget": dt.date(2027, 3, 31),
        "pia": dt.date(2027, 3, 31),
        "ordinance": dt.date(2027, 3, 31),
        "contract": dt.date(2027, 3, 31),
    }
    hachioji = f.municipality_caller(hub)
    service.set_step(
        hub, hachioji, FY, f.HACHIOJI, "kodomo", "intent", service.StepReport("done", dt.date(2026, 10, 20))
    )
    view = service.overview(hub, op, FY, dt.date(2026, 11, 1))
    late = {(i.municipality_code, i.program_code) for i in view.due() if i.step == "intent" and i.state == "late"}
    assert (f.HACHIOJI, "kodomo") not in late and (f.HACHIOJI, "hitorioya") in late and (f.TOKYO, "nanbyo") in late
    assert all(i.state == "late" for i in view.due()[: len(late)])  # late ones first
    # 立川市's program starts 2027-01-01: its upload and go-live are due then (within 30 days on Dec 2)
    due_soon = {
        (i.program_code, i.step) for i in view.due() if i.municipality_code == TACHIKAWA and i.state == "due_soon"
    }
    assert due_soon == set()
    december = service.overview(hub, op, FY, dt.date(2026, 12, 2))
    tachikawa = {(i.step, i.state) for i in december.due() if i.municipality_code == TACHIKAWA}
    assert {("test_upload", "due_soon"), ("go_live", "due_soon"), ("intent", "late")} <= tachikawa
    march = service.overview(hub, op, FY, dt.date(2027, 3, 2))
    assert {(i.step, i.state) for i in march.due() if i.municipality_code == f.TOKYO} >= {("pia", "due_soon")}
    assert not any(i.step == "ordinance" for i in march.due() if i.municipality_code == f.TOKYO)  # not required
    with pytest.raises(NotPermitted):
        service.set_deadline(hub, hachioji, FY, "intent", dt.date(2026, 11, 30), "延長")
    with pytest.raises(InvalidInput):
        service.set_deadline(hub, op, FY, "go_live", dt.date(2026, 11, 30), "本番")
    service.set_deadline(hub, op, FY, "intent", dt.date(2026, 11, 30), "延長")
    assert not any(
        i.step == "intent" and i.state == "late" for i in service.overview(hub, op, FY, dt.date(2026, 11, 1)).due()
    )


def test_every_change_is_audited(hub: Session) -> None:
    hachioji = f.municipality_caller(hub)
    service.set_step(
        hub, hachioji, FY, f.HACHIOJI, "kodomo", "budget", service.StepReport("in_progress", None, "12月補正")
    )
    service.set_step(hub, hachioji, FY, f.HACHIOJI, "kodomo", "budget", service.StepReport("done", TODAY))
    service.seed_deadlines(hub, operator(hub), FY)
    entries = hub.scalars(
        select(AuditEntry).where(AuditEntry.action.like("onboarding.%")).order_by(AuditEntry.id)
    ).all()
    assert [e.action for e in entries[:2]] == ["onboarding.set", "onboarding.set"]
    assert entries[0].subject_id == f"{FY}:{f.HACHIOJI}:kodomo:budget"
    assert json.loads(entries[1].detail)["before"]["status"] == "in_progress"
    assert sum(1 for e in entries if e.action == "onboarding.deadline") == 5


def test_csv_export_has_a_bom_and_formula_safe_cells(client: TestClient, hub: Session) -> None:
    hachioji = f.municipality_caller(hub)
    service.set_step(
        hub, hachioji, FY, f.HACHIOJI, "kodomo", "budget", service.StepReport("in_progress", None, "=HYPERLINK(1)")
    )
    key = f.bearer(f.api_key(hub, f.municipality(hub, f.TOKYO), "municipality"))
    response = client.get("/api/v1/onboarding/export", params={"fiscal_year": FY}, headers=key)
    assert response.status_code == 200 and response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["年度", "都道府県", "自治体コード", "自治体名"]
    assert {r[2] for r in rows[1:]} == {f.TOKYO, f.HACHIOJI, TACHIKAWA}
    kodomo = next(r for r in rows[1:] if r[2] == f.HACHIOJI and r[4] == "kodomo")
    assert kodomo[rows[0].index("予算（運営負担金・新規導入費用）（備考）")] == "'=HYPERLINK(1)"


def test_planned_vs_live_in_the_participation_statistics(client: TestClient, db_session: Session) -> None:
    world = eligibility_world.build(db_session, client)
    hachioji = world.hachioji
    fy = fiscal_year_of(eligibility_world.TODAY)
    for program in ("kodomo", "shoman"):
        service.set_step(db_session, hachioji, fy, f.HACHIOJI, program, "intent", service.StepReport("done", TODAY))
    service.set_step(db_session, world.tokyo, fy, f.TOKYO, "nanbyo", "intent", service.StepReport("done", TODAY))
    world.eligibility(world.receive())
    key = f.bearer(f.api_key(db_session, f.operator(db_session), "operator"))
    counts = client.get("/api/v1/stats/participation", params={"fiscal_year": fy}, headers=key).json()[
        "planned_vs_live"
    ]
    assert counts["planned"] == {"total": 2, "prefectures": 1, "municipalities": 1, "programs": 3}
    # the patient's read returned a certificate of each of the four programs (hitorioya without intent)
    assert counts["live"] == {"total": 2, "prefectures": 1, "municipalities": 1, "programs": 4}
    before = client.get("/api/v1/stats/participation", params={"fiscal_year": fy - 1}, headers=key).json()
    assert before["planned_vs_live"]["planned"]["total"] == 0  # intentions are reported per fiscal year


AS_OF_DEC_2 = ("--fiscal-year", "2026", "--today", "2026-12-02")
SET_KODOMO = ["onboarding", "set", "--municipality", f.HACHIOJI, "--program", "kodomo", "--step"]


def test_cli_status_set_and_export(hub: Session, tmp_path: Path) -> None:
    runner = CliRunner()
    seeded = runner.invoke(cli, ["onboarding", "deadlines", "seed", "--fiscal-year", "2026", "--json"])
    assert seeded.exit_code == 0, seeded.output
    assert len(json.loads(seeded.output)) == 5
    done = runner.invoke(
        cli,
        [*SET_KODOMO, "intent", "--status", "done", "--date", "2026-10-15", *AS_OF_DEC_2, "--json"],
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["steps"]["intent"]["status"] == "done"
    derived = runner.invoke(
        cli,
        [*SET_KODOMO, "go_live", "--status", "done", "--date", "2026-10-15", "--json"],
    )
    assert derived.exit_code == 1 and json.loads(derived.output)["errors"][0]["code"] == "derived_step"
    status = runner.invoke(cli, ["onboarding", "status", "--fiscal-year", "2026", "--today", "2026-12-02", "--json"])
    assert status.exit_code == 0, status.output
    shown = json.loads(status.output)
    assert {"fiscal_year", "today", "counts", "by_prefecture", "due", "deadlines", "rows"} <= shown.keys()
    assert shown["counts"]["intent"]["done"] == 1
    assert any(d["step"] == "intent" and d["deadline"] == "late" for d in shown["due"])
    out = tmp_path / "onboarding.csv"
    exported = runner.invoke(cli, ["onboarding", "export", "--out", str(out), "--fiscal-year", "2026", "--json"])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.output)["rows"] == 5
    assert out.read_bytes().startswith("\ufeff".encode())
    text = runner.invoke(cli, ["onboarding", "status", "--fiscal-year", "2026", "--today", "2026-12-02"])
    assert text.exit_code == 0 and "期限切れ" in text.output
