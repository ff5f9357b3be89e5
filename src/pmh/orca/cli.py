"""``pmh orca push``: a reception's 公費 from the hub into ORCA by patientmodv32 (see :mod:`pmh.orca.bridge`)."""

from __future__ import annotations

import urllib.error
from typing import Annotated

import typer

from pmh.clikit import fail, print_json, stdout
from pmh.errors import PmhError
from pmh.orca import bridge

JsonOption = Annotated[bool, typer.Option("--json", help="JSONで出力")]
app = typer.Typer(help="ORCA（日医標準レセプトソフト）との連携", no_args_is_help=True)


@app.command("push")
def push(
    reception: Annotated[int, typer.Option("--reception", help="受付ID")],
    hub: Annotated[str, typer.Option("--hub", help="ハブのURL（例: https://pmh.example.jp）")],
    key: Annotated[str, typer.Option("--key", help="医療機関のAPIキー", envvar="PMH_ORCA_HUB_KEY")],
    orca: Annotated[str, typer.Option("--orca", help="ORCA のURL（例: http://localhost:8000）")],
    orca_user: Annotated[str | None, typer.Option("--orca-user", help="ORCA のユーザー")] = None,
    orca_password: Annotated[
        str | None, typer.Option("--orca-password", help="ORCA のパスワード", envvar="PMH_ORCA_PASSWORD")
    ] = None,
    allow_select: Annotated[
        list[str] | None,
        typer.Option("--allow-select", help="「Ok」と答えてよい ORCA の確認コード（Patient_Select、複数可）"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """受付の公費を ORCA の患者保険・公費情報（patientmodv32）に登録・更新します。"""
    try:
        body = bridge.read_eligibility(hub, key, reception)
        result = bridge.push(
            body,
            bridge.orca_caller(orca, orca_user, orca_password),
            karte_uid=bridge.new_karte_uid(),
            allowed_selects=set(allow_select or ()),
        )
    except bridge.OrcaRefused as exc:
        if as_json:
            print_json({"error": exc.code, "message": exc.message, **exc.extensions["result"]})
            raise typer.Exit(1) from exc
        fail(exc.message)
    except PmhError as exc:
        if as_json:
            print_json({"error": exc.code, "message": exc.message})
            raise typer.Exit(1) from exc
        fail(exc.message)
    except (urllib.error.URLError, OSError) as exc:
        fail(f"接続できません: {exc}", code=1)
    if as_json:
        print_json(result.as_dict())
        return
    stdout.print(
        f"ORCA 患者 {result.patient_id}: 追加 {len(result.added)} 件、更新 {len(result.modified)} 件、"
        f"変更なし {len(result.unchanged)} 件（{result.api_result_message or result.api_result}）"
    )
