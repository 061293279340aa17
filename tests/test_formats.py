"""PDF, DOCX and HTML: page-accurate text on generated files with known pages, and on the real
documents in ../shared/corpora/real-formats (running heads, printed page numbers, packs, scans)."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import pytest

from indexer.documents import build_documents
from indexer.formats import ocr as ocr_module
from indexer.formats.furniture import strip_furniture
from indexer.load import SkipFile, read_source
from indexer.settings import Settings

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpora" / "real-formats"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/corpora/real-formats is not present")
fpdf = pytest.importorskip("fpdf", reason="fpdf2 (the [test] extra) makes the PDF fixtures")

SENTENCES = [
    "The panel noted that burglary in rural parishes fell by a fifth over the winter months.",
    "Officers reported that the new custody suite in Ashford opened two weeks ahead of schedule.",
    "The commissioner agreed to publish the victims' survey results before the autumn meeting.",
    "Members asked why response times in coastal towns were slower than the county average.",
    "The finance officer confirmed that the reserve would stay above five per cent of budget.",
    "A further report on drone deployment at public events will come to the March meeting.",
]
HEADER = "Kent Police and Crime Panel - Quarterly Performance Report"
FIRST_PRINTED = 5  # the pack's printed numbering: physical page 1 is printed as page 5


def _settings(monkeypatch, **overrides):
    settings = Settings(**overrides)
    for module in ("indexer.formats.pdf", "indexer.formats.docx"):
        monkeypatch.setattr(f"{module}.get_settings", lambda: settings)
    return settings


def without_tesseract(monkeypatch):
    """As on a machine without Debian's tesseract-ocr (and quick: no OCR of the real scans)."""
    monkeypatch.setattr("indexer.formats.pdf.tesseract_available", lambda: False)


def make_pdf(path: Path, pages: list[str], header: str | None = HEADER, first_printed: int | None = FIRST_PRINTED,
             bookmarks: dict[int, str] | None = None, password: str | None = None) -> Path:
    pdf = fpdf.FPDF(format="A4")
    pdf.set_auto_page_break(False)
    if password:
        pdf.set_encryption(owner_password="owner", user_password=password)
    for index, body in enumerate(pages):
        pdf.add_page()
        if bookmarks and index in bookmarks:
            pdf.start_section(bookmarks[index])
        pdf.set_font("Helvetica", size=9)
        if header:
            pdf.set_xy(20, 10)
            pdf.cell(0, 5, header)
        pdf.set_font("Helvetica", size=11)
        pdf.set_xy(20, 30)
        pdf.multi_cell(170, 6, body)
        if first_printed is not None:
            pdf.set_font("Helvetica", size=9)
            pdf.set_xy(20, 280)
            pdf.cell(0, 5, f"Page {first_printed + index}")
    pdf.output(str(path))
    return path


def documents_of(path: Path):
    source = read_source(path, 10**9)
    return build_documents(path.name, source.text, source.extract()), source


def page_of(documents, sentence: str):
    for doc in documents:
        at = doc.text.find(sentence)
        if at >= 0:
            return doc.page_at(at)
    raise AssertionError(f"not found in any paper: {sentence!r}")


def test_generated_pdf_every_sentence_on_its_page_with_printed_label(tmp_path):
    bodies = [f"{s} {s.replace('The ', 'In addition the ', 1)}" for s in SENTENCES]
    documents, source = documents_of(make_pdf(tmp_path / "report.pdf", bodies))
    assert len(documents) == 1 and source.notes == []
    for number, sentence in enumerate(SENTENCES, start=1):
        assert page_of(documents, sentence) == (number, str(FIRST_PRINTED + number - 1))
    text = documents[0].text
    assert HEADER not in text, "the running header is page furniture"
    assert "Page 6" not in text, "the printed page numbers are furniture"


def test_paragraph_running_across_a_page_break_is_rejoined_and_starts_on_its_first_page(tmp_path):
    first = "The chief constable explained that the estates strategy would release three buildings and"
    second = "save the force almost two million pounds over the period of the plan."
    path = make_pdf(tmp_path / "broken.pdf", [SENTENCES[0] + "\n\n" + first, second + "\n\n" + SENTENCES[1]])
    documents, _ = documents_of(path)
    text = documents[0].text
    assert f"{first} {second}" in text
    assert page_of(documents, first)[0] == 1
    assert documents[0].page_at(text.find("save the force"))[0] == 2
    assert page_of(documents, SENTENCES[1])[0] == 2


def test_word_hyphenated_at_line_end_is_rejoined(tmp_path):
    words = ("The inspector considered the arrangements for neighbourhood policing " * 2).split()
    body = " ".join(words[:9]) + " manage-\nment of the custody estate was sound and well documented."
    documents, _ = documents_of(make_pdf(tmp_path / "hyphen.pdf", [body, SENTENCES[2]]))
    assert "management of the custody estate" in documents[0].text


def test_pack_with_bookmarks_splits_into_papers_with_their_own_pages(tmp_path):
    bodies = [
        "AGENDA\n\nPolice and Crime Panel\n\n" + SENTENCES[0],
        SENTENCES[1],
        "Minutes of the previous meeting\n\n" + SENTENCES[2],
        SENTENCES[3],
        "Budget monitoring report\n\n" + SENTENCES[4],
        SENTENCES[5],
    ]
    marks = {0: "Pg 1", 2: "Minutes of the previous meeting", 4: "Budget monitoring report"}
    documents, _ = documents_of(make_pdf(tmp_path / "pack.pdf", bodies, bookmarks=marks))
    assert len(documents) == 3
    assert [doc.pages[0][:2] for doc in documents] == [(0, 1), (0, 3), (0, 5)]
    for number, sentence in enumerate(SENTENCES, start=1):
        assert page_of(documents, sentence)[0] == number
    assert SENTENCES[4] in documents[2].text and SENTENCES[2] not in documents[2].text


@pytest.mark.slow  # a benchmark: its figure depends on the machine's load, so not in the default run
def test_text_pdf_extraction_speed(tmp_path):
    import time

    from indexer.formats.pdf import extract_pdf

    body = " ".join(SENTENCES * 4)
    path = make_pdf(tmp_path / "long.pdf", [body] * 120)
    started = time.perf_counter()
    extracted = extract_pdf(path)
    rate = len(extracted.pages) / (time.perf_counter() - started)
    assert len(extracted.pages) == 120
    assert rate >= 20, f"{rate:.0f} pages/s"


def test_encrypted_corrupt_and_truncated_pdfs_are_skipped_with_a_reason(tmp_path):
    locked = make_pdf(tmp_path / "locked.pdf", SENTENCES[:2], password="secret")
    with pytest.raises(SkipFile, match="encrypted"):
        documents_of(locked)
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    with pytest.raises(SkipFile, match="corrupt or truncated PDF"):
        documents_of(corrupt)
    whole = make_pdf(tmp_path / "whole.pdf", SENTENCES).read_bytes()
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(whole[: len(whole) // 3])
    try:
        documents, _ = documents_of(truncated)
    except SkipFile as exc:  # pdfium repairs what it can; either way a reason or real text, never a crash
        assert str(exc)
    else:
        assert any(SENTENCES[0] in doc.text for doc in documents)


def test_ocr_switched_off_is_reported(tmp_path, monkeypatch):
    _settings(monkeypatch, ocr=False)
    _, source = documents_of(drawing_only_pdf(tmp_path / "mixed.pdf", {0: SENTENCES[0]}, 2))
    assert source.notes == ["no text layer on pages 2 (OCR is off, REPORTSEARCH_OCR=0)"]


def test_page_limit_gives_a_reason(tmp_path, monkeypatch):
    _settings(monkeypatch, max_pages=4)
    with pytest.raises(SkipFile, match="over the 4-page limit"):
        documents_of(make_pdf(tmp_path / "long.pdf", SENTENCES))


def drawing_only_pdf(path: Path, text_pages: dict[int, str], n_pages: int) -> Path:
    """Pages with text where given; the others carry only vector drawing (no text layer)."""
    pdf = fpdf.FPDF(format="A4")
    for index in range(n_pages):
        pdf.add_page()
        if index in text_pages:
            pdf.set_font("Helvetica", size=11)
            pdf.multi_cell(170, 6, text_pages[index])
        else:
            for row in range(12):
                pdf.rect(20, 30 + row * 15, 120 + row, 4, style="F")
    pdf.output(str(path))
    return path


def test_pages_without_text_layer_are_reported_not_silently_empty(tmp_path, monkeypatch):
    without_tesseract(monkeypatch)
    path = drawing_only_pdf(tmp_path / "mixed.pdf", {0: SENTENCES[0], 1: SENTENCES[1]}, 5)
    documents, source = documents_of(path)
    assert "no text layer on pages 3–5 (install tesseract-ocr to index them)" in source.notes
    assert page_of(documents, SENTENCES[1])[0] == 2
    with pytest.raises(SkipFile, match="no text layer on pages 1–2"):
        documents_of(drawing_only_pdf(tmp_path / "blank.pdf", {}, 2))


@pytest.mark.skipif(not ocr_module.tesseract_available(), reason="tesseract-ocr is not installed")
def test_scanned_page_is_read_by_ocr_and_marked(tmp_path):
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (1700, 500), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=44)
    draw.text((60, 80), "The committee approved the warrant register", fill=0, font=font)
    draw.text((60, 180), "for the housing assistance payments program.", fill=0, font=font)
    scan = tmp_path / "scan.png"
    image.save(scan)
    pdf = fpdf.FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(170, 6, SENTENCES[0])
    pdf.add_page()
    pdf.image(str(scan), x=10, y=20, w=190)
    path = tmp_path / "scanned.pdf"
    pdf.output(str(path))
    documents, source = documents_of(path)
    assert source.extracted.pages[1].ocr and not source.extracted.pages[0].ocr
    assert "OCR text on pages 2" in source.notes
    text = " ".join(documents[0].text.split()).lower()
    assert "warrant register" in text and "housing assistance" in text
    assert documents[0].page_at(text.find("warrant"))[0] == 2 or documents[0].page_at(documents[0].text.lower().find("warrant"))[0] == 2


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "OFFICIAL - running header text"
    document.sections[0].footer.paragraphs[0].text = "Footer page furniture"
    document.add_heading("Performance report", level=1)
    document.add_paragraph(SENTENCES[0])
    document.add_heading("Victims and witnesses", level=2)
    document.add_paragraph(SENTENCES[2])
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([("Measure", "Target", "Actual"), ("Answered 999 calls", "90%", "92%"), ("Burglary solved", "12%", "9%")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_heading("Finance", level=2)
    document.add_paragraph(SENTENCES[4])
    document.add_paragraph("Publish the survey results", style="List Number")
    document.add_paragraph("Review the reserve in March", style="List Number")
    document.save(str(path))
    return path


def test_docx_headings_from_styles_tables_as_rows_and_no_headers_or_footers(tmp_path):
    documents, _ = documents_of(make_docx(tmp_path / "report.docx"))
    doc = documents[0]
    assert "Answered 999 calls\t90%\t92%" in doc.text
    assert "1. Publish the survey results\n\n2. Review the reserve in March" in doc.text, "Word's list numbers are written out"
    assert "running header" not in doc.text and "Footer page furniture" not in doc.text
    paths = {tuple(part.lower() for part in s.path) for s in doc.sections}
    assert ("performance report", "victims and witnesses") in paths
    assert ("performance report", "finance") in paths
    finance = next(s for s in doc.sections if s.title.lower() == "finance")
    assert SENTENCES[4] in doc.text[finance.span[0] : finance.span[1]]
    assert doc.pages == []


def test_docx_that_is_not_a_zip_or_is_a_zip_bomb_is_skipped(tmp_path, monkeypatch):
    fake = tmp_path / "fake.docx"
    fake.write_bytes(b"This is plain text pretending to be a Word file.")
    with pytest.raises(SkipFile, match="not a zip"):
        documents_of(fake)
    _settings(monkeypatch, max_unpacked_bytes=5_000_000)
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"<w:document/>")
        archive.writestr("word/media/padding.bin", b"\0" * 20_000_000)
    assert bomb.stat().st_size < 100_000
    with pytest.raises(SkipFile, match="zip bomb"):
        documents_of(bomb)


HTML = """<!doctype html><html><head><title>Senate</title><script>var tracking = "never indexed";</script>
<style>body {color: red}</style></head><body>
<nav><a href="/">Home</a> <a href="/search">Search the site navigation</a></nav>
<h1>Congressional Record</h1><h2>Executive Session</h2>
<table><tr><th>Vote</th><th>Yeas</th><th>Nays</th></tr><tr><td><p>Cloture</p><p>on the nomination</p></td><td>81</td><td>18</td></tr></table>
<pre>The clerk read the nomination of the judge to the Fifth Circuit court.
The presiding officer said the Senate would resume debate in the afternoon.

[[Page S5552]]

Mr. ALLARD. Mr. President, I suggest the absence of a quorum in the chamber today.

[[Page S5553]]

Mr. ISAKSON. Mr. President, I rise to continue the debate on the nominations.
</pre><footer>Site footer boilerplate</footer></body></html>"""


def test_html_headings_boilerplate_dropped_and_page_markers_become_pages(tmp_path):
    path = tmp_path / "record.htm"
    path.write_text(HTML, encoding="utf-8")
    documents, _ = documents_of(path)
    doc = documents[0]
    for junk in ("never indexed", "color: red", "Search the site navigation", "Site footer", "[[Page"):
        assert junk not in doc.text
    assert [s.title for s in doc.sections[1:3]] == ["Congressional Record", "Executive Session"]
    assert "Vote\tYeas\tNays\nCloture on the nomination\t81\t18" in doc.text, "table rows as rows"
    assert page_of(documents, "The clerk read the nomination") == (1, "S5551")
    assert page_of(documents, "I suggest the absence of a quorum") == (2, "S5552")
    assert page_of(documents, "I rise to continue the debate") == (3, "S5553")


def test_plain_text_keeps_no_pages(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Title\n\n" + SENTENCES[0] + "\n", encoding="utf-8")
    documents, _ = documents_of(path)
    assert documents[0].pages == [] and documents[0].page_at(5) == (None, None)


# --- the real documents -----------------------------------------------------------------------

def _real(name: str):
    return documents_of(REAL / name)


@needs_real
def test_real_pdfs_put_verbatim_sentences_on_their_pages(monkeypatch):
    """Ground truth from pdfium's raw text of each physical page (scripts/page_accuracy.py)."""
    without_tesseract(monkeypatch)
    spec = importlib.util.spec_from_file_location("page_accuracy", Path(__file__).resolve().parents[1] / "scripts" / "page_accuracy.py")
    accuracy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(accuracy)
    import random

    found = right = paged = total = 0
    for name in ["uk-pins-kent-minerals-waste-local-plan-inspectors-report-2025-02.pdf",
                 "us-federal-register-2020-08-06-faa-proposed-ad-boeing-737-max.pdf",
                 "us-rivergrove-city-council-minutes-2018-08-13.pdf",
                 "us-la-metro-board-rules-and-procedures-2025.pdf",
                 "us-congressional-record-senate-2005-05-20-S5551-S5578.htm"]:
        row = accuracy.offline(REAL / name, 40, random.Random(7))
        total += row["sentences"]
        found += row["found"]
        paged += row["paged"]
        right += row["page_right"]
    assert paged >= 150
    assert right / paged >= 0.97, f"{right}/{paged} on the right page"
    assert found / total >= 0.85, f"{found}/{total} found verbatim"


def test_a_page_of_pages_line_at_a_page_edge_is_furniture_even_once():
    # A pack's papers carry their own heads: this one shows only on the agenda's second page.
    pages = [["AGENDA", "1. Call to order", "2. Roll call", "3. Public comment", "4. Minutes", "Adjournment"],
             ["Housing Authority, November 15, 2022 Page 2 of 2", "5. Reports", "6. Closed session",
              "7. Items for the next meeting", "Page 2 of 2 sets out the rules.", "8. Questions from members",
              "9. Adjournment", "Posted by the Clerk", "Signed"],
             ["MINUTES", "The meeting was called to order at 5:48 p.m.", "Commissioners present", "Adjourned"]]
    cleaned, _ = strip_furniture(pages)
    assert cleaned[1][0] == "5. Reports"
    assert "Page 2 of 2 sets out the rules." in cleaned[1], "inside the page it is text"
    assert cleaned[0] == pages[0] and cleaned[2] == pages[2]


@needs_real
def test_real_running_heads_removed_and_printed_numbers_read():
    documents, _ = _real("us-federal-register-2020-08-06-faa-proposed-ad-boeing-737-max.pdf")
    labels = [label for _, _, label in documents[0].pages]
    assert labels[1:4] == ["47699", "47700", "47701"], "printed Federal Register pages, not physical ones"
    assert "VerDate" not in documents[0].text and "Federal Register / Vol. 85" not in documents[0].text
    documents, _ = _real("uk-pins-kent-minerals-waste-local-plan-inspectors-report-2025-02.pdf")
    assert "Inspector’s Report February 2025" not in documents[0].text
    assert len(documents[0].pages) == 61
    assert "MM24\t79\tParagraph" in documents[0].text, "a table row opening many landscape pages is not a running head"
    assert "Ref Number\tPage Number\tPolicy/ Paragraph\tMain Modification" in documents[0].text, "a table's header row is a row"
    documents, _ = _real("uk-cabinet-office-open-data-qwms-q2-2013-14.pdf")
    assert "UNCLASSIFIED" not in documents[0].text, "the marking at the head and foot of every page"


@needs_real
def test_real_pack_split_by_its_bookmarks_and_scanned_pages_reported(monkeypatch):
    without_tesseract(monkeypatch)
    documents, source = _real("us-norwalk-housing-authority-agenda-packet-2022-11-15.pdf")
    assert [doc.pages[0][1] for doc in documents] == [1, 3, 5]
    assert documents[0].text.startswith("AGENDA"), "the title block comes first, whatever the content stream order"
    assert "MINUTES OF THE REGULAR MEETING" in documents[1].text[:200]
    assert [doc.doc_type for doc in documents[:2]] == ["agenda", "minutes"]
    assert "Page 2 of 2" not in documents[0].text, "the agenda's own running head on its second page"
    assert documents[1].date == "2022-10-18", "the minutes keep their own meeting's date"
    assert "no text layer on pages 7–15 (install tesseract-ocr to index them)" in source.notes
    with pytest.raises(SkipFile, match="no text layer on pages 1–3"):
        _real("us-palmdale-measure-av-oversight-committee-agenda-2022-11-30.pdf")


@needs_real
def test_real_same_document_in_two_formats_has_the_same_sections():
    def headings(name):
        documents, _ = _real(name)
        return {s.title.lower() for doc in documents for s in doc.sections if s.title}

    pdf, html = headings("us-rivergrove-city-council-minutes-2018-08-13.pdf"), headings("us-rivergrove-city-council-minutes-2018-08-13.html")
    for title in ("call to order and roll call", "new business", "old business", "adjournment"):
        assert title in pdf and title in html
    pdf, docx = headings("uk-cabinet-office-open-data-qwms-q2-2013-14.pdf"), headings("uk-cabinet-office-open-data-qwms-q2-2013-14.docx")
    shared = pdf & docx
    assert len(shared) >= 0.6 * len(docx), f"only {len(shared)} of {len(docx)} DOCX headings also in the PDF"


@needs_real
def test_real_docx_minutes_laid_out_in_a_table_keep_their_items():
    documents, _ = _real("uk-open-data-user-group-minutes-2014-05-13.docx")
    text = documents[0].text
    assert "\nData Requests/Benefits Cases\n" in text, "a layout table's item heading stays its own line"
    assert "1\tChair’s welcome and update\tHS" in text, "a data table's rows stay rows"


def test_pack_without_bookmarks_splits_at_the_agendas_page_ranges(tmp_path):
    agenda = ("AGENDA\n\nPolice and Crime Panel, 20 July 2017\n\n"
              "B1 Minutes of the meeting held on 28 March 2017 (Pages 7 - 8)\n"
              "B2 Budget monitoring report (Pages 9 - 10)")
    bodies = [agenda, "Apologies and substitutes were noted by the clerk.", "Minutes of the meeting\n\n" + SENTENCES[0],
              SENTENCES[1], "Budget monitoring report\n\n" + SENTENCES[2], SENTENCES[3]]
    documents, _ = documents_of(make_pdf(tmp_path / "pack.pdf", bodies))  # printed numbers start at 5
    assert [doc.pages[0][1:] for doc in documents] == [(1, "5"), (3, "7"), (5, "9")]
    assert page_of(documents, SENTENCES[3]) == (6, "10")


def test_text_without_spaces_is_detected():
    from indexer.formats.pdf import missing_spaces

    assert missing_spaces(["January10,2023CityCouncilRegularMeetingAgenda"] * 8 + ["PUBLICMEETINGVIEWINGOPTIONS"] * 4)
    assert not missing_spaces([SENTENCES[0]] * 8)


def test_index_run_keeps_good_files_skips_bad_ones_with_reasons_and_cites_pages(tmp_path, monkeypatch):
    from indexer.pipeline import index_paths
    from searchapi.retrieval.engine import SearchEngine

    without_tesseract(monkeypatch)
    folder = tmp_path / "reports"
    folder.mkdir()
    filler = ("Page {n} also records routine business of the panel, item {i}, which members noted without "
              "comment and agreed to revisit at a later meeting when officers have more information. ")
    make_pdf(folder / "panel.pdf", [s + " " + "".join(filler.format(n=n, i=i) for i in range(8))
                                    for n, s in enumerate(SENTENCES, start=1)])
    make_docx(folder / "report.docx")
    drawing_only_pdf(folder / "mixed.pdf", {0: SENTENCES[5]}, 3)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\n%%EOF")
    (folder / "fake.docx").write_bytes(b"not a zip at all")
    report = index_paths([folder], tmp_path / "index", progress=False)
    reasons = {Path(p).name: why for p, why in report.skipped}
    assert set(reasons) == {"broken.pdf", "fake.docx"}
    assert "PDF" in reasons["broken.pdf"] and "not a zip" in reasons["fake.docx"]
    assert sorted(Path(p).name for p in report.indexed) == ["mixed.pdf", "panel.pdf", "report.docx"]
    assert [(Path(p).name, note) for p, note in report.notes] == [
        ("mixed.pdf", "no text layer on pages 2–3 (install tesseract-ocr to index them)")]
    again = index_paths([folder], tmp_path / "index", progress=False)
    assert again.indexed == [] and len(again.unchanged) == 3 and again.notes == [], "unchanged files are not read again"
    engine = SearchEngine(tmp_path / "index")
    hit = engine.search(SENTENCES[3], k=3).results[0]
    assert Path(hit.document.source_path).name == "panel.pdf"
    # The passage holding page 4's sentence starts on page 4, or on page 3 when it begins with the
    # end of that page; its label is the printed number of the same page.
    assert SENTENCES[3] in hit.text and hit.page in (3, 4) and hit.page_label == str(FIRST_PRINTED + hit.page - 1)
    assert hit.page == 4 or not hit.text.startswith(SENTENCES[3])
    hit = engine.search(SENTENCES[4], k=3).results[0]
    assert Path(hit.document.source_path).name in {"panel.pdf", "report.docx"}


@pytest.mark.slow
def test_thousand_page_pdf_in_bounded_memory(tmp_path):
    import resource

    from indexer.formats.pdf import extract_pdf

    path = make_pdf(tmp_path / "thousand.pdf", [" ".join(SENTENCES)] * 1000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    extracted = extract_pdf(path)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert len(extracted.pages) == 1000 and extracted.pages[999].label == str(FIRST_PRINTED + 999)
    assert grown_mb < 300, f"peak memory grew by {grown_mb:.0f} MB"


def test_ocr_lines_reflowed_into_paragraphs_lists_kept():
    from indexer.formats.layout import reflow_plain

    lines = ["Verbal comments must be limited to three minutes. Public comments",
             "submitted will become part of the official meeting record.", "",
             "1. Call to order", "2. Roll call"]
    assert reflow_plain(lines) == [
        "Verbal comments must be limited to three minutes. Public comments submitted will become part of "
        "the official meeting record.", "", "1. Call to order", "2. Roll call"]


def test_blank_separator_page_is_not_reported(tmp_path, monkeypatch):
    without_tesseract(monkeypatch)
    pdf = fpdf.FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(170, 6, SENTENCES[0])
    pdf.add_page()  # draws nothing
    pdf.add_page()
    pdf.rect(20, 30, 100, 5, style="F")  # draws something without text: a scan or an outline drawing
    pdf.output(str(tmp_path / "separator.pdf"))
    _, source = documents_of(tmp_path / "separator.pdf")
    assert source.notes == ["no text layer on pages 3 (install tesseract-ocr to index them)"]


@needs_real
def test_real_hard_wrapped_html_is_read_as_paragraphs_with_page_locators():
    documents, _ = _real("us-congressional-record-senate-2005-05-20-S5551-S5578.htm")
    doc = documents[0]
    sentence = "Mr. ISAKSON. Mr. President, I ask unanimous consent that the order for the quorum call be rescinded."
    assert sentence in doc.text
    assert doc.page_at(doc.text.find(sentence)) == (2, "S5552")
    assert [label for _, _, label in doc.pages][:3] == ["S5551", "S5552", "S5553"] and len(doc.pages) == 28
    assert "Keyboard" not in doc.text and "[[Page" not in doc.text


def test_table_cells_on_one_line_are_separated_by_tabs(tmp_path):
    pdf = fpdf.FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(170, 6, "1. The table below lists the measures reported to the panel this quarter.")
    pdf.ln(4)
    with pdf.table(col_widths=(30, 60, 80)) as table:
        for cells in [("Ref", "Measure", "Comment"), ("M2", "Burglary solved", "Below target and under review")]:
            row = table.row()
            for text in cells:
                row.cell(text)
    pdf.output(str(tmp_path / "table.pdf"))
    documents, _ = documents_of(tmp_path / "table.pdf")
    text = documents[0].text
    assert "Ref\tMeasure\tComment" in text and "M2\tBurglary solved\tBelow target and under review" in text
    assert text.startswith("1. The table below"), "a list number is not a table cell"
