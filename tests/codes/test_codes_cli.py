"""`pmh codes check`: Japanese verdicts, the --json keys and the exit status."""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from pmh.codes.checkdigits import NUMBER_KINDS
from pmh.codes.cli import KindChoice, app

runner = CliRunner()


def _root() -> typer.Typer:
    """Mount the codes sub-app the way the root CLI does."""
    root = typer.Typer()
    root.add_typer(app, name="codes")
    return root


def _check(*args: str) -> tuple[int, str]:
    result = runner.invoke(_root(), ["codes", "check", *args])
    return result.exit_code, result.stdout


def _check_json(*args: str) -> tuple[int, dict[str, Any]]:
    exit_code, stdout = _check(*args, "--json")
    payload = json.loads(stdout)  # the whole of stdout must be one JSON object
    assert isinstance(payload, dict)
    return exit_code, payload


def test_valid_number_exits_0_with_only_the_basic_keys() -> None:
    exit_code, payload = _check_json("54016027", "--kind", "payer")
    assert exit_code == 0
    assert payload == {"valid": True, "kind": "payer", "value": "54016027"}


def test_wrong_check_digit_exits_1_with_reason_and_expected_digit() -> None:
    exit_code, payload = _check_json("54016028", "--kind", "payer")
    assert exit_code == 1
    assert payload == {
        "valid": False,
        "kind": "payer",
        "value": "54016028",
        "reason": "検証番号が誤っています（正しくは7）",
        "expected_check_digit": 7,
    }


def test_wrong_length_exits_1_with_reason_but_no_expected_digit() -> None:
    exit_code, payload = _check_json("5401602", "--kind", "payer")
    assert exit_code == 1
    assert payload["valid"] is False
    assert payload["reason"] == "8桁の数字で入力してください（入力は7桁）"
    assert "expected_check_digit" not in payload


def test_non_digit_input_exits_1_with_reason() -> None:
    exit_code, payload = _check_json("5401A027", "--kind", "payer")
    assert exit_code == 1
    assert payload["valid"] is False
    assert "「A」" in payload["reason"]
    assert "expected_check_digit" not in payload


def test_json_value_is_the_normalised_number() -> None:
    exit_code, payload = _check_json("０１１０１１３７１９", "--kind", "institution")
    assert exit_code == 0
    assert payload["value"] == "0110113719"


@pytest.mark.parametrize(
    ("value", "kind", "message"),
    [
        ("54016027", "payer", "有効な公費負担者番号です"),
        ("1234566", "recipient", "有効な公費受給者番号です"),
        ("33120015", "insurer", "有効な保険者番号です"),
        ("131016", "municipality", "有効な全国地方公共団体コードです"),
        ("123456789018", "mynumber", "有効な個人番号です"),
        ("0110113719", "institution", "有効な医療機関コードです"),
    ],
)
def test_human_output_for_a_valid_number(value: str, kind: str, message: str) -> None:
    exit_code, stdout = _check(value, "--kind", kind)
    assert exit_code == 0
    assert stdout.strip() == message


def test_human_output_for_an_invalid_number_gives_the_reason() -> None:
    exit_code, stdout = _check("131017", "--kind", "municipality")
    assert exit_code == 1
    assert stdout.strip() == "全国地方公共団体コードとして無効です: 検証番号が誤っています（正しくは6）"


def test_unknown_kind_is_a_usage_error() -> None:
    exit_code, _ = _check("54016027", "--kind", "bank")
    assert exit_code == 2


def test_missing_kind_is_a_usage_error() -> None:
    exit_code, _ = _check("54016027")
    assert exit_code == 2


def test_kind_choices_match_the_number_kinds() -> None:
    assert [choice.value for choice in KindChoice] == list(NUMBER_KINDS)
