"""Commands of the subsidy: ``pmh subsidy quote`` and the list of applications."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from pmh.clikit import fail_with, print_json, stdout
from pmh.db import read_only
from pmh.errors import PmhError
from pmh.operator.subsidy import rules, service

subsidy_app = typer.Typer(help="医療機関・薬局向け補助金", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="JSONで出力")]


class FacilityChoice(StrEnum):
    """Kind of facility."""

    clinic = "clinic"
    hospital = "hospital"
    pharmacy = "pharmacy"


class OptionChoice(StrEnum):
    """The chosen modification: ① ② ③."""

    one = "1"
    two = "2"
    three = "3"


@subsidy_app.command("quote")
def quote(
    facility: Annotated[
        FacilityChoice, typer.Option("--facility", help="clinic 診療所 / hospital 病院 / pharmacy 薬局")
    ],
    option: Annotated[OptionChoice, typer.Option("--option", help="1 ①, 2 ①＋マイナ診察券, 3 マイナ診察券のみ")],
    cost: Annotated[int, typer.Option("--cost", help="改修費用（円）", min=0)],
    reception_machine: Annotated[
        bool, typer.Option("--reception-machine", help="再来受付機等の改修を含む（病院の②③）")
    ] = False,
    large_chain: Annotated[bool, typer.Option("--large-chain", help="大型チェーン薬局")] = False,
    fiscal_year: Annotated[int | None, typer.Option("--fiscal-year", help="年度（省略時は最新の補助金）")] = None,
    as_json: JsonOption = False,
) -> None:
    """補助額を試算し、適用したルールを示します（千円未満切捨て）。"""
    try:
        result = rules.quote(
            facility.value,
            int(option.value),
            cost,
            reception_machine=reception_machine,
            large_chain=large_chain,
            fiscal_year=fiscal_year,
        )
    except PmhError as exc:
        fail_with(exc, as_json)
    if as_json:
        print_json(result.as_json())
        return
    stdout.print(f"補助額 {result.amount:,}円", highlight=False)
    stdout.print(result.explanation, highlight=False)


@subsidy_app.command("applications")
def applications(as_json: JsonOption = False) -> None:
    """補助金の申請一覧（書類の不足を含む）を表示します。"""
    with read_only() as session:
        views = service.list_applications(session)
        rows = [v.as_json() for v in views]
    if as_json:
        print_json({"applications": rows})
        return
    for row in rows:
        missing = "、".join(service.DOCUMENTS[d] for d in row["missing_documents"])  # type: ignore[attr-defined]
        state = "書類そろい" if row["status"] == "complete" else f"書類不足（{missing}）"
        stdout.print(
            f"{row['institution_code']} {row['institution_name']}: {row['amount']:,}円 {state}", highlight=False
        )
    if not rows:
        stdout.print("申請はありません。")
