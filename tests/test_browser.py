"""The web page in headless Chromium (Debian's), driven by Playwright, against a real server.

Screenshots of each step are saved under test-artifacts/screenshots/ for a person to look at.
"""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import ROOT, ServerThread

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = ROOT / "test-artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it)")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(server + "/")
    pg.wait_for_function("document.querySelector('#index-stats').textContent.includes('documents')")
    yield pg
    context.close()
    assert not errors, errors


def ask(page, question: str):
    page.fill("#question", question)
    page.press("#question", "Enter")
    page.wait_for_selector(".message.assistant:last-child:not([aria-busy='true']) .answer-text", timeout=60000)
    page.wait_for_function("!document.querySelector('.message.assistant:last-child').hasAttribute('aria-busy')", timeout=60000)
    return page.locator(".message.assistant").last


def test_ask_then_open_citation_highlights_quote(page):
    message = ask(page, "When did the Head of Strategic Procurement start?")
    assert "20th March 2017" in message.locator(".answer-text").inner_text()
    chips = message.locator(".citation-chip")
    assert chips.count() >= 1
    page.screenshot(path=str(SHOTS / "01-answer.png"))
    chips.first.click()
    page.wait_for_selector("#viewer:not([hidden]) mark.highlight")
    mark = page.locator("mark.highlight").first
    assert "commenced in post on 20th March 2017" in mark.inner_text()
    assert mark.is_visible()
    assert "Collaboration" in page.locator("#viewer-title").inner_text()
    assert "Procurement Business Case" in page.locator("#viewer-section").inner_text()
    page.screenshot(path=str(SHOTS / "02-citation-viewer.png"))
    page.keyboard.press("Escape")
    assert page.locator("#viewer").get_attribute("hidden") is not None


def test_follow_up_and_new_conversation(page):
    ask(page, "How much did the PCC pay Salus?")
    requests = []
    page.on("request", lambda r: requests.append(r.post_data_json) if r.url.endswith("/api/ask") else None)
    ask(page, "and what was it for?")
    assert requests and requests[-1]["history"][0] == {"role": "user", "content": "How much did the PCC pay Salus?"}
    assert page.locator(".message.user").count() == 2
    page.click("#new-conversation")
    assert page.locator(".message").count() == 0


def test_search_mode_with_filter(page):
    page.click("#mode-search")
    page.select_option("#filter-doc-types", ["minutes"])
    page.fill("#question", "collaboration with Essex")
    page.press("#question", "Enter")
    page.wait_for_selector("#search-results .result")
    results = page.locator("#search-results .result")
    assert results.count() >= 3
    texts = results.all_inner_texts()
    assert all("minutes" in t.lower() for t in texts), texts
    page.screenshot(path=str(SHOTS / "03-search-filtered.png"))
    results.first.locator(".open-source").click()
    page.wait_for_selector("#viewer:not([hidden]) mark.highlight")


def test_abstention_is_plain(page):
    message = ask(page, "How much has the drone unit cost so far?")
    assert "abstained" in (message.get_attribute("class") or "")
    assert "Not found in these reports" in message.inner_text()
    assert message.locator(".sources .result, .sources li, .sources .source").count() >= 1
    page.screenshot(path=str(SHOTS / "04-abstention.png"))


def test_html_injection_renders_as_text(page):
    payload = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> drone?'
    ask(page, payload)
    assert page.evaluate("window.__pwned") is None
    assert payload in page.locator(".message.user").last.inner_text()
    assert page.locator(".message img").count() == 0


def test_empty_question_is_refused_inline(page):
    sent = []
    page.on("request", lambda r: sent.append(r.url) if "/api/ask" in r.url else None)
    page.fill("#question", "   ")
    page.click("#send")
    assert page.locator("#question-error").inner_text().strip()
    assert not sent


def test_server_unreachable_and_no_index_messages(browser, server, tmp_path):
    from searchapi.app import create_app

    context = browser.new_context()
    pg = context.new_page()
    pg.goto(server + "/")
    pg.route("**/api/ask", lambda route: route.abort())
    pg.fill("#question", "What is PEQF?")
    pg.press("#question", "Enter")
    pg.wait_for_function("document.body.innerText.toLowerCase().includes('reach')", timeout=30000)
    context.close()
    with ServerThread(create_app(tmp_path / "none")) as empty:
        context = browser.new_context()
        pg = context.new_page()
        pg.goto(empty.url + "/")
        pg.wait_for_function("document.body.innerText.includes('reportsearch index')", timeout=30000)
        pg.screenshot(path=str(SHOTS / "05-no-index.png"))
        context.close()


def test_phone_width(browser, server):
    context = browser.new_context(viewport={"width": 375, "height": 780}, is_mobile=True)
    pg = context.new_page()
    pg.goto(server + "/")
    pg.wait_for_function("document.querySelector('#index-stats').textContent.includes('documents')")
    assert pg.evaluate("document.documentElement.scrollWidth") <= 380, "horizontal scrolling at phone width"
    message = ask(pg, "What is PEQF?")
    message.locator(".citation-chip").first.click()
    pg.wait_for_selector("#viewer:not([hidden]) mark.highlight")
    box = pg.locator("#viewer").bounding_box()
    assert box["width"] >= 360
    pg.screenshot(path=str(SHOTS / "06-phone-viewer.png"))
    context.close()


def test_print_view_shows_answer_and_sources_only(page):
    message = ask(page, "What does PEQF stand for?")
    page.evaluate("window.print = () => {}")  # the dialog itself is the browser's; the layout is ours
    message.locator(".print-answer").click()
    page.emulate_media(media="print")
    assert not page.locator("#composer").is_visible() and not page.locator("#filters-panel").is_visible()
    assert message.locator(".answer-text").is_visible() and message.locator(".sources").is_visible()
    assert "Policing Education Qualifications Framework" in message.locator(".sources").inner_text()
    page.screenshot(path=str(SHOTS / "07-print.png"), full_page=True)
    page.emulate_media(media="screen")
