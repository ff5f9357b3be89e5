"""Applying Alembic migrations from code (the CLI, ``serve`` and the tests use this)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """Return an Alembic config pointing at pmh's revisions and, optionally, a live connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(slug)s")
    if url:
        config.set_main_option("sqlalchemy.url", url)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection | None = None, revision: str = "head") -> None:
    """Upgrade the database to ``revision``."""
    command.upgrade(alembic_config(connection), revision)


def downgrade(connection: Connection | None = None, revision: str = "base") -> None:
    """Downgrade the database to ``revision``."""
    command.downgrade(alembic_config(connection), revision)


def unreachable_message(url: str, exc: BaseException) -> str:
    """Return one Japanese line saying the database cannot be reached: the URL (password hidden) and why."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        shown = "（URLの形式が正しくありません）"
    cause = getattr(exc, "orig", None) or exc
    reason = " ".join(str(cause).split())[:300]
    return (
        f"データベースに接続できません: {shown}（{reason}）。"
        "PMH_DATABASE_URL のホスト・ポート・データベース名を確認してください。"
    )


def upgrade_or_exit() -> None:
    """Upgrade the configured database; an unreachable or misnamed one ends the command with one clear line."""
    from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError

    from pmh.clikit import fail
    from pmh.settings import get_settings

    url = get_settings().effective_migration_database_url  # migrations run as the owner role
    try:
        upgrade()
    except (OperationalError, InterfaceError, ArgumentError) as exc:
        fail(unreachable_message(url, exc))
