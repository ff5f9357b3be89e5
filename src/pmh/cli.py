"""The ``pmh`` command: a Typer root that adds each area's command group explicitly."""

from __future__ import annotations

from typing import Annotated

import typer

import pmh
from pmh.audit.cli import app as audit_app
from pmh.auth.cli import institutions_app, keys_app, staff_app
from pmh.cards.cli import cards_app, insurance_app
from pmh.codes.cli import app as codes_app
from pmh.demo.cli import app as demo_app
from pmh.idempotency.cli import idempotency_app
from pmh.onboarding.cli import onboarding_app
from pmh.operator.cli import contracts_app, fees_app, stats_app, subsidy_app
from pmh.orca.cli import app as orca_app
from pmh.reception.cli import patients_app
from pmh.registry.cli import certificates_app, gaiji_app, programs_app

app = typer.Typer(help="pmh — 医療費助成オンライン資格確認ハブ", no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="データベース", no_args_is_help=True)

app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(keys_app, name="keys")
app.add_typer(institutions_app, name="institutions")
app.add_typer(staff_app, name="staff")
app.add_typer(programs_app, name="programs")
app.add_typer(certificates_app, name="certificates")
app.add_typer(gaiji_app, name="gaiji")
app.add_typer(insurance_app, name="insurance")
app.add_typer(cards_app, name="cards")
app.add_typer(patients_app, name="patients")
app.add_typer(codes_app, name="codes")
app.add_typer(audit_app, name="audit")
app.add_typer(fees_app, name="fees")
app.add_typer(contracts_app, name="contracts")
app.add_typer(stats_app, name="stats")
app.add_typer(subsidy_app, name="subsidy")
app.add_typer(orca_app, name="orca")
app.add_typer(onboarding_app, name="onboarding")
app.add_typer(idempotency_app, name="idempotency")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"pmh {pmh.__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="バージョンを表示して終了"),
    ] = False,
) -> None:
    """pmh — 医療費助成オンライン資格確認ハブ"""


@db_app.command("upgrade")
def db_upgrade() -> None:
    """データベースを最新のスキーマに更新します。"""
    from pmh.migrate import upgrade_or_exit

    upgrade_or_exit()
    typer.echo("データベースを最新の状態にしました。")


@db_app.command("create-app-role")
def db_create_app_role(
    role: Annotated[str, typer.Option("--role", help="作成するロール名（ハブはこのロールで接続します）")],
    password: Annotated[str | None, typer.Option("--password", help="ログインパスワード（省略可）")] = None,
    print_sql: Annotated[bool, typer.Option("--print-sql", help="実行せずに SQL を表示")] = False,
) -> None:
    """監査ログを書き換えられないアプリケーション用ロールを PostgreSQL に作成します（所有者のURLで実行）。

    監査テーブルには SELECT・INSERT（鎖の末尾 audit_head には UPDATE も）だけを、その他のテーブルには
    通常の読み書きを許可します。所有権がないため、トリガーの削除・無効化はできません。
    何度実行しても同じ結果になります（アップグレードの後にも実行してください）。
    """
    from sqlalchemy import text

    from pmh.clikit import fail_with
    from pmh.db import make_engine
    from pmh.dbroles import app_role_sql, create_app_role
    from pmh.errors import PmhError
    from pmh.settings import get_settings

    engine = make_engine(get_settings().effective_migration_database_url)
    try:
        with engine.begin() as connection:
            if print_sql:
                database = str(connection.execute(text("SELECT current_database()")).scalar_one())
                shown = "********" if password is not None else None
                for statement in app_role_sql(role, database, shown):
                    typer.echo(statement + ";")
                return
            create_app_role(connection, role, password)
    except PmhError as error:
        fail_with(error)
    finally:
        engine.dispose()
    typer.echo(f"ロール {role} を作成しました。PMH_DATABASE_URL をこのロールの接続先にしてハブを起動してください。")


@app.command("serve")
def serve(
    demo: Annotated[bool, typer.Option("--demo", help="初回起動時にデモデータを作成")] = False,
    host: Annotated[str, typer.Option("--host", help="待ち受けアドレス")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="待ち受けポート")] = 8000,
) -> None:
    """ハブを起動します（データベースは起動時に最新化します）。"""
    import uvicorn

    from pmh.app import create_app
    from pmh.demo.cli import print_credentials, seed_and_report
    from pmh.logs import configure_logging
    from pmh.migrate import upgrade_or_exit
    from pmh.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    upgrade_or_exit()
    if not settings.secret_key and not settings.effective_database_url.startswith("sqlite"):
        # Each node would generate a secret of its own in its data directory: My Number digests,
        # kiosk form tokens and the derived audit key would then differ from node to node.
        log_warning = (
            "PMH_SECRET_KEY が設定されていません。複数のノードで運用する場合は全ノードに同じ値を設定してください"
        )
        typer.echo(f"警告: {log_warning}（docs/deployment.md）。", err=True)
    if settings.audit_checkpoint_minutes:
        from pmh.audit.checkpoints import start_periodic_checkpoints

        start_periodic_checkpoints(
            settings.audit_checkpoint_minutes * 60,
            settings.effective_audit_checkpoint_dir,
            settings.effective_audit_signing_key_file,
        )
    if demo:
        credentials = seed_and_report()
        if credentials is not None:
            print_credentials(credentials)
    typer.echo(f"pmh を http://{host}:{port}/ で起動します（API仕様: http://{host}:{port}/docs）")
    # uvicorn's access log would write every query string (patient-name searches): pmh's own request
    # log (app.RequestLog) records method, path, status and time only.
    uvicorn.run(create_app(), host=host, port=port, log_config=None, proxy_headers=False, access_log=False)


def main() -> None:
    """Entry point of the ``pmh`` console script.

    A refusal to run at all (an embedded SQLite with a data-loss defect) is one line on stderr and
    exit status 1, not a traceback.
    """
    from pmh.db import UnsafeDatabase

    try:
        app()
    except UnsafeDatabase as exc:
        typer.echo(str(exc), err=True)
        raise SystemExit(1) from None
