"""Commands of the simulated national services: insurance records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pmh.cards import service
from pmh.clikit import fail_with, print_json, stderr, stdout
from pmh.db import unit_of_work
from pmh.errors import PmhError

insurance_app = typer.Typer(help="保険資格（資格確認サービスの模擬）", no_args_is_help=True)


@insurance_app.command("import")
def import_insurance(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="保険資格CSV")],
    as_json: Annotated[bool, typer.Option("--json", help="JSONで出力")] = False,
) -> None:
    """保険資格データを取り込みます（個人番号で照合。全件反映か全件不反映）。"""
    try:
        with file.open(encoding="utf-8-sig", newline="") as stream, unit_of_work() as session:
            result = service.import_insurance_records(session, stream)
    except PmhError as exc:
        if not as_json:
            for error in exc.errors[:50]:
                stderr.print(f"  {error.row}行目 {error.field}: {error.message}", highlight=False)
        fail_with(exc, as_json)
    if as_json:
        print_json({"added": result.added, "updated": result.updated})
    else:
        stdout.print(f"保険資格を取り込みました（追加 {result.added} 件、更新 {result.updated} 件）。")
