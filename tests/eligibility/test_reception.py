"""マイナ診察券: the CR user list, the patient registry import and the patient-number link."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pmh.cli import app as cli
from tests import factories as f
from tests.eligibility import world as w

REGISTRY = (
    "patient_number,name,name_kana,birth_date,sex\n"
    "P-0001,佐藤 花子,サトウ ハナコ,2015-06-01,2\n"
    "P-0002,佐藤 花子,ｻﾄｳ ﾊﾅｺ,平成27年6月1日,女\n"
    "P-0003,鈴木 次郎,スズキ ジロウ,1980-01-01,1\n"
)


@pytest.fixture
def world(db_session: Session, client: TestClient) -> w.World:
    return w.build(db_session, client)


def _import(world: w.World, text: str, encoding: str = "utf-8") -> dict[str, object]:
    response = world.client.post(
        "/api/v1/patients", files={"file": ("patients.csv", text.encode(encoding), "text/csv")}, headers=world.clinic()
    )
    return {"status": response.status_code, **response.json()}


def _list(world: w.World, key: str | None = None) -> list[dict[str, object]]:
    response = world.client.get(
        "/api/v1/receptions", params={"date": w.TODAY.isoformat()}, headers=f.bearer(key or world.clinic_key)
    )
    assert response.status_code == 200, response.text
    return list(response.json())


def _link(
    world: w.World, reception_id: int, number: str, new: bool = False, confirm: bool = False
) -> dict[str, object]:
    response = world.client.put(
        f"/api/v1/receptions/{reception_id}/patient",
        json={"patient_number": number, "register_new": new, "confirm": confirm},
        headers=world.clinic(),
    )
    return {"status": response.status_code, **response.json()}


def test_registry_import_reads_cp932_halfwidth_kana_and_wareki(world: w.World) -> None:
    result = _import(world, REGISTRY, "cp932")
    assert result == {"status": 201, "added": 3, "updated": 0}
    again = _import(world, REGISTRY)
    assert again == {"status": 201, "added": 0, "updated": 3}
    listed = world.client.get("/api/v1/patients", params={"q": "サトウ"}, headers=world.clinic()).json()
    assert [p["patient_number"] for p in listed] == ["P-0001", "P-0002"]
    assert listed[1]["name_kana"] == "サトウ ハナコ" and listed[1]["birth_date"] == "2015-06-01"


def test_registry_import_with_errors_names_row_and_field_and_writes_nothing(world: w.World) -> None:
    bad = REGISTRY + "P-0004,山田,yamada,2000-13-01,3\nP-0001,重複,ジュウフク,2000-01-01,1\n"
    result = _import(world, bad)
    assert result["status"] == 422
    problems = {(e["row"], e["field"]) for e in result["errors"]}  # type: ignore[union-attr]
    assert problems == {(4, "name_kana"), (4, "birth_date"), (4, "sex"), (5, "patient_number")}
    assert world.client.get("/api/v1/patients", headers=world.clinic()).json() == []


def test_list_shows_the_day_with_candidates_and_links_by_staff_then_automatically(world: w.World) -> None:
    _import(world, REGISTRY)
    first = world.receive("none")
    rows = _list(world)
    assert [r["id"] for r in rows] == [first]
    row = rows[0]
    assert row["name"] == "佐藤 花子" and row["patient_number"] is None
    assert row["insurance"]["insurer_number"] == "33120015"  # type: ignore[index]
    assert [c["patient_number"] for c in row["candidates"]] == ["P-0001", "P-0002"]  # type: ignore[union-attr]
    linked = _link(world, first, "P-0002")
    assert linked["status"] == 200 and linked["patient_number"] == "P-0002" and linked["link_method"] == "staff"
    second = world.receive("all")
    rows = _list(world)
    assert rows[1]["id"] == second and rows[1]["patient_number"] == "P-0002" and rows[1]["link_method"] == "auto"
    assert rows[1]["shared_certificates"] == 4 and rows[1]["candidates"] == []


def test_register_new_patient_number_from_the_reception(world: w.World) -> None:
    reception_id = world.receive("all")
    created = _link(world, reception_id, "9001", new=True)
    assert created["status"] == 200 and created["link_method"] == "new"
    listed = world.client.get("/api/v1/patients", params={"q": "9001"}, headers=world.clinic()).json()
    assert listed == [
        {
            "patient_number": "9001",
            "name": "佐藤 花子",
            "name_kana": "サトウ ハナコ",
            "birth_date": "2015-06-01",
            "sex": 2,
            "linked": True,
        }
    ]
    assert _link(world, reception_id, "9001", new=True)["status"] == 409
    # format=orca names the linked 患者番号 as ORCA's Patient_ID
    url = f"/api/v1/receptions/{reception_id}/eligibility"
    orca = world.client.get(url, params={"format": "orca"}, headers=world.clinic()).json()
    assert orca["patientmodv3req2"]["Patient_Information"] == {"Patient_ID": "9001"}


def test_unknown_number_and_a_number_of_another_person_are_refused(world: w.World) -> None:
    _import(world, REGISTRY)
    reception_id = world.receive("none")
    unknown = _link(world, reception_id, "P-9999")
    assert unknown["status"] == 404 and unknown["errors"][0]["field"] == "patient_number"  # type: ignore[index]
    from pmh.cards import service as cards

    card = cards.issue_card(world.session, w.OTHER_PERSON, "1357")
    session = world.client.post(
        "/api/v1/card-sessions",
        json={"card_serial": card.card_serial, "auth": "pin", "pin": "1357"},
        headers=world.reader(),
    ).json()
    other = world.client.post(
        f"/api/v1/card-sessions/{session['id']}/consent", json={"subsidy": "none"}, headers=world.reader()
    )
    assert _link(world, other.json()["reception_id"], "P-0003")["status"] == 200
    tied = _link(world, reception_id, "P-0003", confirm=True)
    assert tied["status"] == 409 and "別の方のマイナンバーカード" in str(tied["detail"])


def test_lists_and_links_are_scoped_to_the_institution(world: w.World) -> None:
    reception_id = world.receive("none")
    assert _list(world, world.other_clinic_key) == []
    refused = world.client.put(
        f"/api/v1/receptions/{reception_id}/patient",
        json={"patient_number": "1", "register_new": True},
        headers=f.bearer(world.other_clinic_key),
    )
    assert refused.status_code == 404
    assert world.client.get("/api/v1/receptions", headers=world.reader()).status_code == 403


def test_cli_imports_the_registry_and_reports_rows_as_json(world: w.World, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(REGISTRY, encoding="utf-8")
    bad.write_text(REGISTRY + "P-0009,山田,yamada,2000-01-01,1\n", encoding="utf-8")
    runner = CliRunner()
    refused = runner.invoke(cli, ["patients", "import", str(bad), "--institution", f.CLINIC_CODE, "--json"])
    assert refused.exit_code == 1
    assert json.loads(refused.stdout)["errors"] == [
        {"field": "name_kana", "code": "not_katakana", "message": "カナ氏名はカタカナで入力してください。", "row": 4}
    ]
    done = runner.invoke(cli, ["patients", "import", str(good), "--institution", f.CLINIC_CODE, "--json"])
    assert done.exit_code == 0 and json.loads(done.stdout) == {"added": 3, "updated": 0}


def test_the_patient_list_may_use_japanese_headings_and_is_refused_in_japanese(world: w.World) -> None:
    japanese = REGISTRY.replace("patient_number,name,name_kana,birth_date,sex", "患者番号,氏名,カナ氏名,生年月日,性別")
    assert _import(world, japanese, "cp932") == {"status": 201, "added": 3, "updated": 0}
    refused = _import(world, "患者番号,氏名\nP-0009,山田\n")
    assert refused["status"] == 422
    assert "カナ氏名、生年月日、性別" in str(refused["detail"])
    assert [e["field"] for e in refused["errors"]] == ["name_kana", "birth_date", "sex"]  # type: ignore[union-attr]


def _today_row(world: w.World, reception_id: int) -> dict[str, object]:
    return next(row for row in _list(world) if row["id"] == reception_id)


def test_a_patient_whose_name_birth_date_and_sex_differ_is_refused_with_both_sides(world: w.World) -> None:
    _import(world, REGISTRY)
    reception_id = world.receive("none")
    refused = _link(world, reception_id, "P-0003")
    assert refused["status"] == 409 and refused["code"] == "patient_mismatch"
    assert refused["differences"] == ["name", "name_kana", "birth_date", "sex"]
    assert refused["reception"] == {
        "name": "佐藤 花子",
        "name_kana": "サトウ ハナコ",
        "birth_date": "2015-06-01",
        "sex": 2,
    }
    assert refused["patient"] == {
        "patient_number": "P-0003",
        "name": "鈴木 次郎",
        "name_kana": "スズキ ジロウ",
        "birth_date": "1980-01-01",
        "sex": 1,
    }
    assert _today_row(world, reception_id)["patient_number"] is None  # nothing was linked


def test_a_matching_patient_links_without_confirmation_and_the_row_names_the_patient(world: w.World) -> None:
    _import(world, REGISTRY)
    reception_id = world.receive("none")
    linked = _link(world, reception_id, "P-0002")  # half-width kana and 和暦 in the registry: same person
    assert linked["status"] == 200
    assert linked["patient"] == {
        "patient_number": "P-0002",
        "name": "佐藤 花子",
        "name_kana": "サトウ ハナコ",
        "birth_date": "2015-06-01",
        "sex": 2,
    }


def test_a_confirmed_mismatch_links_and_is_audited_with_the_differences(world: w.World) -> None:
    from pmh.audit.models import AuditEntry

    _import(world, REGISTRY)
    reception_id = world.receive("none")
    linked = _link(world, reception_id, "P-0003", confirm=True)
    assert linked["status"] == 200 and linked["patient_number"] == "P-0003"
    entry = world.session.query(AuditEntry).filter(AuditEntry.action == "reception.link").one()
    assert json.loads(entry.detail)["confirmed_differences"] == ["name", "name_kana", "birth_date", "sex"]


def test_unlinking_undoes_the_link_and_stops_automatic_linking(world: w.World) -> None:
    from pmh.audit.models import AuditEntry

    _import(world, REGISTRY)
    first = world.receive("none")
    assert _link(world, first, "P-0003", confirm=True)["status"] == 200
    second = world.receive("none")
    assert _today_row(world, second)["link_method"] == "auto"  # the wrong link spreads by itself
    response = world.client.delete(f"/api/v1/receptions/{first}/patient", headers=world.clinic())
    assert response.status_code == 200, response.text
    assert response.json()["patient_number"] is None
    assert _today_row(world, second)["patient_number"] is None  # its automatic copy went with it
    third = world.receive("none")
    assert _today_row(world, third)["patient_number"] is None  # no longer linked automatically
    entry = world.session.query(AuditEntry).filter(AuditEntry.action == "reception.unlink").one()
    assert sorted(entry.subject_id.split(",")) == sorted([str(first), str(second)])
    again = world.client.delete(f"/api/v1/receptions/{first}/patient", headers=world.clinic())
    assert again.status_code == 409 and again.json()["errors"][0]["code"] == "not_linked"


def test_unlinking_another_institutions_reception_is_not_found(world: w.World) -> None:
    _import(world, REGISTRY)
    reception_id = world.receive("none")
    assert _link(world, reception_id, "P-0001")["status"] == 200
    refused = world.client.delete(
        f"/api/v1/receptions/{reception_id}/patient", headers=f.bearer(world.other_clinic_key)
    )
    assert refused.status_code == 404
