"""Commands of the simulated national services: insurance records and test My Number cards."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pmh.cards import service
from pmh.clikit import fail, fail_with, print_json, stderr, stdout
from pmh.codes.wareki import DateFormatError, parse_date
from pmh.db import unit_of_work
from pmh.errors import PmhError

insurance_app = typer.Typer(help="保険資格（資格確認サービスの模擬）", no_args_is_help=True)
cards_app = typer.Typer(help="テスト用マイナンバーカード（カードサービスの模擬）", no_args_is_help=True)


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


@cards_app.command("issue")
def issue_card(
    my_number: Annotated[str, typer.Option("--my-number", help="カード所有者の個人番号（12桁）")],
    pin: Annotated[str | None, typer.Option("--pin", help="暗証番号（数字4桁。省略時は無作為に決めます）")] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="有効期限（西暦・和暦。省略時は発行日から10年）")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSONで出力")] = False,
) -> None:
    """テスト用マイナンバーカードを発行し、カード番号と暗証番号を一度だけ表示します。"""
    try:
        expires_on = parse_date(expires) if expires else None
    except DateFormatError as exc:
        fail(f"--expires: {exc}", code=2)
    try:
        with unit_of_work() as session:
            card = service.issue_card(session, my_number, pin, expires_on)
    except PmhError as exc:
        fail_with(exc, as_json)
    if as_json:
        print_json({"card_serial": card.card_serial, "pin": card.pin, "expires_on": card.expires_on.isoformat()})
    else:
        stdout.print(f"カードを発行しました。カード番号: {card.card_serial}", highlight=False)
        stdout.print(f"暗証番号: {card.pin}（この表示は一度だけです）", highlight=False)
        stdout.print(f"有効期限: {card.expires_on.isoformat()}", highlight=False)


@cards_app.command("unlock")
def unlock_card(serial: Annotated[str, typer.Argument(help="カード番号")]) -> None:
    """暗証番号のロックを解除し、誤入力の回数を戻します（市区町村窓口の手続きの模擬）。"""
    try:
        with unit_of_work() as session:
            service.unlock_card(session, serial)
    except PmhError as exc:
        fail_with(exc)
    stdout.print(f"カード {serial.strip().upper()} の暗証番号ロックを解除しました。", highlight=False)


@cards_app.command("revoke")
def revoke_card(serial: Annotated[str, typer.Argument(help="カード番号")]) -> None:
    """カードを廃止します（以後の本人確認はすべて拒否されます）。"""
    try:
        with unit_of_work() as session:
            service.revoke_card(session, serial)
    except PmhError as exc:
        fail_with(exc)
    stdout.print(f"カード {serial.strip().upper()} を廃止しました。", highlight=False)
