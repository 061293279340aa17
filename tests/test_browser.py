"""The web page in headless Chromium (Debian's), driven by Playwright, against a real server.

Screenshots of each step are saved under test-artifacts/screenshots/ for a person to look at.
"""

from __future__ import annotations

import re
import shutil
from datetime import datetime

import httpx
import pytest

from tests.conftest import ROOT, ServerThread
from tests.test_saved import reindexed  # noqa: F401  (fixture: an index re-indexed after a search was saved)

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
    # The page must live within its own Content-Security-Policy (no inline script, no eval).
    pg.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    pg.goto(server + "/")
    wait_ready(pg)
    yield pg
    context.close()
    assert not errors, errors


def wait_ready(page):
    # Selectors, not wait_for_function: the page's CSP forbids the eval that a string predicate needs.
    page.wait_for_selector("#index-stats:has-text('document')")


def ask(page, question: str):
    page.fill("#question", question)
    page.press("#question", "Enter")
    page.wait_for_selector(".message.assistant:last-child:not([aria-busy]) .answer-text", state="attached", timeout=60000)
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
    from searchapi.service.app import create_app

    context = browser.new_context()
    pg = context.new_page()
    pg.goto(server + "/")
    pg.route("**/api/ask", lambda route: route.abort())
    pg.fill("#question", "What is PEQF?")
    pg.press("#question", "Enter")
    pg.wait_for_selector("text=/cannot reach/i", timeout=30000)
    context.close()
    with ServerThread(create_app(tmp_path / "none")) as empty:
        context = browser.new_context()
        pg = context.new_page()
        pg.goto(empty.url + "/")
        pg.wait_for_selector("text=/reportsearch index/", timeout=30000)
        pg.screenshot(path=str(SHOTS / "05-no-index.png"))
        context.close()


def test_phone_width(browser, server):
    context = browser.new_context(viewport={"width": 375, "height": 780}, is_mobile=True)
    pg = context.new_page()
    pg.goto(server + "/")
    wait_ready(pg)
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


# ---- meeting preparation: precedent, saved searches, filters, brief ------------------------------
RECORD_WORDING = "The Meeting Notes from the Governance Board were noted as a true and accurate record"
GB_DATE = re.compile(r"^\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}$")


def _day(text: str) -> datetime:
    return datetime.strptime(text.strip(), "%d %b %Y")


def test_precedent_tab_newest_first_with_diff(page):
    page.click("#mode-precedent")
    page.fill("#question", RECORD_WORDING)
    page.press("#question", "Enter")
    page.wait_for_selector(".precedent-group")
    group = page.locator(".precedent-group.reused").first
    assert "Same wording in" in group.inner_text() and "first used" in group.inner_text()
    dates = [_day(t) for t in group.locator(".occurrence-date").all_inner_texts()]
    assert len(dates) >= 2 and dates == sorted(dates, reverse=True)
    removed, added = group.locator(".diff del").first, group.locator(".diff ins").first
    assert removed.is_visible() and added.is_visible()
    assert re.search(r"\d", removed.inner_text()) and re.search(r"\d", added.inner_text())
    assert group.locator(".diff .figure").count() >= 2  # the changed dates are marked as figures
    page.screenshot(path=str(SHOTS / "08-precedent-diff.png"))
    group.locator(".copy-quote").first.click()
    page.wait_for_selector("#announcer:has-text('copied')")

    page.fill("#question", "firearms licensing backlog")  # a topic in several papers
    page.press("#question", "Enter")
    page.wait_for_selector("#precedent-results .results-summary:has-text('firearms licensing backlog')")
    latest = [_day(t) for t in page.locator(".precedent-group .occurrence:first-child .occurrence-date").all_inner_texts()]
    assert len(latest) >= 2 and latest == sorted(latest, reverse=True)
    page.screenshot(path=str(SHOTS / "09-precedent-topic.png"))


def _boxes_apart(page, selectors: list[str]) -> None:
    boxes = {s: page.locator(s).bounding_box() for s in selectors if page.locator(s).is_visible()}
    names = list(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            A, B = boxes[a], boxes[b]
            apart = (A["x"] + A["width"] <= B["x"] + 0.5 or B["x"] + B["width"] <= A["x"] + 0.5 or
                     A["y"] + A["height"] <= B["y"] + 0.5 or B["y"] + B["height"] <= A["y"] + 0.5)
            assert apart, f"{a} {A} overlaps {b} {B}"
    return boxes


def test_phone_filters_open_nothing_overlapped(browser, server):
    context = browser.new_context(viewport={"width": 375, "height": 780}, is_mobile=True)
    pg = context.new_page()
    pg.goto(server + "/")
    wait_ready(pg)
    parts = [".app-header", "#filters-panel", "#chat-view", "#composer"]
    _boxes_apart(pg, parts)
    pg.click(".filters-summary-toggle")
    pg.wait_for_selector("#filters-panel[open] .doc-option")
    boxes = _boxes_apart(pg, parts)
    assert boxes["#filters-panel"]["y"] + boxes["#filters-panel"]["height"] <= 780 + 0.5  # not cut off below
    assert pg.evaluate("document.documentElement.scrollWidth") <= 380
    title = pg.locator(".doc-option-title").first  # titles wrap rather than being cut
    assert pg.evaluate("e => e.scrollWidth <= e.clientWidth + 1", title.element_handle())
    pg.screenshot(path=str(SHOTS / "10-phone-filters-open.png"))
    pg.locator("#close-filters").scroll_into_view_if_needed()
    assert pg.locator("#close-filters").is_visible() and pg.locator("#clear-filters").is_visible()
    pg.click("#close-filters")
    assert pg.locator("#composer").is_visible()
    _boxes_apart(pg, parts)
    context.close()


def test_en_gb_dates_and_filters_excluding_everything(page):
    requests = []
    page.on("request", lambda r: requests.append(r.post_data_json) if r.url.endswith("/api/search") else None)
    page.click("#mode-search")
    page.fill("#filter-date-from", "1/3/2017")
    page.press("#filter-date-from", "Tab")
    assert page.input_value("#filter-date-from") == "01/03/2017"
    assert "from 1 Mar 2017" in page.inner_text("#filter-summary")
    page.fill("#question", "collaboration with Essex")
    page.press("#question", "Enter")
    page.wait_for_selector("#search-results .result")
    assert requests[-1]["filters"]["date_from"] == "2017-03-01"
    shown = [t.split(" · ")[0] for t in page.locator("#search-results .result .source-meta").all_inner_texts()]
    assert shown and all(GB_DATE.match(d) and _day(d) >= datetime(2017, 3, 1) for d in shown), shown

    page.fill("#filter-date-from", "03/25/2017")  # the American order is refused, not misread
    page.press("#question", "Enter")
    assert "no such date" in page.inner_text("#question-error")

    page.fill("#filter-date-from", "01/01/2030")
    page.press("#filter-date-from", "Tab")
    page.click("#mode-ask")
    message = ask(page, "What is PEQF?")
    assert "exclude every paper" in message.inner_text()
    page.screenshot(path=str(SHOTS / "11-filters-exclude-everything.png"))
    message.locator(".clear-and-retry").click()
    assert page.input_value("#filter-date-from") == ""
    page.wait_for_selector(".message.assistant:nth-last-child(1):not([aria-busy]) .answer-text", state="attached")
    assert page.locator(".message.user").count() == 2


def test_viewer_folds_the_filters_at_laptop_width(page):
    page.click("#mode-search")
    page.fill("#question", "collaboration with Essex")
    page.press("#question", "Enter")
    page.wait_for_selector("#search-results .result")
    page.locator("#search-results .open-source").first.click()
    page.wait_for_selector("#viewer:not([hidden]) mark.highlight")
    assert page.locator("#filters-panel").get_attribute("open") is None
    assert page.locator("#content").bounding_box()["width"] >= 560
    assert "Open original" in page.inner_text("#viewer-original")
    page.screenshot(path=str(SHOTS / "12-viewer-laptop.png"))
    page.keyboard.press("Escape")
    assert page.locator("#filters-panel").get_attribute("open") is not None


def test_examples_and_evidence_strength_and_brief(page, client):
    page.wait_for_selector(".example-list .example")  # fetched after the page is ready
    examples = page.locator(".example-list .example")
    question = examples.first.inner_text()

    # The server's own answer, plus a weak calibrated confidence (the field answers carry when calibrated).
    real = client.post("/api/ask", json={"question": question}).json()
    page.route("**/api/ask", lambda route: route.fulfill(json={**real, "confidence": 0.31}))
    examples.first.click()
    page.wait_for_selector(".message.assistant:last-child:not([aria-busy]) .answer-text", state="attached")
    assert page.locator(".message.user").first.inner_text() == question
    message = page.locator(".message.assistant").last
    if "abstained" not in (message.get_attribute("class") or ""):
        assert "Evidence: weak (31%)" in message.locator(".evidence").inner_text()
    page.screenshot(path=str(SHOTS / "13-example-answer.png"))

    with page.expect_download() as download:
        page.click("#export-markdown")
    brief = open(download.value.path(), encoding="utf-8").read()
    assert brief.startswith("# Meeting brief") and f"## 1. {question}" in brief
    for quote in message.locator(".sources:not(.related) .source-quote").all_inner_texts():  # cited quotes
        assert quote.strip().split("\n")[0] in brief
    page.evaluate("window.print = () => {}")
    page.click("#export-print")
    page.emulate_media(media="print")
    assert message.is_visible() and not page.locator("#composer").is_visible()
    page.screenshot(path=str(SHOTS / "14-brief-print.png"), full_page=True)
    page.emulate_media(media="screen")

    message.locator(".trace-precedent").click()  # the same words, paper by paper, newest first
    page.wait_for_selector("#precedent-results .precedent-group")
    assert page.locator("#mode-precedent").get_attribute("aria-pressed") == "true"
    assert question in page.inner_text("#precedent-results .results-summary")


def test_saved_search_shows_new_match_after_reindex(browser, reindexed):
    from searchapi.service.app import create_app

    index, _ = reindexed
    with ServerThread(create_app(index)) as srv:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        pg = context.new_page()
        pg.goto(srv.url + "/")
        wait_ready(pg)
        saved = pg.locator("#saved-list .saved-open", has_text="essex")
        saved.wait_for()
        assert "new" in saved.inner_text()
        saved.click()
        pg.wait_for_selector("#search-results .saved-match")
        assert "Collaboration Update 2023" in pg.inner_text("#search-results")
        assert "Range Lease" not in pg.inner_text("#search-results")  # restricted: not for a public visitor
        assert pg.locator("#saved-list .saved-feed").first.get_attribute("href") == "/api/saved/essex/feed"
        pg.screenshot(path=str(SHOTS / "15-saved-search.png"))
        context.close()


LA_METRO_PDF = ROOT.parent / "shared" / "corpora" / "real-formats" / "us-la-metro-executive-management-committee-agenda-2017-06-15.pdf"


@pytest.fixture(scope="module")
def pdf_server(tmp_path_factory):
    """A real 7-page agenda PDF, indexed on its own and served."""
    from indexer.pipeline import index_paths
    from searchapi.service.app import create_app

    if not LA_METRO_PDF.exists():
        pytest.skip("the shared real-format corpus is not next to the repository")
    folder = tmp_path_factory.mktemp("pdf-docs")
    shutil.copy(LA_METRO_PDF, folder)
    index = tmp_path_factory.mktemp("pdf-index")
    assert index_paths([folder], index, progress=False).usable
    with ServerThread(create_app(index)) as srv:
        yield srv.url


def test_pdf_passage_shown_on_its_page_with_the_quote_highlighted(browser, pdf_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors = []
    pg.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    pg.goto(pdf_server + "/")
    wait_ready(pg)
    pg.click("#mode-search")
    pg.fill("#question", "a party to a proceeding must disclose contributions over $250")
    pg.press("#question", "Enter")
    pg.wait_for_selector("#search-results .result")
    first = pg.locator("#search-results .result").first
    page_no = re.search(r"p\. (\d+)", first.locator(".source-meta").inner_text()).group(1)
    first.locator(".open-source").click()
    pg.wait_for_selector("#viewer-pdf canvas")
    pg.wait_for_selector("#viewer-pdf .pdf-hit")  # the quote found on the rendered page and marked
    assert pg.locator("#viewer-pdf .pdf-hit").count() >= 3
    assert pg.inner_text("#viewer-original") == f"Open original at p. {page_no}"
    href = pg.get_attribute("#viewer-original", "href")
    assert href.endswith(f"/source#page={page_no}")
    pg.screenshot(path=str(SHOTS / "16-pdf-page.png"))
    pg.click("#viewer-show-text")
    assert pg.locator("#viewer-body mark.highlight").first.is_visible() and not pg.locator("#viewer-pdf").is_visible()
    source = httpx.get(pdf_server + href.split("#")[0], timeout=30)
    assert source.status_code == 200 and source.content[:5] == b"%PDF-"
    assert not errors, errors
    context.close()


def test_vendored_pdfjs_is_only_what_the_viewer_loads():
    vendored = sorted(p.name for p in (ROOT / "web" / "vendor" / "pdfjs").iterdir())
    assert vendored == ["LICENSE", "README.md", "pdf.min.mjs", "pdf.worker.min.mjs"]
    assert "Apache License" in (ROOT / "web" / "vendor" / "pdfjs" / "LICENSE").read_text()
    assert "/static/vendor/pdfjs/pdf.min.mjs" in (ROOT / "web" / "app.js").read_text()
