"""Commands of the registry: programs, certificate import and generation, 外字 tables."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from pmh.auth import service as auth
from pmh.auth.schemas import Caller
from pmh.clikit import fail, fail_with, print_json, stderr, stdout
from pmh.codes.wareki import DateFormatError, parse_date
from pmh.db import read_only, unit_of_work
from pmh.errors import PmhError
from pmh.reference import catalogue
from pmh.registry import importer, service
from pmh.registry.schemas import GaijiEntry, ProgramCreate, UploadResult
from pmh.registry.synthetic import PayerSpec, generate, write_files

programs_app = typer.Typer(help="制度の登録", no_args_is_help=True)
certificates_app = typer.Typer(help="受給者証データ", no_args_is_help=True)
gaiji_app = typer.Typer(help="外字対応表", no_args_is_help=True)

MunicipalityOption = Annotated[str, typer.Option("--municipality", help="自治体コード（6桁）")]
JsonOption = Annotated[bool, typer.Option("--json", help="JSONで出力")]


def municipality_caller(code: str) -> Caller:
    """Return a caller acting for a municipality from the command line (registering it on first use)."""
    with unit_of_work() as session:
        organisation = auth.ensure_organisation(session, code)
        if organisation.kind != "municipality":
            raise PmhError(f"{code} は自治体ではありません。")
        return Caller(organisation.id, organisation.code, organisation.name, "municipality", "municipality", "cli")


@programs_app.command("add")
def add_program(
    municipality: MunicipalityOption,
    program: Annotated[str, typer.Option("--program", help="制度コード（例: nanbyo, kodomo）")],
    payer_number: Annotated[list[str], typer.Option("--payer-number", help="公費負担者番号（複数可）")],
    start: Annotated[str | None, typer.Option("--start", help="開始日（西暦・和暦）")] = None,
    planned: Annotated[int, typer.Option("--planned", help="対象予定者数")] = 0,
    no_recipient_check_digit: Annotated[
        bool, typer.Option("--no-recipient-check-digit", help="受給者番号に検証番号がない（地単のみ）")
    ] = False,
    certificate_type_id: Annotated[
        str | None,
        typer.Option("--certificate-type-id", help="機関別受給者証種別ID（登録APIの orgSpecificCertificateTypeId）"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """制度を登録します（実施主体のルールを確認します）。"""
    if certificate_type_id is not None and not re.fullmatch(r"[0-9A-Za-z]{1,50}", certificate_type_id):
        fail("--certificate-type-id: 機関別受給者証種別IDは半角英数50桁以内です", code=2)
    try:
        start_date = parse_date(start) if start else None
    except DateFormatError as exc:
        fail(f"--start: {exc}", code=2)
    try:
        caller = municipality_caller(municipality)
        with unit_of_work() as session:
            result = service.add_program(
                session,
                caller,
                ProgramCreate(
                    program_code=program,
                    payer_numbers=payer_number,
                    start_date=start_date,
                    planned_recipients=planned,
                    recipient_check_digit=False if no_recipient_check_digit else None,
                    certificate_type_id=certificate_type_id,
                ),
            )
    except PmhError as exc:
        if not as_json:
            for error in exc.errors:
                stderr.print(f"  {error.message}", highlight=False)
        fail_with(exc, as_json)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    stdout.print(
        f"{caller.organisation_name}の{result.program_name}を登録しました（{'・'.join(result.payer_numbers)}）。"
    )
    for warning in result.warnings:
        stderr.print(f"[yellow]確認:[/yellow] {warning}", highlight=False)


def _report(result: UploadResult, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "id": result.id,
                "status": result.status,
                "accepted": result.accepted,
                "rejected": result.rejected,
                "held_for_review": result.held_for_review,
                "total_rows": result.total_rows,
                "error_count": result.error_count,
                "errors": [
                    {"row": e.row, "column": e.column, "code": e.code, "message": e.message} for e in result.errors
                ],
            }
        )
    else:
        labels = {
            "applied": "反映しました",
            "rejected": "反映しませんでした（誤りがあります）",
            "duplicate": "同じ内容は反映済みです",
        }
        stdout.print(
            f"アップロード {result.id}: {labels[result.status]} — 登録 {result.accepted} 件"
            f"（うち紐づけ確認待ち {result.held_for_review} 件）、誤りのある行 {result.rejected} 件"
        )
        for error in result.errors[:50]:
            where = f"{error.row}行目" if error.row else "ファイル"
            stderr.print(f"  {where} {error.column}: {error.message}", highlight=False)
        if result.error_count > 50:
            stderr.print(f"  …ほか {result.error_count - 50} 件（`GET /api/v1/uploads/{result.id}/errors?format=csv`）")
    if result.status == "rejected":
        raise typer.Exit(1)


@certificates_app.command("import")
def import_certificates(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="受給者証データCSV")],
    municipality: MunicipalityOption,
    allow_partial: Annotated[bool, typer.Option("--allow-partial", help="正しい行だけを反映する")] = False,
    as_json: JsonOption = False,
) -> None:
    """受給者証データを取り込みます（既定は全件反映か全件不反映）。"""
    try:
        caller = municipality_caller(municipality)
        with file.open("rb") as stream, _progress(file.stat().st_size) as (bar, task):
            digest = importer.content_digest(stream)
            with unit_of_work() as session:
                result = importer.run_import(
                    session,
                    caller,
                    importer.file_reader(stream),
                    digest=digest,
                    source="cli",
                    filename=file.name,
                    allow_partial=allow_partial,
                    progress=lambda rows: bar.update(task, completed=stream.tell(), rows=rows),
                )
            bar.update(task, completed=file.stat().st_size)
    except PmhError as exc:
        fail_with(exc, as_json)
    _report(result, as_json)


class _progress:
    """A Rich progress bar on stderr over the bytes of the file being imported."""

    def __init__(self, total: int) -> None:
        self.bar = Progress(
            TextColumn("取り込み中"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[rows]:,} 行"),
            TimeRemainingColumn(),
            console=stderr,
            transient=True,
        )
        self.total = total

    def __enter__(self) -> tuple[Progress, TaskID]:
        self.bar.start()
        return self.bar, self.bar.add_task("import", total=self.total, rows=0)

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()


@certificates_app.command("generate")
def generate_certificates(
    rows: Annotated[int, typer.Option("--rows", min=1, help="行数")],
    municipality: MunicipalityOption,
    out: Annotated[Path, typer.Option("--out", help="受給者証データの出力先")],
    encoding: Annotated[Literal["utf-8", "utf-8-sig", "cp932"], typer.Option("--encoding")] = "utf-8",
    insurance_out: Annotated[
        Path | None, typer.Option("--insurance-out", help="対応する保険資格CSV（既定: 出力先.insurance.csv）")
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    variant_rate: Annotated[float, typer.Option("--variant-rate", help="表記ゆれの割合")] = 0.1,
    mismatch_rate: Annotated[float, typer.Option("--mismatch-rate", help="別人の割合（確認待ちになる）")] = 0.0,
) -> None:
    """実在しそうな受給者証データと保険資格データを生成します（試験・性能測定用）。"""
    payers = _payers_of(municipality)
    insurance_path = insurance_out or out.with_suffix(out.suffix + ".insurance.csv")
    cases = generate(rows, municipality, payers, seed=seed, variant_rate=variant_rate, mismatch_rate=mismatch_rate)
    write_files(cases, out, insurance_path, encoding=encoding)
    stdout.print(f"{out}（{rows:,} 行）と {insurance_path} を作成しました。")


def _payers_of(municipality: str) -> list[PayerSpec]:
    with read_only() as session:
        rows = service.payer_numbers_of(session, municipality)
    if not rows:
        fail(
            f"自治体 {municipality} に制度が登録されていません。先に `pmh programs add --municipality {municipality}"
            " --program CODE --payer-number N` で登録してください。"
        )
    return [
        PayerSpec(
            payer_number=payer,
            program_code=code,
            national=catalogue.program(code).national,
            has_cap=catalogue.program(code).has_monthly_cap,
        )
        for payer, code in rows
    ]


@gaiji_app.command("import")
def import_gaiji(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV: character,replacement")],
    municipality: MunicipalityOption,
) -> None:
    """外字対応表を登録します（全件置換）。文字は1文字か U+XXXX で指定します。"""
    with file.open(encoding="utf-8-sig", newline="") as stream:
        entries = [
            GaijiEntry(character=row[0].strip(), replacement=row[1].strip())
            for row in csv.reader(stream)
            if row and row[0].strip() and row[0].strip().lower() != "character"
        ]
    try:
        caller = municipality_caller(municipality)
        with unit_of_work() as session:
            count = service.replace_gaiji_table(session, caller, entries)
    except PmhError as exc:
        fail_with(exc)
    stdout.print(f"外字対応表を {count} 件で登録しました。")
