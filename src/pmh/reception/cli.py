"""Commands of the patient registry (患者受付登録一覧)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pmh.auth import service as auth
from pmh.auth.schemas import Caller
from pmh.clikit import fail_with, print_json, stderr, stdout
from pmh.db import unit_of_work
from pmh.errors import NotPermitted, PmhError
from pmh.reception import service

patients_app = typer.Typer(help="患者受付登録一覧（マイナ診察券）", no_args_is_help=True)


@patients_app.command("import")
def import_patients(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="患者一覧CSV")],
    institution: Annotated[str, typer.Option("--institution", help="医療機関コード（10桁）")],
    as_json: Annotated[bool, typer.Option("--json", help="JSONで出力")] = False,
) -> None:
    """医療機関の既存の患者一覧を取り込みます（全件反映か全件不反映。登録済みの患者番号は更新）。"""
    try:
        with unit_of_work() as session:
            organisation = auth.get_organisation(session, institution)
            if organisation.kind != "institution":
                raise NotPermitted(f"{institution} は医療機関・薬局ではありません。")
            caller = Caller(
                organisation.id, organisation.code, organisation.name, organisation.kind, "institution", "cli"
            )
            result = service.import_patients(session, caller, file.read_bytes())
    except PmhError as exc:
        if not as_json:
            for error in exc.errors[:50]:
                stderr.print(f"  {error.row}行目 {error.field}: {error.message}", highlight=False)
        fail_with(exc, as_json)
    if as_json:
        print_json(result.model_dump())
    else:
        stdout.print(f"患者一覧を取り込みました（追加 {result.added} 件、更新 {result.updated} 件）。")
