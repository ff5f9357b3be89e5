"""Commands for organisations, API keys and staff accounts."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from pmh.auth import readers, service
from pmh.auth.passwords import totp_uri
from pmh.clikit import fail_with, print_json, stdout
from pmh.db import unit_of_work
from pmh.errors import PmhError

keys_app = typer.Typer(help="APIキーの発行・失効", no_args_is_help=True)
institutions_app = typer.Typer(help="医療機関・薬局の登録", no_args_is_help=True)
staff_app = typer.Typer(help="職員アカウント（画面ログイン用）", no_args_is_help=True)
readers_app = typer.Typer(help="カードリーダーの登録（1台ごとに専用のAPIキー、顔認証端末の指定）", no_args_is_help=True)
institutions_app.add_typer(readers_app, name="readers")

RoleOption = Literal["municipality", "institution", "card_reader", "operator"]
KindOption = Literal["clinic", "hospital", "pharmacy"]


@keys_app.command("create")
def create_key(
    org: Annotated[str, typer.Option("--org", help="組織コード（自治体コード6桁・医療機関コード10桁・operator）")],
    role: Annotated[RoleOption, typer.Option("--role", help="ロール")],
    label: Annotated[str | None, typer.Option("--label", help="用途メモ")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSONで出力")] = False,
) -> None:
    """APIキーを発行します。キーはこの一度だけ表示されます。"""
    try:
        with unit_of_work() as session:
            organisation = service.ensure_organisation(session, org)
            issued = service.create_api_key(session, organisation, role, label)
    except PmhError as exc:
        fail_with(exc, as_json)
    if as_json:
        print_json(
            {
                "key": issued.key,
                "prefix": issued.prefix,
                "role": issued.role,
                "organisation": issued.organisation_code,
            }
        )
        return
    stdout.print(f"{issued.organisation_name}（{issued.organisation_code}）の {issued.role} 用APIキー:")
    stdout.print(issued.key, highlight=False)
    stdout.print("このキーは再表示できません。安全な場所に保管してください。")


@keys_app.command("revoke")
def revoke_key(prefix: Annotated[str, typer.Argument(help="キーの識別子（pmh_XXXX_ の XXXX）")]) -> None:
    """APIキーを失効させます。"""
    try:
        with unit_of_work() as session:
            service.revoke_api_key(session, prefix)
    except PmhError as exc:
        fail_with(exc)
    stdout.print(f"鍵 {prefix} を失効させました。")


@institutions_app.command("add")
def add_institution(
    code: Annotated[str, typer.Option("--code", help="医療機関コード（10桁）")],
    name: Annotated[str, typer.Option("--name", help="名称")],
    kind: Annotated[KindOption, typer.Option("--kind", help="clinic / hospital / pharmacy")],
    large_chain: Annotated[bool, typer.Option("--large-chain", help="大型チェーン薬局")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSONで出力")] = False,
) -> None:
    """医療機関・薬局を登録します。"""
    try:
        with unit_of_work() as session:
            organisation = service.add_institution(session, code, name, kind, large_chain)
            result = {
                "code": organisation.code,
                "name": organisation.name,
                "kind": kind,
                "large_chain": large_chain,
            }
    except PmhError as exc:
        fail_with(exc, as_json)
    if as_json:
        print_json(result)
    else:
        stdout.print(f"{result['name']}（{result['code']}）を登録しました。")


@staff_app.command("add")
def add_staff(
    org: Annotated[str, typer.Option("--org", help="組織コード")],
    login: Annotated[str, typer.Option("--login", help="ログインID")],
    name: Annotated[str, typer.Option("--name", help="表示名")],
    password: Annotated[
        str,
        typer.Option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="12文字以上"),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="JSONで出力")] = False,
) -> None:
    """職員アカウントを作成し、二要素認証（TOTP）の登録情報を表示します。"""
    try:
        with unit_of_work() as session:
            organisation = service.ensure_organisation(session, org)
            user, secret = service.create_staff_user(session, organisation, login, name, password)
            login_id = user.login
    except PmhError as exc:
        fail_with(exc, as_json)
    uri = totp_uri(secret, login_id)
    if as_json:
        print_json({"login": login_id, "totp_secret": secret, "totp_uri": uri})
        return
    stdout.print(f"職員 {login_id} を作成しました。認証アプリに次の秘密鍵を登録してください（再表示できません）:")
    stdout.print(secret, highlight=False)
    stdout.print(uri, highlight=False)


@readers_app.command("add")
def add_reader(
    institution: Annotated[str, typer.Option("--institution", help="医療機関コード（10桁）")],
    name: Annotated[str, typer.Option("--name", help="カードリーダーの名前（受付1 など）")],
    face: Annotated[bool, typer.Option("--face", help="顔認証付きカードリーダーとして登録")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSONで出力")] = False,
) -> None:
    """カードリーダーを登録し、その端末専用のAPIキーを発行します（キーはこの一度だけ表示）。"""
    try:
        with unit_of_work() as session:
            info, issued = readers.add_reader(session, institution, name, face)
    except PmhError as exc:
        fail_with(exc, as_json)
    if as_json:
        print_json(
            {
                "institution": info.institution,
                "name": info.name,
                "face": info.face,
                "key": issued.key,
                "prefix": issued.prefix,
                "role": issued.role,
            }
        )
        return
    kind = "顔認証付きカードリーダー" if info.face else "カードリーダー（暗証番号のみ）"
    stdout.print(f"{issued.organisation_name}（{info.institution}）の{kind}「{info.name}」を登録しました。専用APIキー:")
    stdout.print(issued.key, highlight=False)
    stdout.print("このキーは再表示できません。この端末にだけ設定してください。")


@readers_app.command("list")
def list_readers(
    institution: Annotated[str, typer.Option("--institution", help="医療機関コード（10桁）")],
    as_json: Annotated[bool, typer.Option("--json", help="JSONで出力")] = False,
) -> None:
    """登録済みのカードリーダーを一覧します（キーは表示しません）。"""
    try:
        with unit_of_work() as session:
            found = readers.list_readers(session, institution)
    except PmhError as exc:
        fail_with(exc, as_json)
    rows = [
        {
            "institution": r.institution,
            "name": r.name,
            "face": r.face,
            "prefix": r.prefix,
            "created_at": r.created_at.isoformat(),
            "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
        }
        for r in found
    ]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        state = "失効" if row["revoked_at"] else ("顔認証" if row["face"] else "暗証番号のみ")
        stdout.print(f"{row['prefix']}  {row['name']}  {state}", highlight=False)


@readers_app.command("revoke")
def revoke_reader(
    prefix: Annotated[str, typer.Argument(help="カードリーダーのキーの識別子（pmh_XXXX_ の XXXX）")],
) -> None:
    """カードリーダーの登録とそのAPIキーを失効させます。"""
    try:
        with unit_of_work() as session:
            readers.revoke_reader(session, prefix)
    except PmhError as exc:
        fail_with(exc)
    stdout.print(f"キー {prefix} のカードリーダーを失効させました。")
