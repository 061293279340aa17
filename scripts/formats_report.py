"""Per-file figures for PDF/DOCX/HTML ingestion: pages, characters, papers, sections, pages that
needed OCR, seconds; optionally a generated agenda pack indexed end to end.

    python scripts/formats_report.py ../shared/corpora/real-formats
    python scripts/formats_report.py ../shared/corpora/real-formats --pack 300   # + a 300-page pack, indexed
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

SUFFIXES = {".pdf", ".docx", ".html", ".htm"}


def file_row(path: Path) -> dict:
    from indexer.documents import build_documents
    from indexer.load import SkipFile, read_source

    started = time.perf_counter()
    try:
        source = read_source(path, 10**9)
        extracted = source.extract()
        documents = build_documents(path.name, source.text, extracted)
    except SkipFile as exc:
        return {"file": path.name, "skipped": str(exc), "seconds": time.perf_counter() - started}
    seconds = time.perf_counter() - started
    numbered = [p for p in extracted.pages if p.number is not None]
    no_layer = sum(int(m.group(2) or m.group(1)) - int(m.group(1)) + 1
                   for note in source.notes if "no text layer" in note or "OCR text" in note
                   for m in re.finditer(r"(\d+)(?:–(\d+))?", note.split(" (")[0]))
    return {
        "file": path.name,
        "pages": len(numbered) if numbered else None,
        "labels": sum(1 for p in numbered if p.label),
        "chars": sum(len(d.text) for d in documents),
        "papers": len(documents),
        "sections": sum(len(d.sections) - 1 for d in documents),
        "ocr_pages": no_layer,
        "ocr_done": sum(1 for p in extracted.pages if p.ocr),
        "seconds": seconds,
        "notes": source.notes,
    }


def print_table(rows: list[dict]) -> None:
    print("| file | pages | printed labels | characters | papers | sections | pages needing OCR (done) | time s | pages/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "skipped" in r:
            print(f"| {r['file']} | – | – | – | – | – | skipped: {r['skipped']} | {r['seconds']:.2f} | |")
            continue
        pages = r["pages"] if r["pages"] is not None else "–"
        rate = f"{r['pages'] / r['seconds']:.0f}" if r["pages"] and r["ocr_pages"] == 0 else ""
        ocr = f"{r['ocr_pages']} ({r['ocr_done']})" if r["ocr_pages"] else "0"
        print(f"| {r['file']} | {pages} | {r['labels'] if r['pages'] else '–'} | {r['chars']:,} | {r['papers']} | "
              f"{r['sections']} | {ocr} | {r['seconds']:.2f} | {rate} |")
    text_pdfs = [r for r in rows if "skipped" not in r and r["pages"] and r["ocr_pages"] == 0 and r["file"].endswith(".pdf")]
    pages, seconds = sum(r["pages"] for r in text_pdfs), sum(r["seconds"] for r in text_pdfs)
    if pages:
        print(f"\nText PDFs: {pages} pages in {seconds:.2f}s = {pages / seconds:.0f} pages/s (extraction, cleaning, papers, sections)")


def generated_pack(path: Path, n_pages: int) -> Path:
    """An agenda pack of papers of 10 pages each, bookmarked, with running heads and page numbers."""
    import random

    import fpdf

    rng = random.Random(300)
    words = ("panel commissioner budget precept policing victims officers report partnership strategy "
             "response community funding custody estate performance delivery plan board review").split()
    pdf = fpdf.FPDF(format="A4")
    pdf.set_auto_page_break(False)
    for index in range(n_pages):
        pdf.add_page()
        if index % 10 == 0:
            pdf.start_section(f"Paper {index // 10 + 1}: {rng.choice(words).title()} {rng.choice(words)} report")
        pdf.set_font("Helvetica", size=9)
        pdf.set_xy(20, 10)
        pdf.cell(0, 5, "Police and Crime Panel - 20 July 2017")
        pdf.set_font("Helvetica", size=11)
        pdf.set_xy(20, 25)
        body = []
        for _ in range(9):
            sentence = " ".join(rng.choice(words) for _ in range(rng.randint(12, 24)))
            body.append(f"{sentence.capitalize()} on page {index + 1}.")
        pdf.multi_cell(170, 6, f"{index % 10 + 1}. " + " ".join(body[:4]) + "\n\n" + " ".join(body[4:]))
        pdf.set_xy(20, 282)
        pdf.cell(0, 5, f"Page {index + 1}")
    pdf.output(str(path))
    return path


def index_pack(n_pages: int) -> None:
    from indexer.pipeline import index_paths

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pack"
        folder.mkdir()
        pack = generated_pack(folder / "generated-pack.pdf", n_pages)
        started = time.perf_counter()
        report = index_paths([folder], Path(tmp) / "index", progress=False)
        seconds = time.perf_counter() - started
        print(f"\nGenerated {n_pages}-page pack ({pack.stat().st_size / 1e6:.1f} MB): indexed end to end in {seconds:.1f}s "
              f"(embedding {report.embed_seconds:.1f}s); {report.totals.get('documents')} papers, "
              f"{report.totals.get('sections')} sections, {report.totals.get('chunks')} chunks; skipped: {report.skipped or 'none'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--pack", type=int, default=0, help="also index a generated pack of this many pages")
    args = parser.parse_args()
    import docx  # noqa: F401  (libraries loaded before timing, as in a long indexing run)
    import pypdfium2  # noqa: F401
    import selectolax.lexbor  # noqa: F401

    import indexer.formats.docx  # noqa: F401
    import indexer.formats.html  # noqa: F401
    import indexer.formats.pdf  # noqa: F401

    files = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in SUFFIXES)
    first_pdf = next((p for p in files if p.suffix.lower() == ".pdf"), None)
    if first_pdf is not None:
        from indexer.formats.pdf import extract_pdf

        extract_pdf(first_pdf)  # pdfium's one-off start-up, paid once per indexing run
    rows = [file_row(p) for p in files]
    print_table(rows)
    for r in rows:
        for note in r.get("notes", []):
            print(f"  note: {r['file']}: {note}")
    if args.pack:
        index_pack(args.pack)
    return 0


if __name__ == "__main__":
    sys.exit(main())
