"""The ``pmh codes`` command group: check a number and say why it is wrong."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer

from pmh.codes.checkdigits import NUMBER_KIND_LABELS, NUMBER_KINDS, CheckResult, NumberKind, check_number

app = typer.Typer(help="番号・日付のルール", no_args_is_help=True)


class KindChoice(StrEnum):
    """The ``--kind`` values of ``pmh codes check``, one per :data:`~pmh.codes.checkdigits.NumberKind`."""

    payer = "payer"
    recipient = "recipient"
    insurer = "insurer"
    municipality = "municipality"
    mynumber = "mynumber"
    institution = "institution"


_NUMBER_KIND_BY_CHOICE: dict[str, NumberKind] = {kind: kind for kind in NUMBER_KINDS}


def result_to_json(result: CheckResult) -> dict[str, Any]:
    """Return the ``--json`` object of a check: ``reason`` and ``expected_check_digit`` only when set."""
    # A My Number is never echoed back: terminal output ends up in logs and scrollback.
    value = "" if result.kind == "mynumber" else result.value
    payload: dict[str, Any] = {"valid": result.valid, "kind": result.kind, "value": value}
    if result.reason is not None:
        payload["reason"] = result.reason
    if result.expected_check_digit is not None:
        payload["expected_check_digit"] = result.expected_check_digit
    return payload


def describe_result(result: CheckResult) -> str:
    """Return the one-line Japanese verdict shown to staff."""
    label = NUMBER_KIND_LABELS[result.kind]
    if result.valid:
        return f"有効な{label}です"
    return f"{label}として無効です: {result.reason}"


@app.command("check")
def check(
    value: Annotated[str, typer.Argument(help="検証する番号（全角数字も可）")],
    kind: Annotated[
        KindChoice,
        typer.Option(
            "--kind",
            help="番号の種類: payer 公費負担者番号, recipient 公費受給者番号, insurer 保険者番号, "
            "municipality 全国地方公共団体コード, mynumber 個人番号, institution 医療機関コード",
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="結果をJSONで出力します")] = False,
) -> None:
    """番号を検証し、誤りがあれば理由を示します。"""
    result = check_number(value, _NUMBER_KIND_BY_CHOICE[kind.value])
    if as_json:
        typer.echo(json.dumps(result_to_json(result), ensure_ascii=False))
    else:
        typer.echo(describe_result(result))
    if not result.valid:
        raise typer.Exit(code=1)
