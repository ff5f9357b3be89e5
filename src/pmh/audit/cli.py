"""Commands for the audit log."""

from __future__ import annotations

from typing import Annotated

import typer

from pmh.audit import service
from pmh.clikit import print_json, stderr, stdout
from pmh.db import read_only

app = typer.Typer(help="監査ログ", no_args_is_help=True)


@app.command("verify")
def verify(as_json: Annotated[bool, typer.Option("--json", help="JSONで出力")] = False) -> None:
    """監査ログのハッシュ連鎖を検証し、改ざん・削除・並べ替えを検出します。"""
    with read_only() as session:
        result = service.verify_chain(session)
    if as_json:
        print_json({"ok": result.ok, "entries": result.entries, "problems": result.problems})
    elif result.ok:
        stdout.print(f"監査ログは正常です（{result.entries}件）。")
    else:
        for problem in result.problems:
            stderr.print(f"[red]検出:[/red] {problem}", highlight=False)
        stderr.print(f"監査ログに {len(result.problems)} 件の異常があります（{result.entries}件中）。")
    if not result.ok:
        raise typer.Exit(1)
