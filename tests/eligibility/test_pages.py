"""The kiosk consent screens and the reception desk in headless Chromium, against the live demo hub.

One signed-in page serves the whole module: a TOTP code is accepted once only, and a clinic's
kiosk and reception desk are the same staff session in practice.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import ARTEFACTS, register_kiosk, sign_in
from tests.live import LiveHub, serve_demo

# The tests build on each other (the desk lists the kiosk's receptions): pytest runs with
# --dist loadfile (pyproject addopts), so one worker runs this file, in order.
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    with serve_demo(tmp_path_factory.mktemp("reception-pages") / "var") as live:
        yield live


@pytest.fixture(scope="module")
def clinic(hub: LiveHub, browser: Any) -> Iterator[Any]:
    page = sign_in(browser, hub, "demo-clinic")
    register_kiosk(page, hub)
    yield page
    page.close()


def _card(hub: LiveHub, name: str) -> dict[str, Any]:
    return dict(next(c for c in hub.credentials()["cards"] if c["name"] == name))


def _place(page: Any, hub: LiveHub, card: dict[str, Any], pin: str | None = None) -> None:
    page.goto(f"{hub.base_url}/kiosk")
    page.get_by_label("カード（読み取り結果）").fill(card["card_serial"])
    page.get_by_label("暗証番号", exact=True).check()
    page.get_by_label("暗証番号（数字4桁・暗証番号を選んだとき）").fill(pin or card["pin"])
    page.get_by_role("button", name="本人確認する").click()


def _eligibility(hub: LiveHub, reception_id: str) -> dict[str, Any]:
    key = next(
        k["key"] for k in hub.credentials()["keys"] if k["role"] == "institution" and k["name"] == "デモ内科クリニック"
    )
    response = httpx.get(
        f"{hub.base_url}/api/v1/receptions/{reception_id}/eligibility", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_kiosk_consent_all(hub: LiveHub, clinic: Any) -> None:
    from playwright.sync_api import expect

    _place(clinic, hub, _card(hub, "デモ 花子"))
    expect(clinic.get_by_test_id("kiosk-question")).to_have_text(
        "以下の医療費助成受給者証があります。情報を提供しますか。"
    )
    offered = clinic.get_by_test_id("kiosk-certificates")
    expect(offered.locator("li")).to_have_count(3)
    expect(offered).to_contain_text("特定医療費（指定難病）")
    expect(offered).not_to_contain_text("54136015")  # names only on the reader, never numbers
    clinic.screenshot(path=str(ARTEFACTS / "kiosk-consent.png"), full_page=True)
    clinic.get_by_role("button", name="すべて提供する").click()
    expect(clinic.get_by_test_id("kiosk-result")).to_contain_text("3 件の情報を提供しました")
    clinic.screenshot(path=str(ARTEFACTS / "kiosk-done-all.png"), full_page=True)
    result = _eligibility(hub, clinic.get_by_test_id("reception-id").inner_text())
    assert [s["payer_number"] for s in result["subsidies"]] == ["54136015", "81136244", "88138243"]


def test_kiosk_consent_some(hub: LiveHub, clinic: Any) -> None:
    from playwright.sync_api import expect

    _place(clinic, hub, _card(hub, "デモ 花子"))
    clinic.get_by_test_id("kiosk-select").locator("summary").click()
    submit = clinic.get_by_role("button", name="選んだ受給者証を提供する")
    expect(submit).to_be_disabled()
    clinic.get_by_label("ひとり親家庭医療費助成（地単）（八王子市）").check()
    clinic.screenshot(path=str(ARTEFACTS / "kiosk-select.png"), full_page=True)
    submit.click()
    expect(clinic.get_by_test_id("kiosk-result")).to_contain_text("1 件の情報を提供しました")
    result = _eligibility(hub, clinic.get_by_test_id("reception-id").inner_text())
    assert [s["program_code"] for s in result["subsidies"]] == ["hitorioya"]


def test_kiosk_wrong_pin_then_consent_none(hub: LiveHub, clinic: Any) -> None:
    from playwright.sync_api import expect

    card = _card(hub, "デモ 太郎")
    _place(clinic, hub, card, pin="0000")
    expect(clinic.get_by_test_id("kiosk-error")).to_contain_text("あと2回")
    clinic.screenshot(path=str(ARTEFACTS / "kiosk-wrong-pin.png"), full_page=True)
    _place(clinic, hub, card)
    expect(clinic.get_by_test_id("kiosk-certificates").locator("li")).to_have_count(1)
    expect(clinic.get_by_role("button", name="提供する", exact=True)).to_be_visible()
    clinic.get_by_role("button", name="提供しない").click()
    expect(clinic.get_by_test_id("kiosk-result")).to_contain_text("医療費助成の情報は提供していません")
    result = _eligibility(hub, clinic.get_by_test_id("reception-id").inner_text())
    assert result["subsidies"] == [] and result["person"]["name"] == "デモ 太郎"


def test_reception_desk_links_by_candidate_new_number_and_automatically(hub: LiveHub, clinic: Any) -> None:
    from playwright.sync_api import expect

    clinic.goto(f"{hub.base_url}/reception")
    table = clinic.get_by_test_id("reception-table")
    expect(table.locator("tbody tr[data-testid^='reception-']")).to_have_count(3)
    clinic.screenshot(path=str(ARTEFACTS / "reception-desk-before.png"), full_page=True)
    hanako = table.locator("tbody tr").nth(0)
    hanako.get_by_test_id("candidate-00101").click()
    expect(table.locator("tbody tr").nth(0).get_by_test_id("patient-number")).to_have_text("00101")
    # The second reception of the same person followed the link.
    clinic.reload()
    expect(table.locator("tbody tr").nth(1).get_by_test_id("patient-number")).to_have_text("00101")
    taro = table.locator("tbody tr").nth(2)
    taro.get_by_label("患者番号").fill("00999")
    taro.get_by_label("新規登録").check()
    taro.get_by_role("button", name="確認する").click()
    expect(table.locator("tbody tr").nth(2).get_by_test_id("patient-number")).to_have_text("00999")
    clinic.screenshot(path=str(ARTEFACTS / "reception-desk-linked.png"), full_page=True)

    _place(clinic, hub, _card(hub, "デモ 花子"))
    clinic.get_by_role("button", name="提供しない").click()
    clinic.goto(f"{hub.base_url}/reception")
    last = clinic.get_by_test_id("reception-table").locator("tbody tr").nth(3)
    expect(last.get_by_test_id("patient-number")).to_have_text("00101")
    expect(last).to_contain_text("自動で紐づけ")

    clinic.goto(f"{hub.base_url}/reception")
    clinic.get_by_test_id("reception-table").locator("tbody tr").nth(0).get_by_role("link", name="表示").click()
    expect(clinic.get_by_test_id("subsidies")).to_contain_text("第1公費")
    expect(clinic.get_by_test_id("subsidies")).to_contain_text("9000019")
    clinic.screenshot(path=str(ARTEFACTS / "reception-eligibility.png"), full_page=True)
    with clinic.expect_download() as download:
        clinic.get_by_test_id("download-xml").click()
    assert b"9000019" in Path(download.value.path()).read_bytes()


def test_reception_desk_shows_the_patient_warns_on_a_mismatch_and_unlinks(hub: LiveHub, clinic: Any) -> None:
    from playwright.sync_api import expect

    clinic.goto(f"{hub.base_url}/reception")
    hanako = clinic.get_by_test_id("reception-table").locator("tbody tr").nth(0)
    expect(hanako.get_by_test_id("linked-patient")).to_contain_text("デモ 花子")
    expect(hanako.get_by_test_id("linked-patient")).to_contain_text("歳")
    clinic.once("dialog", lambda dialog: dialog.accept())
    hanako.get_by_test_id("unlink").click()
    hanako = clinic.get_by_test_id("reception-table").locator("tbody tr").nth(0)
    expect(hanako.get_by_label("患者番号")).to_be_visible()

    # 00103 is 見本 和子 (女, 1975): another person. The desk shows both sides and will not link in one click.
    hanako.get_by_label("患者番号").fill("00103")
    hanako.get_by_role("button", name="確認する").click()
    preview = clinic.get_by_test_id("link-preview")
    expect(preview).to_contain_text("見本 和子")
    expect(preview).to_contain_text("昭和50年3月3日")
    expect(clinic.get_by_test_id("mismatch-warning")).to_contain_text("氏名・カナ氏名・生年月日が異なります")
    clinic.screenshot(path=str(ARTEFACTS / "reception-link-mismatch.png"), full_page=True)
    clinic.get_by_test_id("link-anyway").click()  # the confirmation box is required: nothing is sent
    expect(clinic.get_by_test_id("link-preview")).to_be_visible()
    clinic.get_by_test_id("cancel-preview").click()
    hanako = clinic.get_by_test_id("reception-table").locator("tbody tr").nth(0)
    expect(hanako.get_by_test_id("patient-number")).to_have_count(0)

    hanako.get_by_label("患者番号").fill("00101")
    hanako.get_by_role("button", name="確認する").click()
    expect(clinic.get_by_test_id("mismatch-warning")).to_have_count(0)
    clinic.get_by_test_id("link-confirmed").click()
    expect(
        clinic.get_by_test_id("reception-table").locator("tbody tr").nth(0).get_by_test_id("patient-number")
    ).to_have_text("00101")


def test_the_desk_shows_new_kiosk_arrivals_without_reload(hub: LiveHub, clinic: Any) -> None:
    from playwright.sync_api import expect

    clinic.goto(f"{hub.base_url}/reception")
    table = clinic.get_by_test_id("reception-table")
    before = table.locator("tbody tr[data-testid^='reception-']").count()
    expect(table.locator("tbody tr").nth(0).get_by_test_id("reception-number")).to_have_text("1")
    expect(table.locator("tbody tr").nth(0).get_by_test_id("insurance-status")).to_have_text("有効")
    reader = next(
        k["key"] for k in hub.credentials()["keys"] if k["role"] == "card_reader" and k["name"] == "デモ内科クリニック"
    )
    headers = {"Authorization": f"Bearer {reader}"}
    card = _card(hub, "デモ 太郎")
    opened = httpx.post(
        f"{hub.base_url}/api/v1/card-sessions",
        json={"card_serial": card["card_serial"], "auth": "pin", "pin": card["pin"]},
        headers=headers,
    )
    assert opened.status_code == 201, opened.text
    answered = httpx.post(
        f"{hub.base_url}/api/v1/card-sessions/{opened.json()['id']}/consent", json={"subsidy": "none"}, headers=headers
    )
    assert answered.status_code == 201, answered.text
    rows = table.locator("tbody tr[data-testid^='reception-']")
    expect(rows).to_have_count(before + 1, timeout=20_000)  # appended by the desk's poll, no reload
    expect(rows.nth(before).get_by_test_id("reception-number")).to_have_text(str(answered.json()["reception_number"]))
    clinic.screenshot(path=str(ARTEFACTS / "reception-desk-live.png"), full_page=True)


WIDEST = """[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391)
  .slice(0, 5).map(e => e.tagName + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right))"""


def test_desk_and_eligibility_fit_a_phone(hub: LiveHub, clinic: Any) -> None:
    from playwright.sync_api import expect

    clinic.set_viewport_size({"width": 390, "height": 844})
    try:
        clinic.goto(f"{hub.base_url}/reception")
        first = clinic.get_by_test_id("reception-table").locator("tbody tr").nth(0)
        expect(first).to_be_visible()
        assert clinic.evaluate("document.documentElement.scrollWidth") <= 390  # nothing runs off the side
        name_cell = first.locator("td[data-label='氏名']").bounding_box()
        assert name_cell is not None and name_cell["width"] > 250  # a whole line, not one character per line
        clinic.screenshot(path=str(ARTEFACTS / "reception-desk-phone.png"), full_page=True)
        first.get_by_role("link", name="表示").click()
        expect(clinic.get_by_test_id("subsidies")).to_be_visible()
        wide = clinic.evaluate(WIDEST)
        assert clinic.evaluate("document.documentElement.scrollWidth") <= 390, wide
        clinic.screenshot(path=str(ARTEFACTS / "reception-eligibility-phone.png"), full_page=True)
    finally:
        clinic.set_viewport_size({"width": 1280, "height": 900})


def test_patient_registry_import_page_reports_rows_and_fields(hub: LiveHub, clinic: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    bad = tmp_path / "patients.csv"
    bad.write_bytes(
        "patient_number,name,name_kana,birth_date,sex\n00201,見本 三郎,みほん,1990-02-30,1\n".encode("cp932")
    )
    clinic.goto(f"{hub.base_url}/reception/patients")
    clinic.get_by_label("ファイル").set_input_files(str(bad))
    clinic.get_by_role("button", name="取り込む").click()
    expect(clinic.get_by_test_id("patients-error")).to_contain_text("生年月日")  # the column by its Japanese name
    assert "birth_date" not in clinic.get_by_test_id("patients-error").inner_text()
    expect(clinic.get_by_test_id("patients-error")).to_contain_text("何も取り込んでいません")
    good = tmp_path / "good.csv"
    good.write_text("patient_number,name,name_kana,birth_date,sex\n00201,見本 三郎,ミホン サブロウ,1990-02-28,1\n")
    clinic.get_by_label("ファイル").set_input_files(str(good))
    clinic.get_by_role("button", name="取り込む").click()
    expect(clinic.get_by_test_id("patients-result")).to_contain_text("追加 1 件")


def test_copay_sheet_page_and_csv(hub: LiveHub, clinic: Any) -> None:
    from playwright.sync_api import expect

    from pmh.eligibility.common import today_in_japan

    key = next(
        k["key"] for k in hub.credentials()["keys"] if k["role"] == "institution" and k["name"] == "デモ内科クリニック"
    )
    clinic.goto(f"{hub.base_url}/reception")
    first = clinic.get_by_test_id("reception-table").locator("tbody tr").nth(0).get_attribute("data-testid") or ""
    reception_id = int(first.removeprefix("reception-"))
    today = today_in_japan().isoformat()
    for paid in (2000, 1500):
        body = {
            "reception_id": reception_id,
            "payer_number": "54136015",
            "recipient_number": "9000019",
            "service_date": today,
            "total_cost": paid * 5,
            "copay_amount": paid,
        }
        response = httpx.post(
            f"{hub.base_url}/api/v1/copay-entries", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 201, response.text
    clinic.goto(f"{hub.base_url}/reception/{reception_id}/eligibility")
    expect(clinic.get_by_test_id("subsidies")).to_contain_text("残り 1,500 円")
    clinic.get_by_test_id("sheet-54136015").click()
    expect(clinic.get_by_test_id("sheet-lines").locator("tbody tr")).to_have_count(2)
    expect(clinic.get_by_test_id("sheet-total")).to_contain_text("3,500 円 / 1,500 円")
    clinic.screenshot(path=str(ARTEFACTS / "copay-sheet.png"), full_page=True)
    with clinic.expect_download() as download:
        clinic.get_by_test_id("sheet-csv").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("日付,医療機関コード") and lines[2].endswith(",1500,3500,")

    # A clinic without a レセコン integration records the visit on the sheet itself.
    form = clinic.get_by_test_id("entry-form")
    form.get_by_label("医療費の総額（10割・円）").fill("10000")
    clinic.get_by_test_id("entry-quote-button").click()
    expect(clinic.get_by_test_id("entry-quote")).to_contain_text("残り 1,500 円")
    amount = clinic.get_by_test_id("entry-form").get_by_label("自己負担額（受け取った額・円）")
    expect(amount).to_have_value("1500")  # the suggested amount, at most what remains
    amount.fill("1600")
    clinic.get_by_test_id("entry-record-button").click()
    expect(clinic.get_by_test_id("entry-error")).to_contain_text("上限額 5,000 円を超えます")
    expect(clinic.get_by_test_id("entry-form").get_by_label("医療費の総額（10割・円）")).to_have_value("10000")
    clinic.screenshot(path=str(ARTEFACTS / "copay-entry-refused.png"), full_page=True)
    clinic.get_by_test_id("entry-form").get_by_label("自己負担額（受け取った額・円）").fill("1500")
    clinic.get_by_test_id("entry-record-button").click()
    expect(clinic.get_by_test_id("entry-recorded")).to_contain_text("残り 0 円")
    expect(clinic.get_by_test_id("sheet-total")).to_contain_text("5,000 円 / 0 円")
    rows = clinic.get_by_test_id("sheet-lines").locator("tbody tr")
    expect(rows).to_have_count(3)
    clinic.once("dialog", lambda dialog: dialog.accept())
    rows.nth(2).get_by_role("button", name="取消").click()
    expect(clinic.get_by_test_id("entry-cancelled")).to_contain_text("残り 1,500 円")
    expect(clinic.get_by_test_id("sheet-lines").locator("tbody tr").nth(2)).to_have_class("cancelled")
    clinic.screenshot(path=str(ARTEFACTS / "copay-entry-cancelled.png"), full_page=True)


def test_the_kiosk_is_a_device_view_that_returns_to_the_start_by_itself(hub: LiveHub, clinic: Any) -> None:
    from playwright.sync_api import expect

    clinic.goto(f"{hub.base_url}/kiosk")
    expect(clinic.locator(".site-header")).to_have_count(0)  # no staff header, menu or sign-out before patients
    expect(clinic.get_by_role("button", name="ログアウト")).to_have_count(0)
    expect(clinic.get_by_role("link", name="API仕様")).to_have_count(0)
    expect(clinic.get_by_label("カード（読み取り結果）")).to_be_focused()  # autofocus: the reader types here
    clinic.screenshot(path=str(ARTEFACTS / "kiosk-start.png"), full_page=True)
    _place(clinic, hub, _card(hub, "デモ 太郎"))
    clinic.get_by_role("button", name="提供しない").click()
    expect(clinic.get_by_test_id("kiosk-done")).to_be_visible()
    expect(clinic.get_by_test_id("reception-number")).to_be_visible()
    clinic.screenshot(path=str(ARTEFACTS / "kiosk-done.png"), full_page=True)
    expect(clinic.get_by_label("カード（読み取り結果）")).to_be_visible(timeout=40_000)  # back by itself (15 s)
    expect(clinic.get_by_test_id("kiosk-done")).to_have_count(0)
