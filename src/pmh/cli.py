"""The ``pmh`` command: a Typer root that adds each area's command group explicitly."""

from __future__ import annotations

from typing import Annotated

import typer

from pmh.audit.cli import app as audit_app
from pmh.auth.cli import institutions_app, keys_app, staff_app
from pmh.cards.cli import cards_app, insurance_app
from pmh.codes.cli import app as codes_app
from pmh.demo.cli import app as demo_app
from pmh.onboarding.cli import onboarding_app
from pmh.operator.cli import contracts_app, fees_app, stats_app, subsidy_app
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
app.add_typer(onboarding_app, name="onboarding")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """データベースを最新のスキーマに更新します。"""
    from pmh.migrate import upgrade

    upgrade()
    typer.echo("データベースを最新の状態にしました。")


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
    from pmh.migrate import upgrade
    from pmh.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    upgrade()
    if demo:
        credentials = seed_and_report()
        if credentials is not None:
            print_credentials(credentials)
    typer.echo(f"pmh を http://{host}:{port}/ で起動します（API仕様: http://{host}:{port}/docs）")
    uvicorn.run(create_app(), host=host, port=port, log_config=None, proxy_headers=False)


def main() -> None:
    """Entry point of the ``pmh`` console script."""
    app()
