"""The main pages work in headless Chromium under the Content-Security-Policy, with no violation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import ARTEFACTS, register_kiosk, sign_in
from tests.live import LiveHub, serve_demo
from tests.registry.test_import import HEADER, line

pytestmark = pytest.mark.browser

_WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    with serve_demo(tmp_path_factory.mktemp("csp") / "var") as live:
        yield live


class Watched:
    """A page whose CSP violations (events and console reports) are collected."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        page.add_init_script(_WATCH)
        page.on(
            "console",
            lambda m: self.console.append(m.text) if "Content Security Policy" in m.text else None,
        )

    def violations(self) -> list[str]:
        return [*self.page.evaluate("window.__cspViolations || []"), *self.console]


def _watched(browser: Any, hub: LiveHub, login: str | None) -> Watched:
    if login is None:
        return Watched(browser.new_page(locale="ja-JP"))
    page = sign_in(browser, hub, login)
    watched = Watched(page)
    page.reload()  # the init script applies from the next document on
    return watched


def test_policy_is_enforced_and_a_violation_would_be_seen(hub: LiveHub, browser: Any) -> None:
    watched = _watched(browser, hub, None)
    watched.page.goto(f"{hub.base_url}/login")
    ran = watched.page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        " document.head.appendChild(s); return window.__ran === 1; }"
    )
    assert ran is False
    watched.page.wait_for_function("window.__cspViolations.length > 0")
    assert any("script-src" in v for v in watched.violations())
    watched.page.close()


def test_sign_in_and_start_pages_have_no_violation(hub: LiveHub, browser: Any) -> None:
    watched = _watched(browser, hub, None)
    for path in ("/", "/login"):
        watched.page.goto(f"{hub.base_url}{path}")
    assert watched.violations() == []
    watched.page.close()


def test_kiosk_and_reception_pages_work_without_violation(hub: LiveHub, browser: Any) -> None:
    from playwright.sync_api import expect

    watched = _watched(browser, hub, "demo-clinic")
    page = watched.page
    card = next(c for c in hub.credentials()["cards"] if c["name"] == "デモ 花子")
    register_kiosk(page, hub)
    page.goto(f"{hub.base_url}/kiosk")
    page.get_by_label("カード（読み取り結果）").fill(card["card_serial"])
    page.get_by_label("暗証番号", exact=True).check()
    page.get_by_label("暗証番号（数字4桁・暗証番号を選んだとき）").fill(card["pin"])
    page.get_by_role("button", name="本人確認する").click()
    page.get_by_test_id("kiosk-select").locator("summary").click()
    submit = page.get_by_role("button", name="選んだ受給者証を提供する")
    expect(submit).to_be_disabled()
    page.get_by_label("ひとり親家庭医療費助成（地単）（八王子市）").check()
    expect(submit).to_be_enabled()  # pmh.js, not an inline handler, enables it
    page.get_by_label("ひとり親家庭医療費助成（地単）（八王子市）").uncheck()
    expect(submit).to_be_disabled()
    page.get_by_label("ひとり親家庭医療費助成（地単）（八王子市）").check()
    submit.click()
    expect(page.get_by_test_id("kiosk-result")).to_contain_text("1 件の情報を提供しました")
    for path in ("/reception", "/reception/patients", "/audit", "/keys"):
        page.goto(f"{hub.base_url}{path}")
        expect(page.locator("main h1").first).to_be_visible()
    page.screenshot(path=str(ARTEFACTS / "csp-reception.png"), full_page=True)
    assert watched.violations() == []
    page.close()


def test_registry_upload_page_works_without_violation(hub: LiveHub, browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    watched = _watched(browser, hub, "demo-132012")
    page = watched.page
    bad = tmp_path / "bad.csv"
    rows = (HEADER, line(recipient=990001, person=990001), line(recipient=990002, birth="令和8年2月30日"))
    bad.write_bytes(("\n".join(rows) + "\n").encode("cp932"))
    page.goto(f"{hub.base_url}/registry/upload")
    page.get_by_label("ファイル").set_input_files(str(bad))
    page.get_by_role("button", name="登録する").click()
    expect(page.get_by_test_id("error-table")).to_contain_text("生年月日")
    assert watched.violations() == []
    page.close()


def test_operator_pages_work_without_violation(hub: LiveHub, browser: Any) -> None:
    from playwright.sync_api import expect

    watched = _watched(browser, hub, "demo-operator")
    page = watched.page
    for path in ("/operator/fees", "/operator/stats"):
        page.goto(f"{hub.base_url}{path}")
        expect(page.locator("main h1").first).to_be_visible()
    page.goto(f"{hub.base_url}/operator/fees?fiscal_year=2027")
    page.get_by_test_id("fee-table").get_by_role("row", name="八王子市").get_by_role("link", name="請求書").click()
    expect(page.get_by_test_id("invoice-price")).to_be_visible()
    page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
    page.get_by_role("button", name="印刷する").click()
    assert page.evaluate("window.__printed") == 1  # pmh.js, not an inline onclick, prints
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()  # the invoice's print rule, now in pmh.css
    page.emulate_media(media="screen")
    expect(page.locator(".site-header")).to_be_visible()
    assert watched.violations() == []
    page.close()
