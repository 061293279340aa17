"""Verbatim body sentences of real PDF/DOCX/HTML reports: is the page right, and does search find them?

Ground truth comes from outside the product's extractor: for a PDF, the raw text pdfium gives for
each physical page; for HTML with '[[Page X]]' locators, the text between two locators; DOCX and
other HTML have no pages and count for retrieval only. Sentences are 8-40 words, occur on one
page only, and do not run across a line-end hyphen (whose spelling the source does not settle).

    python scripts/page_accuracy.py ../shared/corpora/real-formats --offline      # pages only, no index
    python scripts/page_accuracy.py ../shared/corpora/real-formats --index-dir /tmp/rf-index -n 20
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

_SENTENCE = re.compile(r"(?<=[a-z0-9)][.!?])\s+(?=[A-Z])")
_MARKER = re.compile(r"^\s*\[\[Page ([^\]\n]{1,20})\]\]\s*$", re.MULTILINE)


def squash(text: str) -> str:
    return " ".join(text.split())


def raw_pages(path: Path) -> list[tuple[int | None, str]]:
    """(physical page or None, raw text) straight from the source, not through the product."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(str(path))
        pages = [(i + 1, pdf[i].get_textpage().get_text_range()) for i in range(len(pdf))]
        pdf.close()
        return pages
    if suffix in {".html", ".htm"}:
        from selectolax.lexbor import LexborHTMLParser

        tree = LexborHTMLParser(path.read_bytes().decode("utf-8", "replace"))
        for node in tree.css("script, style, nav, header, footer"):
            node.decompose()
        text = (tree.body or tree.root).text(separator="\n")
        parts = _MARKER.split(text)
        if len(parts) == 1:
            return [(None, text)]
        return [(i // 2 + 1, part) for i, part in enumerate(parts) if i % 2 == 0]
    if suffix == ".docx":
        import docx

        document = docx.Document(str(path))
        return [(None, "\n".join(p.text for p in document.paragraphs))]
    return []


def sentences_of(text: str) -> list[str]:
    lines = [line.strip() for line in text.replace("\r", "").split("\n")]
    out = []
    # Within a paragraph block of lines; a line ending in a hyphen makes its sentence unsafe.
    joined = " ".join(line if line else "\n" for line in lines)
    for block in joined.split("\n"):
        for sentence in _SENTENCE.split(" ".join(block.split())):
            words = sentence.split()
            if 8 <= len(words) <= 40 and not re.search(r"[A-Za-z]-\s", sentence) and "\ufffe" not in sentence:
                out.append(sentence)
    return out


def _without_repeated_lines(pages: list[tuple[int | None, str]]) -> list[tuple[int | None, str]]:
    """Drop lines that recur (numbers aside) on a third of the pages or more: running heads and
    footers are not body sentences, and gluing them to one would make a sentence nobody reads."""
    if len(pages) < 3:
        return pages
    blur = lambda line: re.sub(r"\d+", "#", " ".join(line.split()))
    counts: dict[str, int] = {}
    for _, text in pages:
        for shape in {blur(line) for line in text.replace("\r", "").split("\n") if line.strip()}:
            counts[shape] = counts.get(shape, 0) + 1
    limit = max(2, len(pages) // 3)
    return [(n, "\n".join("" if counts.get(blur(line), 0) >= limit else line for line in text.replace("\r", "").split("\n")))
            for n, text in pages]


def truth(path: Path) -> list[tuple[str, int | None]]:
    """(sentence, page it is on) for sentences that occur on exactly one page."""
    pages = _without_repeated_lines(raw_pages(path))
    seen: dict[str, set] = {}
    for number, text in pages:
        for sentence in sentences_of(text):
            seen.setdefault(sentence, set()).add(number)
    return [(s, next(iter(p))) for s, p in seen.items() if len(p) == 1]


def locate(documents, sentence: str):
    """(document, offset) where the sentence occurs in a paper's cleaned text, whitespace aside."""
    pattern = re.compile(r"\s+".join(re.escape(w) for w in sentence.split()))
    for doc in documents:
        m = pattern.search(doc.text)
        if m:
            return doc, m.start()
    return None, None


def offline(path: Path, sample: int, rng: random.Random) -> dict:
    from indexer.documents import build_documents
    from indexer.load import SkipFile, read_source

    try:
        source = read_source(path, 10**9)
        documents = build_documents(path.name, source.text, source.extract())
    except SkipFile as exc:
        return {"file": path.name, "skipped": str(exc)}
    pairs = truth(path)
    pairs = rng.sample(pairs, min(sample, len(pairs))) if sample else pairs
    found = right = paged = 0
    misses = []
    for sentence, page in pairs:
        doc, offset = locate(documents, sentence)
        if doc is None:
            misses.append(("not found", sentence))
            continue
        found += 1
        if page is not None:
            paged += 1
            if doc.page_at(offset)[0] == page:
                right += 1
            else:
                misses.append((f"page {doc.page_at(offset)[0]} != {page}", sentence))
    return {"file": path.name, "sentences": len(pairs), "found": found, "paged": paged, "page_right": right, "misses": misses}


def online(path: Path, engine, sample: int, rng: random.Random) -> dict:
    """Top-3 retrieval by the product's engine. A twin (the same report in another format, same
    file stem) counts as found: near-duplicate passages are collapsed to one. The page is right
    when it is the sentence's page, or the page the returned passage starts on when the passage
    begins on an earlier page and runs onto the sentence's page (the contract's 'page where the
    passage starts'); `strict` counts only the first."""
    pairs = truth(path)
    pairs = rng.sample(pairs, min(sample, len(pairs))) if sample else pairs
    top3 = paged = right = strict = 0
    for sentence, page in pairs:
        results = engine.search(sentence, k=3).results
        mine = [r for r in results if Path(r.document.source_path).stem == path.stem]
        if not mine:
            paged += page is not None
            continue
        top3 += 1
        if page is None:
            continue
        paged += 1
        hit = next((r for r in mine if Path(r.document.source_path).name == path.name), None)
        if hit is None:
            continue
        doc = engine.document(hit.document.id)
        last_page = doc.page_at(max(hit.span[0], hit.span[1] - 1))[0]
        strict += int(hit.page == page)
        right += int(hit.page == page or (hit.page is not None and hit.page < page <= (last_page or 0)))
    return {"file": path.name, "sentences": len(pairs), "top3": top3, "paged": paged, "page_right": right, "strict": strict}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument("--offline", action="store_true", help="check pages through build_documents only")
    parser.add_argument("-n", type=int, default=20, help="sentences per file (0: all)")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    files = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in {".pdf", ".docx", ".html", ".htm"})
    engine = None
    if not args.offline:
        from searchapi.retrieval.engine import SearchEngine

        engine = SearchEngine(args.index_dir)
    totals = {"sentences": 0, "hit": 0, "paged": 0, "page_right": 0, "strict": 0}
    stems = [p.stem for p in files]
    single = {"sentences": 0, "hit": 0, "paged": 0, "page_right": 0, "strict": 0}  # files without a twin
    started = time.perf_counter()
    for path in files:
        row = offline(path, args.n, rng) if engine is None else online(path, engine, args.n, rng)
        if "skipped" in row:
            print(f"{row['file'][:60]:60}  skipped: {row['skipped']}")
            continue
        hit = row["found"] if engine is None else row["top3"]
        totals["sentences"] += row["sentences"]
        totals["hit"] += hit
        totals["paged"] += row["paged"]
        totals["page_right"] += row["page_right"]
        totals["strict"] += row.get("strict", 0)
        if stems.count(path.stem) == 1:
            for key, value in (("sentences", row["sentences"]), ("hit", hit), ("paged", row["paged"]),
                               ("page_right", row["page_right"]), ("strict", row.get("strict", 0))):
                single[key] += value
        print(f"{row['file'][:60]:60}  {row['sentences']:4d} sentences  {'found' if engine is None else 'top-3'} {hit:4d}  "
              f"page right {row['page_right']}/{row['paged']}" + (f" (sentence's own page {row['strict']})" if engine else ""))
        for why, sentence in row.get("misses", [])[:3]:
            print(f"      {why}: {sentence[:100]}")
    t = totals
    label = "found in text" if engine is None else "document in top 3"
    print(f"\nALL: {t['sentences']} sentences; {label}: {t['hit'] / max(1, t['sentences']):.1%}; "
          f"page right: {t['page_right'] / max(1, t['paged']):.1%} of {t['paged']} paged"
          + (f" (the sentence's own page: {t['strict'] / max(1, t['paged']):.1%})" if engine else "")
          + f"; {time.perf_counter() - started:.1f}s")
    u = single
    print(f"Files without a twin in another format: {u['sentences']} sentences; {label}: {u['hit'] / max(1, u['sentences']):.1%}; "
          f"page right: {u['page_right'] / max(1, u['paged']):.1%} of {u['paged']} paged"
          + (f" (the sentence's own page: {u['strict'] / max(1, u['paged']):.1%})" if engine else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
