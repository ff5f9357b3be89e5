"""Commands of the fees: ``pmh fees price`` and ``pmh fees compute``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pmh.clikit import fail, fail_with, print_json, stdout
from pmh.codes.fiscal import format_fiscal_year
from pmh.codes.wareki import DateFormatError, parse_date
from pmh.db import read_only, unit_of_work
from pmh.errors import PmhError
from pmh.operator.edges import cli_operator
from pmh.operator.fees import service

fees_app = typer.Typer(help="運営負担金・新規導入費用", no_args_is_help=True)


class PriceVersionChoice(StrEnum):
    """``estimate`` 概算 (August) or ``final`` 確定 (December)."""

    estimate = "estimate"
    final = "final"


FiscalYearOption = Annotated[int, typer.Option("--fiscal-year", help="年度（西暦、例: 2027 = 令和9年度）")]
JsonOption = Annotated[bool, typer.Option("--json", help="JSONで出力")]


@fees_app.command("price")
def price(
    fiscal_year: FiscalYearOption,
    version: Annotated[PriceVersionChoice, typer.Option("--version", help="estimate（概算）/ final（確定）")],
    unit: Annotated[str, typer.Option("--unit", help="登録対象者1人当たり月額単価（円、例: 7 や 4.41）")],
    introduction_total: Annotated[
        int | None, typer.Option("--introduction-total", help="その年度の新規導入費用の総額（円）")
    ] = None,
    introducing: Annotated[
        int | None,
        typer.Option("--introducing-municipalities", help="新規導入費用を分担する自治体数（省略時は登録から数える）"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """年度の単価（概算・確定）と新規導入費用の総額を設定します。"""
    try:
        caller = cli_operator()
        with unit_of_work() as session:
            stored = service.set_price(
                session,
                caller,
                fiscal_year,
                version.value,
                service.parse_unit_price(unit),
                introduction_total,
                introducing,
            )
            result = {
                "fiscal_year": stored.fiscal_year,
                "version": stored.version,
                "unit_price": service.yen_text(stored.unit_price_sen),
                "introduction_total": stored.introduction_total,
                "introducing_municipalities": stored.introducing_municipalities,
            }
    except PmhError as exc:
        fail_with(exc, as_json)
    if as_json:
        print_json(result)
        return
    label = service.VERSION_LABELS[version.value]
    stdout.print(
        f"{format_fiscal_year(fiscal_year)}の{label}単価を月額{result['unit_price']}円に設定しました"
        + (f"（新規導入費用の総額 {introduction_total:,}円）。" if introduction_total is not None else "。"),
        highlight=False,
    )


@fees_app.command("compute")
def compute(
    fiscal_year: FiscalYearOption,
    price_version: Annotated[
        PriceVersionChoice | None, typer.Option("--price", help="使う単価（省略時は確定、なければ概算）")
    ] = None,
    reference_date: Annotated[
        str | None, typer.Option("--reference-date", help="基準日（省略時は前年度の4月1日）")
    ] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="請求明細をCSVに書き出すファイル")] = None,
    as_json: JsonOption = False,
) -> None:
    """各自治体の算定対象者数、運営負担金（月額・年額）、新規導入費用を算定します。"""
    try:
        on = parse_date(reference_date) if reference_date else None
    except DateFormatError as exc:
        fail(f"--reference-date: {exc}", code=2)
    try:
        with read_only() as session:
            report = service.compute(
                session,
                fiscal_year,
                price_version.value if price_version else None,
                on,
            )
    except PmhError as exc:
        fail_with(exc, as_json)
    if csv_out is not None:
        csv_out.write_text("\ufeff" + service.invoice_csv(report), encoding="utf-8")
    if as_json:
        print_json(report.as_json())
        return
    stdout.print(
        f"{format_fiscal_year(fiscal_year)} {report.price_label} 月額{service.yen_text(report.unit_price_sen)}円"
        f"（基準日 {report.reference_date}）、新規導入費用 1自治体 {report.introduction_fee_each:,}円",
        highlight=False,
    )
    for line in report.municipalities:
        stdout.print(
            f"{line.code} {line.name}: 算定対象者数 {line.registered_count:,}"
            f"（登録 {line.registered:,} + 予定 {line.planned:,}）"
            f" 月額 {line.monthly_fee:,}円 年額 {line.annual_fee:,}円"
            f" 新規導入費用 {line.introduction_fee:,}円",
            highlight=False,
        )
    if not report.municipalities:
        stdout.print("対象となる自治体はありません。")


@fees_app.command("rebuild-counts")
def rebuild_counts(
    reference_dates: Annotated[
        list[str] | None,
        typer.Option(
            "--reference-date",
            help="集計を保つ基準日（複数可。省略時は保っている基準日と令和8年4月1日以降の各年度の基準日）",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """登録対象者数の集計（基準日・制度ごと）を受給者証の版から数え直します。"""
    try:
        dates = [parse_date(text) for text in reference_dates or []]
    except DateFormatError as exc:
        fail(f"--reference-date: {exc}", code=2)
    try:
        caller = cli_operator()
        with unit_of_work() as session:
            changed = service.rebuild_counts(session, caller, dates or None)
    except PmhError as exc:
        fail_with(exc, as_json)
    if as_json:
        print_json(
            {
                "reference_dates": [
                    {"reference_date": on.isoformat(), "changed_programs": n} for on, n in changed.items()
                ]
            }
        )
        return
    for on, n in changed.items():
        stdout.print(
            f"基準日 {on}: "
            + (f"{n:,}制度の登録対象者数を直しました。" if n else "集計は受給者証の版と一致しています。"),
            highlight=False,
        )
