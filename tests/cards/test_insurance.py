"""The insurance CSV of the simulated eligibility service (`pmh insurance import`, docs/cards.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pmh.cards import service
from pmh.cards.models import InsuranceRecord
from pmh.cli import app as cli
from pmh.errors import InvalidInput
from tests import factories as f

OLD_HEADER = (
    "my_number,insurer_number,symbol,number,branch,name,name_kana,birth_date,sex,copay_rate,valid_from,valid_to"
)
"""The header every file had before the relationship column (such files must keep importing)."""


def _row(seed: int, relationship: str | None = None) -> str:
    row = f"{f.my_number(seed)},33120015,記号1,{1000 + seed},01,高橋 一郎,タカハシ イチロウ,2018-04-01,1,30,2020-04-01,"
    return row if relationship is None else f"{row},{relationship}"


def _stored(session: Session, seed: int) -> InsuranceRecord:
    digest = service.person_digest(f.my_number(seed))
    record = session.scalar(select(InsuranceRecord).where(InsuranceRecord.person_digest == digest))
    assert record is not None
    return record


def test_the_relationship_column_is_stored_as_jp_core_codes(db_session: Session) -> None:
    rows = [
        _row(1, "1"),
        _row(2, "2"),
        _row(3, "被扶養者"),
        _row(4, "本人"),
        _row(5, "家族"),
        _row(6, "２"),
        _row(7, ""),
    ]
    service.import_insurance_text(db_session, "\n".join([f"{OLD_HEADER},relationship", *rows]) + "\n")
    assert [_stored(db_session, seed).relationship for seed in range(1, 8)] == [1, 2, 2, 1, 2, 2, None]


def test_a_file_without_the_column_still_imports_and_keeps_a_known_relationship(db_session: Session) -> None:
    service.import_insurance_text(db_session, f"{OLD_HEADER},relationship\n{_row(1, '2')}\n")
    result = service.import_insurance_text(db_session, f"{OLD_HEADER}\n{_row(1)}\n{_row(2)}\n")
    assert (result.added, result.updated) == (1, 1)
    assert _stored(db_session, 1).relationship == 2  # the old file says nothing about it
    assert _stored(db_session, 2).relationship is None
    # an empty cell under the column does say it: not known
    service.import_insurance_text(db_session, f"{OLD_HEADER},relationship\n{_row(1, '')}\n")
    assert _stored(db_session, 1).relationship is None


@pytest.mark.parametrize("value", ["3", "0", "世帯主", "1;2"])
def test_a_bad_relationship_is_a_row_error_naming_row_field_and_reason(db_session: Session, value: str) -> None:
    text = f"{OLD_HEADER},relationship\n{_row(1, '1')}\n{_row(2, value)}\n"
    with pytest.raises(InvalidInput) as caught:
        service.import_insurance_text(db_session, text)
    [error] = caught.value.errors
    assert (error.row, error.field, error.code) == (2, "relationship", "invalid_choice")
    assert "被保険者" in error.message and "被扶養者" in error.message and value in error.message
    assert db_session.scalar(select(InsuranceRecord.id)) is None  # all or nothing


def test_the_cli_names_the_row_and_field_of_a_bad_relationship(db_session: Session, tmp_path: Path) -> None:
    path = tmp_path / "insurance.csv"
    path.write_text(f"{OLD_HEADER},relationship\n{_row(1, 'x')}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["insurance", "import", str(path)])
    assert result.exit_code == 1
    assert "1行目 relationship:" in result.output and "被扶養者" in result.output
    path.write_text(f"{OLD_HEADER},relationship\n{_row(1, '2')}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["insurance", "import", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"added": 1, "updated": 0}


def test_the_documented_columns_are_the_code_s_columns() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "cards.md").read_text(encoding="utf-8")
    documented = [line.split("|")[1].strip().strip("`") for line in docs.splitlines() if line.startswith("| `")]
    assert [c for c in documented if c in service.INSURANCE_COLUMNS] == list(service.INSURANCE_COLUMNS)
