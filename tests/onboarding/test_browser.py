"""The onboarding pages in headless Chromium against a live demo hub (FY2026 deadlines seeded by the demo)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import ARTEFACTS, sign_in
from tests.live import LiveHub, serve_demo

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    with serve_demo(tmp_path_factory.mktemp("onboarding-pages") / "var") as live:
        yield live


def test_municipality_reports_its_steps_and_derived_steps_have_no_form(hub: LiveHub, browser: Any) -> None:
    from playwright.sync_api import expect

    page = sign_in(browser, hub, "demo-132012")
    page.get_by_role("link", name="準備状況の報告").click()
    page.goto(f"{hub.base_url}/onboarding/mine?fiscal_year=2026")
    kodomo = page.get_by_test_id("program-kodomo")
    expect(kodomo).to_contain_text("こども医療費助成")
    expect(page.get_by_test_id("status-kodomo-test_upload")).to_have_text("完了")  # the demo's applied upload
    expect(page.get_by_test_id("form-kodomo-contract")).to_have_count(0)
    form = page.get_by_test_id("form-kodomo-intent")
    form.get_by_label("状態").select_option("done")
    form.get_by_role("button", name="保存").click()
    expect(page.get_by_test_id("report-error")).to_contain_text("完了日を入力してください")
    form = page.get_by_test_id("form-kodomo-intent")
    form.get_by_label("状態").select_option("done")
    form.get_by_label("日付").fill("2026-10-15")
    form.get_by_role("button", name="保存").click()
    expect(page.get_by_test_id("report-saved")).to_be_visible()
    expect(page.get_by_test_id("status-kodomo-intent")).to_have_text("完了")
    pia = page.get_by_test_id("form-kodomo-pia")
    pia.get_by_label("状態").select_option("done")
    pia.get_by_label("日付").fill("2026-06-01")
    pia.get_by_label("ひな形").select_option("digital_agency")
    pia.get_by_label("評価").select_option("basic")
    pia.get_by_role("button", name="保存").click()
    expect(page.get_by_test_id("program-kodomo").get_by_test_id("pia-revise")).to_contain_text("2027-04-01")
    page.screenshot(path=str(ARTEFACTS / "onboarding-municipality.png"), full_page=True)
    page.close()


def test_operator_dashboard_by_prefecture_with_the_overdue_list_and_csv(hub: LiveHub, browser: Any) -> None:
    from playwright.sync_api import expect

    page = sign_in(browser, hub, "demo-operator")
    page.get_by_role("link", name="準備状況").first.click()
    page.goto(f"{hub.base_url}/onboarding?fiscal_year=2026")
    expect(page.get_by_test_id("deadlines").locator("tbody tr")).to_have_count(5)
    expect(page.get_by_test_id("by-prefecture")).to_contain_text("13 東京都")
    counts = page.get_by_test_id("step-counts")
    expect(counts.locator('tr[data-step="ordinance"] td[data-status="not_required"]')).to_have_text("2")  # 難病, 小慢
    # the intention survey was due on 2026-10-31: every program without a reported intention is late
    expect(page.get_by_test_id("due-list")).to_contain_text("期限切れ")
    expect(page.get_by_test_id("due-list")).to_contain_text("参加意向（意向等調査）")
    page.get_by_test_id("filter").get_by_label("都道府県").select_option("27")
    page.get_by_test_id("filter").get_by_role("button", name="表示").click()
    expect(page.get_by_test_id("by-prefecture")).to_contain_text("準備状況のある自治体はありません")
    page.goto(f"{hub.base_url}/onboarding?fiscal_year=2026")
    page.screenshot(path=str(ARTEFACTS / "onboarding-dashboard.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    assert Path(download.value.path()).read_bytes().startswith("\ufeff年度".encode())
    page.close()


def test_prefecture_sees_its_municipalities_without_a_prefecture_choice(hub: LiveHub, browser: Any) -> None:
    from playwright.sync_api import expect

    page = sign_in(browser, hub, "demo-130001")
    page.goto(f"{hub.base_url}/onboarding?fiscal_year=2026")
    expect(page.get_by_test_id("by-prefecture")).to_contain_text("13 東京都")
    expect(page.get_by_test_id("filter").get_by_label("都道府県")).to_have_count(0)
    expect(page.get_by_test_id("due-list")).to_contain_text("八王子市")
    page.close()
