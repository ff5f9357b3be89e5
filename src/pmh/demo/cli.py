"""Commands that seed and use the demo data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from pmh import clock
from pmh.auth.models import StaffUser
from pmh.auth.passwords import totp_code
from pmh.clikit import fail, print_json, stdout
from pmh.db import read_only, unit_of_work
from pmh.demo import service
from pmh.demo.service import DemoCredentials
from pmh.settings import get_settings

app = typer.Typer(help="デモデータ", no_args_is_help=True)
DEFAULT_RECIPIENTS = 200


def credentials_path() -> Path:
    """Return where the demo's credentials are kept (owner-only) for later look-up."""
    return get_settings().data_dir / "demo-credentials.json"


def seed_and_report(recipients: int = DEFAULT_RECIPIENTS) -> DemoCredentials | None:
    """Seed the demo unless it already exists; keep and print the credentials of a new seed."""
    with unit_of_work() as session:
        if service.is_seeded(session):
            return None
        credentials = service.seed_demo(session)
        if recipients:
            for code, result in service.seed_recipients(session, recipients).items():
                credentials.imports.append(
                    {"municipality": code, "accepted": result.accepted, "held_for_review": result.held_for_review}
                )
            credentials.cards = service.seed_cards(session)
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = {"staff": credentials.staff, "keys": credentials.keys, "cards": credentials.cards}
    path.write_text(json.dumps(kept, ensure_ascii=False, indent=2))
    path.chmod(0o600)
    return credentials


def print_credentials(credentials: DemoCredentials) -> None:
    """Print the demo sign-in accounts and keys for the person trying the hub."""
    stdout.print("[bold]デモ用アカウント[/bold]（パスワードはすべて同じ。確認コードは `pmh demo totp ログインID`）")
    for account in credentials.staff:
        stdout.print(f"  {account['login']:<16} {account['organisation']}  パスワード: {account['password']}")
    stdout.print("[bold]デモ用APIキー[/bold]")
    for key in credentials.keys:
        stdout.print(f"  {key['name']}（{key['role']}）: {key['key']}", highlight=False)
    for result in credentials.imports:
        stdout.print(
            f"[bold]受給者証[/bold] {result['municipality']}: {result['accepted']} 件"
            f"（うち紐づけ確認待ち {result['held_for_review']} 件）"
        )
    if credentials.cards:
        where = "受付端末 /kiosk・ご本人用ページ /me"
        stdout.print(f"[bold]デモ用マイナンバーカード[/bold]（{where} でカード番号と暗証番号を入力）")
    for card in credentials.cards:
        stdout.print(
            f"  {card['name']}: カード {card['card_serial']}  暗証番号 {card['pin']}"
            f"（受給者証 {card['certificates']} 件）",
            highlight=False,
        )
    stdout.print(f"この情報は {credentials_path()} にも保存しました。")


@app.command("seed")
def seed(
    recipients: Annotated[int, typer.Option("--recipients", min=0, help="受給者証の件数")] = DEFAULT_RECIPIENTS,
    as_json: Annotated[bool, typer.Option("--json", help="JSONで出力")] = False,
) -> None:
    """デモ用の自治体・制度・受給者証・医療機関・職員アカウント・APIキーを作成します（作成済みなら何もしません）。"""
    credentials = seed_and_report(recipients)
    if credentials is None:
        fail(f"デモデータは作成済みです（{credentials_path()}）。", code=0)
    if as_json:
        print_json(
            {
                "staff": credentials.staff,
                "keys": credentials.keys,
                "imports": credentials.imports,
                "cards": credentials.cards,
            }
        )
    else:
        print_credentials(credentials)


@app.command("totp")
def totp(login: Annotated[str, typer.Argument(help="デモ用ログインID（demo-で始まるもの）")]) -> None:
    """デモ用アカウントの現在の確認コードを表示します（本番のアカウントには使えません）。"""
    if not login.startswith(service.DEMO_LOGIN_PREFIX):
        fail("確認コードを表示できるのはデモ用アカウント（demo-で始まるID）だけです。")
    with read_only() as session:
        secret = session.scalar(select(StaffUser.totp_secret).where(StaffUser.login == login))
    if secret is None:
        fail(f"デモ用アカウント {login} はありません。`pmh demo seed` を先に実行してください。")
    stdout.print(totp_code(secret, clock.now()))
