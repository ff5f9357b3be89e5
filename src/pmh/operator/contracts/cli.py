"""Commands of the contracts: contact windows, delegations, ``pmh contracts build``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from pmh.clikit import fail_with, print_json, stdout
from pmh.codes.fiscal import format_fiscal_year
from pmh.db import read_only, unit_of_work
from pmh.errors import PmhError
from pmh.operator.contracts import service
from pmh.operator.edges import cli_operator

contracts_app = typer.Typer(help="委託契約（とりまとめ窓口・委任状・都道府県の契約）", no_args_is_help=True)

FiscalYearOption = Annotated[int, typer.Option("--fiscal-year", help="年度（西暦、例: 2027 = 令和9年度）")]
MunicipalityOption = Annotated[str, typer.Option("--municipality", help="自治体コード（6桁）")]
JsonOption = Annotated[bool, typer.Option("--json", help="JSONで出力")]


class PaymentChoice(StrEnum):
    """How the municipality pays the operating fee."""

    monthly = "monthly"
    annual = "annual"


def _print_contracts(fiscal_year: int, contracts: list[service.PrefectureContract], as_json: bool) -> None:
    if as_json:
        print_json({"fiscal_year": fiscal_year, "contracts": [c.as_json() for c in contracts]})
        return
    for contract in contracts:
        status = "作成済み" if contract.status == "built" else "未作成"
        stdout.print(
            f"{contract.prefecture_code} {contract.prefecture_name}（{status}）: 別紙 {len(contract.programs)}件、"
            f"委任 {len(contract.delegations)}市区町村"
            + (f"、翌年度の更新へ {len(contract.deferred)}件" if contract.deferred else "")
            + (f"、委任状未提出 {len(contract.missing_delegations)}市区町村" if contract.missing_delegations else ""),
            highlight=False,
        )
    if not contracts:
        stdout.print(f"{format_fiscal_year(fiscal_year)}に契約する都道府県はありません。")


@contracts_app.command("window")
def window(
    municipality: MunicipalityOption,
    department: Annotated[str, typer.Option("--department", help="とりまとめ課")],
    contact_name: Annotated[str | None, typer.Option("--contact", help="担当者")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="電話番号")] = None,
    email: Annotated[str | None, typer.Option("--email", help="メールアドレス")] = None,
    payment: Annotated[PaymentChoice, typer.Option("--payment", help="monthly（月払い）/ annual（年払い）")] = (
        PaymentChoice.annual
    ),
) -> None:
    """自治体のとりまとめ窓口と運営負担金の支払方法を登録します。"""
    try:
        with unit_of_work() as session:
            stored = service.set_contact_window(
                session, municipality, department, contact_name, phone, email, payment.value
            )
            code, name = stored.municipality_code, stored.department
    except PmhError as exc:
        fail_with(exc)
    stdout.print(f"{code} のとりまとめ窓口を「{name}」に設定しました。", highlight=False)


@contracts_app.command("delegate")
def delegate(
    municipality: MunicipalityOption,
    fiscal_year: FiscalYearOption,
    program: Annotated[
        list[str] | None, typer.Option("--program", help="委託する制度コード（複数可、省略時は登録済みの制度）")
    ] = None,
) -> None:
    """市区町村の委任状（委任状別紙: 委託する制度の一覧）を登録します。"""
    try:
        with unit_of_work() as session:
            stored = service.delegate(session, municipality, fiscal_year, program or None)
            programs = stored.programs.replace(";", "、")
    except PmhError as exc:
        fail_with(exc)
    stdout.print(f"{municipality} の委任状（{format_fiscal_year(fiscal_year)}）: {programs}", highlight=False)


@contracts_app.command("build")
def build(fiscal_year: FiscalYearOption, as_json: JsonOption = False) -> None:
    """都道府県ごとに年度の委託契約（別紙付き）を1本作成します（作成済みの契約は変えません）。"""
    try:
        caller = cli_operator()
        with unit_of_work() as session:
            contracts = service.build(session, caller, fiscal_year)
    except PmhError as exc:
        fail_with(exc, as_json)
    _print_contracts(fiscal_year, contracts, as_json)


@contracts_app.command("show")
def show(fiscal_year: FiscalYearOption, as_json: JsonOption = False) -> None:
    """年度の契約（作成済みと未作成の案）を表示します。"""
    try:
        with read_only() as session:
            contracts = service.contracts_for(session, fiscal_year)
    except PmhError as exc:
        fail_with(exc, as_json)
    _print_contracts(fiscal_year, contracts, as_json)
