"""Headless Chromium (Debian's) for page tests, driven by Playwright with ``executable_path``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live import LiveHub

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTEFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Launch Debian's Chromium headless; fail (never skip) when it is missing."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium がありません（{CHROMIUM}）。scripts/test が apt でインストールします。", pytrace=False)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


_LAST_STEP: dict[tuple[str, str], int] = {}
"""The TOTP step each account last signed in with, per hub: the hub accepts a step only once."""


def _fresh_totp(hub: LiveHub, login: str, secret: str) -> str:
    """Return a TOTP code this account has not used on this hub yet, waiting for the next step if needed."""
    import datetime as dt
    import time

    from pmh.auth.passwords import totp_code

    last = _LAST_STEP.get((hub.base_url, login))
    while last is not None and int(time.time()) // 30 <= last:
        time.sleep(30 - time.time() % 30 + 0.2)
    _LAST_STEP[(hub.base_url, login)] = int(time.time()) // 30
    return totp_code(secret, dt.datetime.now(dt.UTC))


def sign_in(browser: Any, hub: LiveHub, login: str) -> Any:
    """Open a page signed in as a demo account (password and a TOTP code it has not used yet)."""
    account = next(a for a in hub.credentials()["staff"] if a["login"] == login)
    page = browser.new_page(locale="ja-JP")
    page.goto(f"{hub.base_url}/login")
    page.get_by_label("ログインID").fill(account["login"])
    page.get_by_label("パスワード").fill(account["password"])
    page.get_by_label("確認コード（6桁）").fill(_fresh_totp(hub, login, account["totp_secret"]))
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(f"{hub.base_url}/")
    return page


def register_kiosk(page: Any, hub: Any) -> None:
    """Register the signed-in institution's browser as a kiosk (受付端末) at /kiosk/setup."""
    from playwright.sync_api import expect

    page.goto(f"{hub.base_url}/kiosk/setup")
    page.get_by_test_id("kiosk-register").click()
    expect(page.get_by_label("カード（読み取り結果）")).to_be_visible()
