"""Operator, institution and public pages in headless Chromium against a live demo hub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pmh.operator.clock import today
from pmh.operator.subsidy import rules
from tests.browser import ARTEFACTS, sign_in
from tests.live import LiveHub, serve_demo

pytestmark = pytest.mark.browser
FY2025_LIST = Path(__file__).parent / "data" / "participation_fy2025.csv"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    with serve_demo(tmp_path_factory.mktemp("operator-pages") / "var") as live:
        yield live


def test_operator_prices_fees_prints_an_invoice_builds_contracts_and_maps_a_list(hub: LiveHub, browser: Any) -> None:
    from playwright.sync_api import expect

    page = sign_in(browser, hub, "demo-operator")
    page.get_by_role("link", name="運営負担金・新規導入費用").click()
    page.goto(f"{hub.base_url}/operator/fees?fiscal_year=2028")
    expect(page.get_by_test_id("fees-error")).to_contain_text("単価は設定されていません")
    form = page.get_by_test_id("price-form")
    form.get_by_label("区分").select_option("estimate")
    form.get_by_label("月額単価（円）").fill("7")
    form.get_by_label("新規導入費用の総額（円）").fill("3000000")
    form.get_by_role("button", name="単価を設定").click()
    expect(page.get_by_test_id("price-used")).to_contain_text("概算単価 月額7円")
    expect(page.get_by_test_id("fee-table")).to_contain_text("八王子市")
    page.screenshot(path=str(ARTEFACTS / "operator-fees.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_test_id("invoice-csv").click()
    assert Path(download.value.path()).read_text(encoding="utf-8-sig").startswith("年度,単価区分")
    page.get_by_test_id("fee-table").get_by_role("row", name="八王子市").get_by_role("link", name="請求書").click()
    expect(page.get_by_test_id("invoice-price")).to_contain_text("概算単価")
    page.screenshot(path=str(ARTEFACTS / "operator-invoice.png"), full_page=True)

    page.goto(f"{hub.base_url}/operator/contracts?fiscal_year=2027")
    page.get_by_role("button", name="この年度の契約を作成").click()
    expect(page.get_by_test_id("contract-table")).to_contain_text("作成済み")
    page.get_by_role("link", name="13 東京都").click()
    expect(page.get_by_test_id("annex")).to_contain_text("特定医療費（指定難病）")
    expect(page.get_by_test_id("missing")).to_contain_text("八王子市")
    page.screenshot(path=str(ARTEFACTS / "operator-contract-tokyo.png"), full_page=True)

    page.goto(f"{hub.base_url}/operator/stats")
    expect(page.locator(".breadcrumb").get_by_role("link", name="メニュー")).to_have_attribute("href", "/")
    with page.expect_download() as map_download:
        page.get_by_test_id("map-png").click()
    assert map_download.value.suggested_filename == "participation-map.png"
    assert Path(map_download.value.path()).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    page.get_by_label("参加自治体一覧（CSV）").set_input_files(str(FY2025_LIST))
    page.get_by_role("button", name="一覧から集計").click()
    expect(page.get_by_test_id("matched")).to_have_text("619")
    expect(page.get_by_test_id("unmatched")).to_contain_text("長瀞町（113638）")
    expect(page.get_by_test_id("unmatched")).to_contain_text("姶良市（462250）")
    expect(page.get_by_test_id("map").locator("path.prefecture")).to_have_count(47)
    expect(page.get_by_test_id("map").locator("path.hatch")).to_have_count(6)
    page.get_by_test_id("map").screenshot(path=str(ARTEFACTS / "operator-map-fy2025.png"))
    page.screenshot(path=str(ARTEFACTS / "operator-stats.png"), full_page=True)
    page.close()


def _assert_fits(page: Any, width: int) -> None:
    """Nothing is wider than the viewport, and the form stays inside its card."""
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= width, f"the page is {page_width}px wide in a {width}px viewport"
    form = page.get_by_test_id("apply-form")
    inner, outer = form.evaluate("f => [f.scrollWidth, f.clientWidth]")
    assert inner <= outer, f"the form's content ({inner}px) overflows its card ({outer}px)"


def test_clinic_subsidy_form_quotes_before_applying_and_fits_a_phone(hub: LiveHub, browser: Any) -> None:
    from playwright.sync_api import expect

    page = sign_in(browser, hub, "demo-clinic")
    page.get_by_role("link", name="補助金の申請").click()
    expect(page.locator(".breadcrumb").get_by_role("link", name="メニュー")).to_have_attribute("href", "/")
    period = rules.periods()[2026]
    is_open = period.opens <= today() <= period.closes
    expect(page.get_by_test_id("period")).to_contain_text("令和8年5月15日〜令和8年9月30日")
    expect(page.get_by_test_id("period")).to_contain_text("受付中" if is_open else "申請期間外")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.reload()
        _assert_fits(page, width)
    page.screenshot(path=str(ARTEFACTS / "subsidy-form-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # A mistake is shown beside its field; what was typed stays.
    form = page.get_by_test_id("apply-form")
    form.get_by_label("改修内容").select_option("2")
    form.get_by_label("改修費用（円）").fill("十万")
    form.get_by_label("改修完了日").fill("2026-05-01")
    form.get_by_label("領収書", exact=True).check()
    form.get_by_role("button", name="試算する").click()
    expect(page.get_by_test_id("error-cost")).to_contain_text("整数（円）")
    form = page.get_by_test_id("apply-form")
    expect(form.get_by_label("改修内容")).to_have_value("2")
    expect(form.get_by_label("改修費用（円）")).to_have_value("十万")
    expect(form.get_by_label("改修完了日")).to_have_value("2026-05-01")
    expect(form.get_by_label("領収書", exact=True)).to_be_checked()

    # 試算する shows the amount first; 申請する appears only with a quote, and only in the period.
    form.get_by_label("改修費用（円）").fill("100000")
    form.get_by_role("button", name="試算する").click()
    expect(page.get_by_test_id("quote-amount")).to_have_text("54,000円")
    expect(page.get_by_test_id("application")).to_have_count(0)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        _assert_fits(page, width)
    page.screenshot(path=str(ARTEFACTS / "subsidy-quote-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(ARTEFACTS / "subsidy-form.png"), full_page=True)
    apply = page.get_by_role("button", name="この内容で申請する（1回のみ）")
    if is_open:
        apply.click()
        expect(page.get_by_test_id("amount")).to_have_text("54,000円")
        expect(page.get_by_test_id("missing")).to_contain_text("領収書内訳書")
    else:
        expect(apply).to_have_count(0)
    page.close()


def test_public_directory_lists_municipalities_and_institutions_by_prefecture(hub: LiveHub, browser: Any) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(locale="ja-JP")
    page.goto(hub.base_url)
    page.get_by_role("link", name="参加自治体・対応医療機関の一覧").click()
    page.get_by_test_id("prefecture-select").select_option("13")
    page.get_by_role("button", name="表示").click()
    expect(page.get_by_test_id("municipalities")).to_contain_text("八王子市")
    expect(page.get_by_test_id("institutions")).to_contain_text("デモ内科クリニック")
    page.screenshot(path=str(ARTEFACTS / "directory-tokyo.png"), full_page=True)
    page.close()
