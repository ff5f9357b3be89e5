"""The resident's pages in headless Chromium on a phone (390 px) and a desktop, and the printed leaflet.

They run against the live demo hub (``pmh serve --demo``) with its test cards; a clinic's reader and
its institution key (the demo's API keys) produce the reception and the read the resident then sees.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser import ARTEFACTS
from tests.live import LiveHub, serve_demo

# The tests build on each other's visits; pytest runs with --dist loadfile, so one worker runs this file.
pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
CLINIC = "デモ内科クリニック"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    with serve_demo(tmp_path_factory.mktemp("resident-pages") / "var") as live:
        yield live


def _card(hub: LiveHub, name: str) -> dict[str, Any]:
    return dict(next(c for c in hub.credentials()["cards"] if c["name"] == name))


def _key(hub: LiveHub, role: str) -> dict[str, str]:
    key = next(k["key"] for k in hub.credentials()["keys"] if k["role"] == role and k["name"] == CLINIC)
    return {"Authorization": f"Bearer {key}"}


def _visit_clinic(hub: LiveHub, card: dict[str, Any]) -> int:
    """The patient places the card at the demo clinic's reader, shares everything, and the clinic reads it."""
    opened = httpx.post(
        f"{hub.base_url}/api/v1/card-sessions",
        json={"card_serial": card["card_serial"], "auth": "pin", "pin": card["pin"]},
        headers=_key(hub, "card_reader"),
    )
    assert opened.status_code == 201, opened.text
    consent = httpx.post(
        f"{hub.base_url}/api/v1/card-sessions/{opened.json()['id']}/consent",
        json={"subsidy": "all"},
        headers=_key(hub, "card_reader"),
    )
    assert consent.status_code == 201, consent.text
    reception = int(consent.json()["reception_id"])
    assert _eligibility(hub, reception).status_code == 200
    return reception


def _eligibility(hub: LiveHub, reception: int) -> httpx.Response:
    return httpx.get(f"{hub.base_url}/api/v1/receptions/{reception}/eligibility", headers=_key(hub, "institution"))


def _sign_in(page: Any, hub: LiveHub, card: dict[str, Any], pin: str | None = None) -> None:
    page.goto(f"{hub.base_url}/me")
    page.locator("#card_serial").fill(card["card_serial"])
    page.locator("#pin").fill(pin or card["pin"])
    page.get_by_role("button", name="ログイン").click()


def _fits_the_screen(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_phone_sign_in_certificates_access_log_copay_and_withdrawal(hub: LiveHub, browser: Any) -> None:
    from playwright.sync_api import expect

    card = _card(hub, "デモ 花子")
    reception = _visit_clinic(hub, card)
    context = browser.new_context(viewport=PHONE, locale="ja-JP", is_mobile=True, has_touch=True)
    page = context.new_page()

    _sign_in(page, hub, card, pin="9999")
    expect(page.get_by_test_id("me-error")).to_contain_text("あと2回")
    page.screenshot(path=str(ARTEFACTS / "me-sign-in-wrong-pin-phone.png"), full_page=True)
    _sign_in(page, hub, card)
    certificates = page.get_by_test_id("me-certificate")
    expect(certificates).to_have_count(3)
    expect(page.get_by_test_id("me-certificates")).to_contain_text("特定医療費（指定難病）")
    expect(page.get_by_test_id("me-certificates")).to_contain_text("54136015")
    expect(page.locator("ruby").first).to_be_visible()
    assert _fits_the_screen(page)
    page.screenshot(path=str(ARTEFACTS / "me-certificates-phone.png"), full_page=True)

    page.get_by_role("link", name="見た機関の記録").click()
    log = page.get_by_test_id("me-access-log")
    read = page.get_by_test_id("me-log-entry").filter(has_text="医療費助成の資格情報を確認")
    expect(read).to_have_count(1)
    expect(read).to_contain_text(CLINIC)
    expect(log).to_contain_text("自治体が受給者証を登録・変更")
    expect(log).not_to_contain_text("職員")
    assert _fits_the_screen(page)
    page.screenshot(path=str(ARTEFACTS / "me-access-log-phone.png"), full_page=True)

    page.get_by_role("link", name="今月の負担額").click()
    sheet = page.get_by_test_id("me-sheet")
    expect(sheet).to_have_count(1)
    expect(page.get_by_test_id("me-remaining")).to_have_text("上限まであと 5,000円")
    assert _fits_the_screen(page)
    page.screenshot(path=str(ARTEFACTS / "me-copay-phone.png"), full_page=True)

    page.get_by_role("link", name="同意の取り消し").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("me-consent").first.get_by_role("button", name="この同意を取り消す").click()
    expect(page.get_by_test_id("me-withdrawn")).to_contain_text(f"{CLINIC}への同意を取り消しました")
    page.screenshot(path=str(ARTEFACTS / "me-consent-withdrawn-phone.png"), full_page=True)
    assert _eligibility(hub, reception).status_code == 404

    page.get_by_test_id("me-logout").click()
    expect(page.get_by_test_id("me-sign-in")).to_be_visible()
    page.goto(f"{hub.base_url}/me/access-log")
    expect(page.get_by_test_id("me-sign-in")).to_be_visible()  # the session ended with the sign-out
    context.close()


def test_desktop_shows_the_same_view(hub: LiveHub, browser: Any) -> None:
    from playwright.sync_api import expect

    card = _card(hub, "デモ 太郎")
    _visit_clinic(hub, card)
    context = browser.new_context(viewport=DESKTOP, locale="ja-JP")
    page = context.new_page()
    _sign_in(page, hub, card)
    expect(page.get_by_test_id("me-certificate")).to_have_count(1)
    page.screenshot(path=str(ARTEFACTS / "me-certificates-desktop.png"), full_page=True)
    page.get_by_role("link", name="見た機関の記録").click()
    expect(page.get_by_test_id("me-log-entry").filter(has_text=CLINIC).first).to_be_visible()
    page.screenshot(path=str(ARTEFACTS / "me-access-log-desktop.png"), full_page=True)
    context.close()


def test_leaflet_prints_on_one_a4_page(hub: LiveHub, browser: Any) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport=DESKTOP, locale="ja-JP")
    page.goto(f"{hub.base_url}/municipalities/132012/leaflet")
    programs = page.get_by_test_id("leaflet-programs")
    expect(programs.locator("tbody tr")).to_have_count(3)
    expect(programs).to_contain_text("ひとり親")
    expect(page.get_by_test_id("leaflet-institutions")).to_contain_text(CLINIC)
    expect(page.get_by_test_id("leaflet-contact")).to_contain_text("八王子市")
    page.screenshot(path=str(ARTEFACTS / "leaflet-132012.png"), full_page=True)
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="印刷する（A4）")).to_be_hidden()
    pdf = page.pdf(format="A4", print_background=True)
    (ARTEFACTS / "leaflet-132012.pdf").write_bytes(pdf)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
    page.close()
