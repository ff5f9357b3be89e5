"""Every staff page, as each role reads it, links back to the menu and is in Japanese: no romaji
program codes, no English field names, no file paths or command-line hints (issue: 「0人（hitorioya、
kodomo、shoman）」, 「XML（docs/…）」)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser import ARTEFACTS, sign_in
from tests.live import LiveHub, serve_demo

pytestmark = pytest.mark.browser

ROLES = {"municipality": "demo-132012", "institution": "demo-clinic", "operator": "demo-operator"}
EXTRA = {
    "municipality": ["/registry/certificates?payer_number=99999999&recipient_number=1234567"],
    "institution": ["/reception?date=2026-13-01"],
    "operator": [
        "/operator/fees?fiscal_year=2035",
        "/operator/contracts?fiscal_year=2035",
        "/operator/stats?fiscal_year=2035",
    ],
}
"""Pages with a refusal on them (an unknown certificate, a year without a price), which menus do not link."""
SKIPPED = ("/logout", "/kiosk", "/docs", "/openapi", "/static/")
"""Not staff reading pages: signing out, the patients' kiosk (its own test), the API reference, assets."""
DOWNLOADS = (".csv", ".png", ".svg", ".xml", ".json", ".xsd")


def _program_codes() -> list[str]:
    text = (resources.files("pmh.reference") / "data" / "programs.csv").read_text(encoding="utf-8")
    return [row["code"] for row in csv.DictReader(text.splitlines())]


def _offences(text: str) -> list[str]:
    """Return what a person should not have to read on a page (empty when the page is clean)."""
    found = [m.group(0) for m in re.finditer(r"\S*docs/\S*", text)]
    found += [m.group(0) for m in re.finditer(r"\bpmh\s+[a-z][a-z-]*", text)]
    found += [m.group(0) for m in re.finditer(r"(?<![\w/.-])[a-z]+(?:_[a-z0-9]+)+(?![\w/.-])", text)]
    for code in _program_codes():
        found += [m.group(0) for m in re.finditer(rf"(?<![\w/.-]){re.escape(code)}(?![\w/.-])", text)]
    return found


def test_the_offence_finder_sees_what_the_issue_reported() -> None:
    assert _offences("0人（hitorioya、kodomo、shoman）") == ["hitorioya", "kodomo", "shoman"]
    assert _offences("XML（docs/eligibility.xsd）") == ["XML（docs/eligibility.xsd）"]
    assert _offences("pmh registry upload で登録") == ["pmh registry"]
    assert _offences("payer_number が空です") == ["payer_number"]
    assert _offences("子ども医療費助成 pmh 医療費助成オンライン資格確認ハブ https://example.jp/kodomo-x") == []


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    with serve_demo(tmp_path_factory.mktemp("japanese") / "var") as live:
        yield live


def _links(page: Any, base: str) -> list[str]:
    hrefs = page.eval_on_selector_all("main a[href]", "links => links.map(a => a.getAttribute('href'))")
    wanted = []
    for href in hrefs:
        if not href or not href.startswith("/") or href.startswith("//"):
            continue
        path = urlsplit(href).path
        if path.startswith(SKIPPED) or path.endswith(DOWNLOADS) or path == "/":
            continue
        wanted.append(href)
    return wanted


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_page_a_role_reads_is_in_japanese(hub: LiveHub, browser: Any, role: str) -> None:
    page = sign_in(browser, hub, ROLES[role])
    menu = _links(page, hub.base_url)
    assert len(menu) >= 3, f"the {role} menu lists its pages"
    seen: set[str] = set()
    queue = list(dict.fromkeys(menu + EXTRA[role]))
    problems: dict[str, list[str]] = {}
    while queue and len(seen) < 40:
        href = queue.pop(0)
        if href in seen:
            continue
        seen.add(href)
        response = page.goto(f"{hub.base_url}{href}")
        assert response is not None and response.status < 500, f"{href} answers"
        if response.status == 200:  # a page of its own links back to the menu
            crumb = page.locator("main .breadcrumb a[href='/']")
            if crumb.count() == 0:
                problems.setdefault(href, []).append("（メニューへ戻るリンクがありません）")
        text = page.inner_text("body")
        if found := _offences(text):
            problems.setdefault(href, []).extend(sorted(set(found)))
        if href in menu:  # one level below each menu page (a result, a detail, the next tab)
            queue += [link for link in _links(page, hub.base_url) if link not in seen]
    page.screenshot(path=str(ARTEFACTS / f"japanese-{role}-last.png"), full_page=True)
    page.close()
    assert len(seen) >= len(set(menu))
    assert problems == {}, f"pages without a way back, or with codes, paths or CLI hints: {problems}"


def test_counts_are_written_with_thousands_separators() -> None:
    from pmh.web.templating import environment

    assert environment.from_string("{{ n|num }}人、{{ (items|length)|num }}件").render(n=1741, items=[0] * 1200) == (
        "1,741人、1,200件"
    )
