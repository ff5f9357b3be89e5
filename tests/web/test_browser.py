"""Pages in a real headless Chromium (Debian's), driven by Playwright: sign-in with TOTP and keys."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from pmh.auth.passwords import totp_code
from tests.browser import ARTEFACTS
from tests.live import LiveHub, serve_demo

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    with serve_demo(tmp_path_factory.mktemp("browser") / "var") as live:
        yield live


def _account(hub: LiveHub, login: str) -> dict[str, str]:
    return next(a for a in hub.credentials()["staff"] if a["login"] == login)


def test_staff_signs_in_with_totp_and_issues_a_key(hub: LiveHub, browser: object) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    account = _account(hub, "demo-132012")
    page = browser.new_page(locale="ja-JP")
    page.goto(f"{hub.base_url}/keys")
    expect(page).to_have_url(f"{hub.base_url}/login?next=/keys")
    page.get_by_label("ログインID").fill(account["login"])
    page.get_by_label("パスワード").fill(account["password"])
    page.get_by_label("確認コード（6桁）").fill(totp_code(account["totp_secret"], dt.datetime.now(dt.UTC)))
    page.screenshot(path=str(ARTEFACTS / "login.png"), full_page=True)
    page.get_by_role("button", name="ログイン").click()

    expect(page.get_by_role("heading", name="APIキー")).to_be_visible()
    expect(page.get_by_test_id("who")).to_contain_text("八王子市")
    page.get_by_label("用途メモ").fill("夜間連携")
    page.get_by_role("button", name="発行する").click()
    issued = page.get_by_test_id("issued-key")
    expect(issued).to_contain_text("pmh_")
    expect(page.get_by_test_id("key-table")).to_contain_text("夜間連携")
    page.screenshot(path=str(ARTEFACTS / "keys-issued.png"), full_page=True)

    page.goto(f"{hub.base_url}/keys")
    expect(page.get_by_test_id("issued-key")).to_have_count(0)
    page.goto(f"{hub.base_url}/")
    expect(page.get_by_test_id("start-heading")).to_have_text("自治体メニュー")
    page.screenshot(path=str(ARTEFACTS / "start-municipality.png"), full_page=True)
    page.get_by_role("button", name="ログアウト").click()
    expect(page.get_by_role("link", name="職員ログイン")).to_be_visible()
    page.close()


def test_wrong_code_is_refused_with_a_japanese_message(hub: LiveHub, browser: object) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    account = _account(hub, "demo-clinic")
    page = browser.new_page(locale="ja-JP")
    page.goto(f"{hub.base_url}/login")
    page.get_by_label("ログインID").fill(account["login"])
    page.get_by_label("パスワード").fill(account["password"])
    page.get_by_label("確認コード（6桁）").fill("000000")
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("正しくありません")
    page.screenshot(path=str(ARTEFACTS / "login-refused.png"), full_page=True)
    page.close()


def test_api_documentation_works_on_a_closed_network(hub: LiveHub, browser: object) -> None:
    """LGWAN and medical IP-VPN reach no CDN: /docs must render with every request refused but the hub's."""
    from playwright.sync_api import Browser, Route, expect

    assert isinstance(browser, Browser)
    page = browser.new_page(locale="ja-JP")
    outside: list[str] = []

    def closed_network(route: Route) -> None:
        if route.request.url.startswith(hub.base_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", closed_network)
    page.goto(f"{hub.base_url}/docs")
    expect(page.locator(".opblock").first).to_be_visible(timeout=30_000)
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("医療費助成オンライン資格確認ハブ")
    page.screenshot(path=str(ARTEFACTS / "api-docs-offline.png"))
    assert outside == []
    page.close()
