"""Commands of the onboarding readiness: ``pmh onboarding status|set|export|deadlines``.

The command line acts as the operator (it reads and writes every municipality's steps); the date
is today's in Japan unless ``--today`` says otherwise.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from pmh.clikit import fail, fail_with, print_json, stdout
from pmh.codes.fiscal import fiscal_year as fiscal_year_of
from pmh.codes.fiscal import format_fiscal_year
from pmh.codes.wareki import DateFormatError, parse_date
from pmh.db import unit_of_work
from pmh.errors import PmhError
from pmh.onboarding import rules, service
from pmh.operator.clock import today as japan_today
from pmh.operator.edges import cli_operator

onboarding_app = typer.Typer(help="導入の準備状況（意向・予算・PIA・条例・契約・接続試験・本番）", no_args_is_help=True)
deadlines_app = typer.Typer(help="年度ごとの期限", no_args_is_help=True)
onboarding_app.add_typer(deadlines_app, name="deadlines")

YearOption = Annotated[int | None, typer.Option("--fiscal-year", help="年度（西暦）。省略時は今日の年度")]
PrefectureOption = Annotated[str | None, typer.Option("--prefecture", help="都道府県コード（2桁）")]
TodayOption = Annotated[str | None, typer.Option("--today", help="今日の日付（省略時は日本時間の今日）")]
JsonOption = Annotated[bool, typer.Option("--json", help="JSONで出力")]


def _date(text: str | None, option: str) -> dt.date | None:
    if not text:
        return None
    try:
        return parse_date(text)
    except DateFormatError as exc:
        fail(f"{option}: {exc}", code=2)


def _today(text: str | None) -> dt.date:
    return _date(text, "--today") or japan_today()


@onboarding_app.command("status")
def status(
    fiscal_year: YearOption = None,
    prefecture: PrefectureOption = None,
    municipality: Annotated[str | None, typer.Option("--municipality", help="自治体コード（6桁）")] = None,
    today: TodayOption = None,
    as_json: JsonOption = False,
) -> None:
    """制度ごとの準備状況、手順ごとの件数、期限切れ・30日以内に期限の手順を表示します。"""
    on = _today(today)
    fy = fiscal_year or fiscal_year_of(on)
    try:
        caller = cli_operator()
        with unit_of_work() as session:
            view = service.overview(session, caller, fy, on, prefecture, municipality)
            result = view.as_json()
            due = view.due()
    except PmhError as exc:
        fail_with(exc, as_json)
    if as_json:
        print_json(result)
        return
    stdout.print(f"{format_fiscal_year(fy)}（今日 {on}）: {len(view.rows)}制度", highlight=False)
    for step, counts in view.counts().items():
        parts = "、".join(f"{rules.STATUS_LABELS[s]} {n}" for s, n in counts.items())
        stdout.print(f"  {rules.STEP_LABELS[step]}: {parts}", highlight=False)
    for item in due:
        label = "期限切れ" if item.state == "late" else "期限間近"
        stdout.print(
            f"{label} {item.due_on} {item.municipality_code} {item.municipality_name} {item.program_code}"
            f" {rules.STEP_LABELS[item.step]}（{rules.STATUS_LABELS[item.status]}）",
            highlight=False,
        )


@onboarding_app.command("set")
def set_step(
    municipality: Annotated[str, typer.Option("--municipality", help="自治体コード（6桁）")],
    program: Annotated[str, typer.Option("--program", help="制度コード")],
    step: Annotated[str, typer.Option("--step", help="intent, budget, pia, ordinance（他はPMHが判定）")],
    status_value: Annotated[str, typer.Option("--status", help="not_started, in_progress, done, not_required")],
    date: Annotated[str | None, typer.Option("--date", help="日付（完了のとき必須）")] = None,
    note: Annotated[str | None, typer.Option("--note", help="備考")] = None,
    pia_template: Annotated[str | None, typer.Option("--pia-template", help="digital_agency / revised")] = None,
    pia_evaluation: Annotated[str | None, typer.Option("--pia-evaluation", help="basic / priority / full")] = None,
    fiscal_year: YearOption = None,
    today: TodayOption = None,
    as_json: JsonOption = False,
) -> None:
    """自治体の手順の状態を記録します（監査ログに残ります）。"""
    on = _today(today)
    fy = fiscal_year or fiscal_year_of(on)
    report = service.StepReport(status_value, _date(date, "--date"), note, pia_template, pia_evaluation)
    try:
        caller = cli_operator()
        with unit_of_work() as session:
            service.set_step(session, caller, fy, municipality, program, step, report)
            result = service.readiness_of(session, caller, fy, on, municipality, program).as_json()
    except PmhError as exc:
        fail_with(exc, as_json)
    if as_json:
        print_json(result)
        return
    stdout.print(
        f"{municipality} {program} {rules.STEP_LABELS.get(step, step)} を"
        f"「{rules.STATUS_LABELS.get(status_value, status_value)}」にしました。",
        highlight=False,
    )


@onboarding_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="書き出すCSVファイル（BOM付きUTF-8）")],
    fiscal_year: YearOption = None,
    prefecture: PrefectureOption = None,
    today: TodayOption = None,
    as_json: JsonOption = False,
) -> None:
    """準備状況をCSVに書き出します（Excelで開ける形式、数式として解釈されないセル）。"""
    on = _today(today)
    fy = fiscal_year or fiscal_year_of(on)
    try:
        caller = cli_operator()
        with unit_of_work() as session:
            view = service.overview(session, caller, fy, on, prefecture)
            text = service.export_csv(session, caller, view)
    except PmhError as exc:
        fail_with(exc, as_json)
    out.write_text("\ufeff" + text, encoding="utf-8")
    if as_json:
        print_json({"fiscal_year": fy, "rows": len(view.rows), "file": str(out)})
        return
    stdout.print(f"{len(view.rows)}制度を {out} に書き出しました。", highlight=False)


@deadlines_app.command("seed")
def seed(fiscal_year: YearOption = None, as_json: JsonOption = False) -> None:
    """厚生労働省の想定対応スケジュールの期限（同梱データ）を登録します。"""
    try:
        caller = cli_operator()
        with unit_of_work() as session:
            rows = [service.deadline_json(d) for d in service.seed_deadlines(session, caller, fiscal_year)]
    except PmhError as exc:
        fail_with(exc, as_json)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        stdout.print(f"{row['fiscal_year']} {row['step']} {row['due_on']} {row['label']}", highlight=False)


@deadlines_app.command("set")
def set_deadline(
    fiscal_year: Annotated[int, typer.Option("--fiscal-year", help="年度（西暦）")],
    step: Annotated[str, typer.Option("--step", help="intent, budget, pia, ordinance, contract")],
    due: Annotated[str, typer.Option("--due", help="期限")],
    label: Annotated[str, typer.Option("--label", help="内容")],
    opens: Annotated[str | None, typer.Option("--opens", help="開始日")] = None,
    as_json: JsonOption = False,
) -> None:
    """年度の手順の期限を設定します。"""
    due_on = _date(due, "--due")
    assert due_on is not None
    try:
        caller = cli_operator()
        with unit_of_work() as session:
            row = service.deadline_json(
                service.set_deadline(session, caller, fiscal_year, step, due_on, label, _date(opens, "--opens"))
            )
    except PmhError as exc:
        fail_with(exc, as_json)
    if as_json:
        print_json(row)
        return
    stdout.print(f"{fiscal_year} {step} の期限を {due_on} にしました。", highlight=False)
