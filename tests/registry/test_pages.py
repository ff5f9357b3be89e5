"""Municipal staff pages in headless Chromium: upload a file, read the result, work the review queue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import factories as f
from tests.browser import ARTEFACTS, sign_in
from tests.live import LiveHub, serve_demo
from tests.registry.test_import import HEADER, line

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    with serve_demo(tmp_path_factory.mktemp("registry-pages") / "var") as live:
        yield live


def _csv(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_bytes(("\n".join((HEADER, *lines)) + "\n").encode("cp932"))
    return path


def test_upload_with_a_bad_row_shows_every_problem_and_applies_nothing(
    hub: LiveHub, browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = sign_in(browser, hub, "demo-132012")
    page.get_by_role("link", name="受給者証データの登録").click()
    bad = _csv(
        tmp_path,
        "bad.csv",
        line(recipient=990001, person=990001),
        line(recipient=990002, person=990002, birth="令和8年2月30日"),
    )
    page.get_by_label("ファイル").set_input_files(str(bad))
    page.get_by_role("button", name="登録する").click()
    expect(page.get_by_test_id("upload-status")).to_contain_text("どの行も反映していません")
    expect(page.get_by_test_id("accepted")).to_have_text("0")
    expect(page.get_by_test_id("error-table")).to_contain_text("生年月日")
    expect(page.get_by_test_id("error-line").first).to_have_text("3")  # data row 2 is line 3 in Excel
    page.screenshot(path=str(ARTEFACTS / "upload-rejected.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_test_id("error-report").click()
    report = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert report.splitlines()[0] == "行,ファイルの行,列,コード,内容,受信した値"
    assert report.splitlines()[1].startswith("2,3,生年月日,")
    assert "令和8年2月30日" in report

    page.goto(f"{hub.base_url}/registry/upload")
    page.get_by_label("ファイル").set_input_files(str(bad))
    page.get_by_label("正しい行だけを反映する").check()
    page.get_by_role("button", name="登録する").click()
    expect(page.get_by_test_id("upload-status")).to_contain_text("正しい行だけを反映しました")
    expect(page.get_by_test_id("upload-status")).to_have_class("warning")  # not the green of a full success
    expect(page.get_by_test_id("accepted")).to_have_text("1")
    expect(page.get_by_test_id("rejected")).to_have_text("1")
    page.screenshot(path=str(ARTEFACTS / "upload-partial.png"), full_page=True)

    # Every row wrong with 正しい行だけを反映する: nothing applied is a rejection, in the colour of one.
    all_wrong = _csv(tmp_path, "all-wrong.csv", line(recipient=990003, person=990003, birth="令和8年2月30日"))
    page.goto(f"{hub.base_url}/registry/upload")
    page.get_by_label("ファイル").set_input_files(str(all_wrong))
    page.get_by_label("正しい行だけを反映する").check()
    page.get_by_role("button", name="登録する").click()
    expect(page.get_by_test_id("upload-status")).to_contain_text("すべての行に誤りがあるため、どの行も反映していません")
    expect(page.get_by_test_id("upload-status")).to_have_class("error")
    page.screenshot(path=str(ARTEFACTS / "upload-partial-all-wrong.png"), full_page=True)

    page.goto(
        f"{hub.base_url}/registry/certificates?payer_number={f.KODOMO_PAYER}&recipient_number={f.recipient(990001)}"
        "&as_of=令和8年5月1日"
    )
    expect(page.get_by_test_id("in-force")).to_contain_text("高橋 一郎")
    page.close()


def _count(page: Any, status: str) -> int:
    return int(page.get_by_test_id(f"tab-{status}").locator(".count").inner_text().replace(",", ""))


def test_review_queue_confirms_each_decision_counts_filters_and_decides_in_bulk(hub: LiveHub, browser: Any) -> None:
    from playwright.sync_api import expect

    page = sign_in(browser, hub, "demo-130001")  # another account: a TOTP code is accepted once only
    page.goto(f"{hub.base_url}/registry/link-reviews")
    expect(page.locator(".breadcrumb").get_by_role("link", name="メニュー")).to_have_attribute("href", "/")
    table = page.get_by_test_id("review-table")
    rows_before = table.locator("tbody tr").count()
    assert rows_before >= 1, "the demo holds some certificates for review"
    opened, linked = _count(page, "open"), _count(page, "linked")
    assert opened == rows_before
    page.screenshot(path=str(ARTEFACTS / "link-reviews.png"), full_page=True)

    # Each decision asks first; saying no changes nothing.
    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    table.locator("tbody tr").first.get_by_role("button", name="紐づける").click()
    expect(page.get_by_test_id("review-table").get_by_role("status")).to_have_count(0)
    assert questions and "紐づけます。よろしいですか" in questions[0]
    page.once("dialog", lambda dialog: dialog.accept())
    table.locator("tbody tr").first.get_by_role("button", name="紐づける").click()
    expect(table.get_by_role("status")).to_contain_text("紐づけました")
    page.reload()
    assert _count(page, "open") == opened - 1 and _count(page, "linked") == linked + 1
    assert page.get_by_test_id("review-table").locator("tbody tr").count() == max(rows_before - 1, 1)

    # Filter by a reason, select everything shown, and decide it in one go (after confirming).
    reviews = page.get_by_test_id("review-table").locator("tbody tr input[name=ids]")
    if reviews.count() == 0:
        page.close()
        pytest.fail("the demo should hold at least two certificates for review")
    filter_form = page.get_by_test_id("review-filter")
    reason = filter_form.get_by_label("理由")
    codes = [o.get_attribute("value") for o in reason.locator("option").all()][1:]
    chosen, shown = "", 0
    for code in codes:  # the first reason that some open review has
        reason.select_option(code or "")
        filter_form.get_by_role("button", name="絞り込む").click()
        shown = page.get_by_test_id("review-table").locator("tbody tr input[name=ids]").count()
        if shown:
            chosen = code or ""
            break
        filter_form = page.get_by_test_id("review-filter")
        reason = filter_form.get_by_label("理由")
    assert chosen, "some open review has one of the listed reasons"
    assert f"reason={chosen}" in page.url
    remaining = _count(page, "open")
    page.get_by_test_id("select-all").check()
    expect(page.get_by_test_id("review-table").locator("tbody tr input[name=ids]:checked")).to_have_count(shown)
    page.screenshot(path=str(ARTEFACTS / "link-reviews-bulk.png"), full_page=True)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="選んだものを紐づけない").click()
    expect(page.get_by_test_id("bulk-done")).to_contain_text(f"{shown}件を「紐づけない」にしました")
    assert _count(page, "open") == remaining - shown
    page.close()


def test_a_name_with_an_ivs_is_shown_as_sent_in_a_font_that_has_the_glyphs(
    hub: LiveHub, browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    name = "辻\U000e0100 𩸽子"
    path = tmp_path / "ivs.csv"
    path.write_bytes(("\n".join((HEADER, line(recipient=990101, person=990101, name=name))) + "\n").encode("utf-8"))
    page = sign_in(browser, hub, "demo-132012")
    page.goto(f"{hub.base_url}/registry/upload")
    page.get_by_label("ファイル").set_input_files(str(path))
    page.get_by_role("button", name="登録する").click()
    expect(page.get_by_test_id("accepted")).to_have_text("1")
    page.goto(
        f"{hub.base_url}/registry/certificates?payer_number={f.KODOMO_PAYER}&recipient_number={f.recipient(990101)}"
        "&as_of=令和8年5月1日"
    )
    shown = page.get_by_test_id("name-of-record")
    expect(shown).to_have_text(name)  # the selector survives into the page
    font = shown.evaluate("element => getComputedStyle(element).fontFamily")
    assert font.replace('"', "").startswith("IPAmjMincho, IPAmj明朝,"), font
    expect(page.get_by_test_id("in-force")).to_contain_text("JIS X 0208: 辻 〓子")
    expect(page.get_by_test_id("name-unmapped")).to_contain_text("U+29E3D")
    page.screenshot(path=str(ARTEFACTS / "certificate-ivs-name.png"), full_page=True)
    page.close()
