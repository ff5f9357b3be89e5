"""Rate limits on guessing: staff sign-in, card serials and PINs, API keys (429 with ``Retry-After``).

Each limit counts **failures** of one kind for one key (a login ID, a client address, a card
serial, a reader) in fixed windows of ``PMH_LIMIT_WINDOW_SECONDS``. The counts live in the
database (``rate_limit_windows``, one row per scope, key and window, raised with an atomic
upsert), so every server process counts against the same number and the embedded default needs
nothing else. Keys are stored only as keyed digests (a client address or a login is never
written in plain text).

The count is written in the caller's transaction: each refusal that counts is raised with
``keeps_work`` (or returned, as a sign-in refusal is) so that it commits with the refusal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pmh.auth.models import RateLimitWindow
from pmh.db import table_of, utcnow
from pmh.errors import RateLimited
from pmh.settings import Settings, get_settings

Scope = Literal["sign_in_login", "sign_in_client", "card_serial", "card_reader", "api_key_client"]

_SETTING: dict[Scope, str] = {
    "sign_in_login": "limit_sign_in_per_login",
    "sign_in_client": "limit_sign_in_per_client",
    "card_serial": "limit_card_per_serial",
    "card_reader": "limit_card_per_reader",
    "api_key_client": "limit_api_key_per_client",
}

_MESSAGES: dict[Scope, str] = {
    "sign_in_login": "このログインIDへのログインの失敗が続いたため、しばらくお待ちください。",
    "sign_in_client": "この端末からのログインの失敗が続いたため、しばらくお待ちください。",
    "card_serial": "このカードでの本人確認の失敗が続いたため、しばらくお待ちください。",
    "card_reader": "このカードリーダーでの本人確認の失敗が続いたため、しばらくお待ちください。",
    "api_key_client": "無効なAPIキーでの呼び出しが続いたため、しばらくお待ちください。",
}


@dataclass(frozen=True, slots=True)
class Target:
    """One thing a limit counts for: a scope and its key (a login, an address, a serial, a reader)."""

    scope: Scope
    key: str


def limit_of(scope: Scope, settings: Settings | None = None) -> int:
    """Return how many failures of this scope one key may have in one window."""
    return int(getattr(settings or get_settings(), _SETTING[scope]))


def _digest(target: Target) -> str:
    secret = get_settings().effective_secret_key
    return hmac.new(secret, f"{target.scope}\x00{target.key}".encode(), hashlib.sha256).hexdigest()


def _window(now: dt.datetime, length: int) -> tuple[int, int]:
    """Return the current window's start (epoch seconds) and the seconds left in it."""
    seconds = int(now.timestamp())
    start = seconds - seconds % length
    return start, max(1, start + length - seconds)


def refuse_if_limited(session: Session, targets: list[Target], now: dt.datetime | None = None) -> None:
    """Raise :class:`RateLimited` when any target has used up its failures in the current window."""
    settings = get_settings()
    start, left = _window(now or utcnow(), settings.limit_window_seconds)
    for target in targets:
        hits = session.scalar(
            select(RateLimitWindow.hits).where(
                RateLimitWindow.scope == target.scope,
                RateLimitWindow.key_digest == _digest(target),
                RateLimitWindow.window_start == start,
            )
        )
        if hits is not None and hits >= limit_of(target.scope, settings):
            raise RateLimited(_MESSAGES[target.scope], extensions={"retry_after": left})


def note_failures(session: Session, targets: list[Target], now: dt.datetime | None = None) -> RateLimited | None:
    """Count one failure for each target; return the refusal to give when one is now over its limit.

    The count is one atomic ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` per target, so
    concurrent failures in several processes never lose a count.
    """
    settings = get_settings()
    start, left = _window(now or utcnow(), settings.limit_window_seconds)
    table = table_of(RateLimitWindow)
    dialect = session.get_bind().dialect.name
    over: RateLimited | None = None
    for target in targets:
        digest = _digest(target)
        values = {"scope": target.scope, "key_digest": digest, "window_start": start, "hits": 1}
        if dialect == "postgresql":
            pg_insert = postgresql.insert(table).values(**values)
            stmt = pg_insert.on_conflict_do_update(
                index_elements=["scope", "key_digest", "window_start"], set_={"hits": table.c.hits + 1}
            ).returning(table.c.hits)
        else:
            lite_insert = sqlite.insert(table).values(**values)
            stmt = lite_insert.on_conflict_do_update(
                index_elements=["scope", "key_digest", "window_start"], set_={"hits": table.c.hits + 1}
            ).returning(table.c.hits)
        hits = session.execute(stmt).scalar_one()
        if hits == 1:  # first failure of a new window: forget this key's earlier windows
            session.execute(
                delete(table).where(
                    table.c.scope == target.scope, table.c.key_digest == digest, table.c.window_start < start
                )
            )
            if secrets.randbelow(64) == 0:  # now and then, every key's stale windows too
                session.execute(delete(table).where(table.c.window_start < start - settings.limit_window_seconds))
        if hits > limit_of(target.scope, settings) and over is None:
            over = RateLimited(_MESSAGES[target.scope], extensions={"retry_after": left})
    return over
