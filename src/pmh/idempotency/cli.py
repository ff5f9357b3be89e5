"""Command of the idempotency keys: ``pmh idempotency purge`` (cron, e.g. hourly)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from pmh.clikit import print_json, stdout
from pmh.db import unit_of_work
from pmh.idempotency import service

idempotency_app = typer.Typer(help="再送用の冪等キー（Idempotency-Key）", no_args_is_help=True)


@idempotency_app.command("purge")
def purge(
    hours: Annotated[
        int, typer.Option("--hours", min=1, max=24 * 365, help="この時間より古いキーを削除（既定 24 時間）")
    ] = service.KEEP_HOURS,
    as_json: Annotated[bool, typer.Option("--json", help="JSONで出力")] = False,
) -> None:
    """保持期間を過ぎた冪等キーを削除します（それ以後の同じキーの再送は新しいリクエストとして扱います）。"""
    with unit_of_work() as session:
        deleted = service.purge(session, dt.timedelta(hours=hours))
    if as_json:
        print_json({"deleted": deleted, "hours": hours})
        return
    stdout.print(f"{hours} 時間より古い冪等キーを {deleted} 件削除しました。")
