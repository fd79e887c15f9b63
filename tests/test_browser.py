"""The workflows in a real headless Chromium against a real uvicorn server on loopback.

Debian's /usr/bin/chromium, driven by Playwright (its own browser download cannot work here);
axe-core from the npm registry, installed by scripts/ensure-browser.sh (run by `make test`).
Set MINUTES_SCREENSHOTS=docs/screenshots to refresh the README's screenshots.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from minutes.build import build_index
from minutes.embed import HashingEmbedder

from .conftest import CORPUS, ROOT
from .support.server import live_server

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
AXE = ROOT / "var" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
QUESTION = "what was said about short breaks"
HARINGEY = "London Borough of Haringey"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn process (`minutes serve`) on the hashing model and an index built in a tmp dir."""
    index_dir = tmp_path_factory.mktemp("browser-index")
    build_index([CORPUS], index_dir, HashingEmbedder())
    with live_server(index_dir, index_dir, {"MINUTES_MODEL": "hashing"}) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (or apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def _search(page: Any, base_url: str, query: str = QUESTION) -> None:
    page.goto(base_url + "/")
    page.fill("#q", query)
    page.press("#q", "Enter")
    page.wait_for_selector("li.hit")


def test_search_filter_and_open_in_context(page: Any, base_url: str) -> None:
    _search(page, base_url)
    assert "q=what+was+said+about+short+breaks" in page.url and page.title().startswith(QUESTION)
    assert page.locator("section.answer a.cite-ref").count() >= 1
    assert page.locator("section.answer").is_visible()
    # Filter by council through the form (GET: the URL and title carry it)...
    page.click("details.filters summary")
    page.select_option("#f-council", HARINGEY)
    page.click("details.filters button[type=submit]")
    page.wait_for_url("**council=London+Borough+of+Haringey**")
    assert HARINGEY in page.title()
    assert set(page.locator("li.hit .council").all_inner_texts()) == {HARINGEY}
    # ...then by year through a facet link, and back through the chip that removes it.
    page.locator("section[aria-labelledby=facet-year] a").first.click()
    page.wait_for_url("**date_from=**")
    assert "Year " in page.locator("ul.chips").inner_text()
    # Open the best hit in context: the document page scrolls to the passage and marks it.
    href = page.locator("li.hit a.context").first.get_attribute("href")
    snippet = page.locator("li.hit blockquote").first.inner_text()
    page.locator("li.hit a.context").first.click()
    page.wait_for_selector(".passage.current")
    assert page.url.endswith("#p" + href.split("#p")[1])
    box = page.locator(".passage.current").bounding_box()
    assert box is not None and 0 <= box["y"] < 900, box
    assert " ".join(page.locator(".passage.current").inner_text().split()) == " ".join(snippet.split())


def test_sort_pages_and_timeline(page: Any, base_url: str) -> None:
    page.goto(base_url + "/?q=budget+savings&k=5")
    page.click("nav.sort >> text=Newest first")
    page.wait_for_url("**sort=newest**")
    dates = page.locator("li.hit time").all_inner_texts()
    assert dates[0].startswith("2023")
    page.click('nav.pages a[rel="next"]')
    page.wait_for_url("**page=2**")
    assert page.locator('nav.pages [aria-current="page"]').inner_text() == "2"
    page.click("text=See it over time")
    page.wait_for_selector("figure.timeline svg a")
    assert page.locator("ol.meetings > li").count() == 5
    label = page.locator("figure.timeline svg a").first.get_attribute("aria-label")
    page.locator("figure.timeline svg a").first.click()
    page.wait_for_url("**date_to=**")
    assert page.locator("#results-heading").inner_text().startswith(label.split(": ")[1].split()[0] + " passage")


def test_export_a_briefing_note_with_its_citations(page: Any, base_url: str) -> None:
    import docx

    _search(page, base_url)
    chosen = page.locator("li.hit").nth(0), page.locator("li.hit").nth(2)
    expected = [(hit.locator(".council").inner_text(), hit.locator("input[name=passage]").get_attribute("value"),
                 hit.locator(".citation-text").text_content().strip()) for hit in chosen]
    for hit in chosen:
        hit.locator("input[name=passage]").check()
    assert "2 passages selected" in page.locator(".selected-count").inner_text()
    with page.expect_download() as info:
        page.click("form#briefing button[value=docx]")
    download = info.value
    assert download.suggested_filename.startswith("briefing-what-was-said-about-short-breaks-")
    word = docx.Document(io.BytesIO(Path(download.path()).read_bytes()))
    paragraphs = [p.text for p in word.paragraphs]
    citations = [p for p in paragraphs if p.startswith("[")]
    assert len(citations) == 2
    for number, ((council, _, line), cited) in enumerate(zip(expected, citations, strict=True), 1):
        assert council in cited and "(retrieved " in cited
        assert cited == f"[{number}] {line}"  # the same citation the page offers to copy
    with page.expect_download() as info:
        page.click("form#briefing button[value=csv]")
    rows = Path(info.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert [pid for _, pid, _ in expected][0] in rows[1]


def test_keyboard_only(page: Any, base_url: str) -> None:
    page.goto(base_url + "/")
    assert page.evaluate("document.activeElement.id") == "q"  # the query box has focus on arrival
    page.keyboard.type("short breaks")
    page.keyboard.press("Enter")
    page.wait_for_selector("li.hit")
    page.keyboard.press("Tab")
    focused = page.evaluate("[document.activeElement.className, document.activeElement.textContent]")
    assert focused == ["skip", "Skip to main content"]
    assert page.locator("a.skip").bounding_box()["x"] >= 0  # it shows itself when focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    outline = None
    for _ in range(80):  # Tab through to the first "In context" link
        page.keyboard.press("Tab")
        state = page.evaluate("""() => { const e = document.activeElement, s = getComputedStyle(e);
            return [e.className, e.textContent.trim(), s.outlineStyle, s.boxShadow, s.backgroundColor]; }""")
        if state[0] == "context":
            outline = state
            break
    assert outline is not None, "could not reach a result link with Tab"
    assert outline[2] != "none" or outline[3] != "none"  # a visible focus indicator
    # Copy a citation with the keyboard: open "Cite this passage", then its button.
    for _ in range(8):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName") == "SUMMARY":
            break
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Copy citation"
    page.keyboard.press("Enter")
    page.wait_for_selector(".copy-status:not(:empty)", state="attached")
    # Back up to the first "In context" link and follow it with Enter.
    page.goto(base_url + "/?q=short+breaks")
    page.locator("li.hit a.context").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(".passage.current")
    assert page.evaluate("document.activeElement.classList.contains('current')")


def test_works_without_javascript(browser: Any, base_url: str) -> None:
    context = browser.new_context(java_script_enabled=False, accept_downloads=True)
    page = context.new_page()
    try:
        page.goto(base_url + "/?q=short+breaks")
        assert page.locator("button.copy").count() == 0 and page.locator(".citation-text").count() > 0
        page.locator("li.hit input[name=passage]").first.check()
        with page.expect_download() as info:
            page.click("form#briefing button[value=md]")
        text = Path(info.value.path()).read_text()
        assert text.startswith("# Briefing note: short breaks") and text.count("\n[") == 1
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/", "/?q=what+was+said+about+short+breaks",
                                  "/timeline?q=budget+savings",
                                  "/documents/004_67b7388c9a981ec9?passage=2&q=autonomy#p2"])
def test_axe_finds_no_serious_or_critical_violations(browser: Any, base_url: str, path: str) -> None:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make browser` (scripts/ensure-browser.sh installs axe-core)")
    # The page's CSP forbids injected scripts (rightly); the audit alone bypasses it.
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(base_url + path)
        page.add_script_tag(content=AXE.read_text())
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    finally:
        context.close()
    bad = [(v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:3])
           for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == []


def test_phone_layout(browser: Any, base_url: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(base_url + "/?q=" + QUESTION.replace(" ", "+"))
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    finally:
        context.close()


def test_screenshots(browser: Any, base_url: str, tmp_path: Path) -> None:
    """Screenshots of the main pages; into MINUTES_SCREENSHOTS (e.g. docs/screenshots) when set."""
    target = os.environ.get("MINUTES_SCREENSHOTS")
    folder = ROOT / target if target else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    shots = [("search", "/?q=what+was+said+about+short+breaks", 1200, 1000),
             ("filters", "/?q=budget+savings&decisions=1&sort=newest", 1200, 900),
             ("timeline", "/timeline?q=budget+savings", 1200, 1000),
             ("document", "/documents/004_67b7388c9a981ec9?passage=2&q=earned+autonomy#p2", 1200, 800),
             ("phone", "/?q=short+breaks", 390, 844)]
    for name, path, width, height in shots:
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.goto(base_url + path)
        page.screenshot(path=str(folder / f"{name}.png"))
        context.close()
        assert (folder / f"{name}.png").stat().st_size > 10_000
