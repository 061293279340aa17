"""Lines of a PDF page regrouped into paragraphs from their geometry, as a reader sees them.

pdfium gives text in visual lines. A paragraph break is a larger drop between baselines than the
page's usual line spacing, a change of font size, or a jump back up the page (a new column or
block); lines wrapped inside a paragraph are joined into one line, like the paragraphs of a text
file. Lines that end short of the paragraph's right edge (table cells, list items, short title
lines) stay lines.
"""

from __future__ import annotations

import ctypes
import re
import statistics
from dataclasses import dataclass

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LIST_START = re.compile(r"^(?:[•▪◦●■\-–*]\s|\(?[0-9ivxlcA-Za-z]{1,4}[.)]\s)")
_HYPHENS = "-\ufffe\x02\xad"
_TERMINAL = tuple(".!?:;)]\"'”’")


@dataclass
class Line:
    text: str
    left: float
    right: float
    baseline: float
    size: float
    bold: bool = False
    row: bool = False  # a table row rebuilt from its cells: never joined to another line


def _line_spans(text: str, textpage) -> list[tuple[int, int]]:
    """[start, end) of each visual line. pdfium merges a line that ends in a hyphen with whatever
    it draws next (marking the hyphen U+FFFE), even a footer: split there when the next character
    sits on another baseline."""
    import pypdfium2.raw as pdfium_c

    x, y = ctypes.c_double(), ctypes.c_double()

    def baseline(i: int) -> float:
        pdfium_c.FPDFText_GetCharOrigin(textpage.raw, i, x, y)
        return y.value

    spans: list[tuple[int, int]] = []
    pos = 0
    for match in list(_LINE_BREAK.finditer(text)) + [None]:
        end = match.start() if match else len(text)
        cut = pos
        for i in range(pos, end - 1):
            if text[i] in "\ufffe\x02" and abs(baseline(i) - baseline(i + 1)) > 2.0:
                spans.append((cut, i + 1))
                cut = i + 1
        spans.append((cut, end))
        pos = match.end() if match else end
    return spans


_MARKER = re.compile(r"^[•▪◦●■\-–*]$|^\(?(?:\d{1,3}(?:\.\d{1,3})*|[A-Za-z]|[ivxlcIVXLC]{1,5})[.)]?$")
CELL_GAP_EMS = 2.0  # a space wider than this many font sizes separates table cells, not words


def _tab_wide_gaps(textpage, text: str, first: int, last: int, size: float) -> str:
    """The line's text with each space that spans a wide horizontal gap written as a tab: pdfium
    joins the cells of a table row that sit on one baseline into one line of words."""
    chars = list(text[first : last + 1])
    for k, ch in enumerate(chars):
        if ch == " " and 0 < k < len(chars) - 1 and chars[k - 1] != " " and chars[k + 1] != " ":
            if _MARKER.match("".join(chars[:k])):
                continue  # '1.', 'a)', '6.230' set off from their text by a tab stop: a numbered line
            before = textpage.get_charbox(first + k - 1)[2]
            after = textpage.get_charbox(first + k + 1)[0]
            if after - before > CELL_GAP_EMS * size:
                chars[k] = "\t"
    return "".join(chars)


def page_lines(textpage) -> list[Line] | None:
    """The page's visual lines with their position, or None when the geometry cannot be read."""
    import pypdfium2.raw as pdfium_c

    text = textpage.get_text_range()
    if len(text) != textpage.count_chars():
        return None  # characters outside the BMP: string and character indexes differ
    x, y = ctypes.c_double(), ctypes.c_double()
    lines: list[Line] = []
    for pos, end in _line_spans(text, textpage):
        raw = text[pos:end]
        stripped = raw.strip()
        if not stripped:
            continue
        first = pos + (len(raw) - len(raw.lstrip()))
        last = pos + len(raw.rstrip()) - 1
        pdfium_c.FPDFText_GetCharOrigin(textpage.raw, first, x, y)
        # The loose box spans the font's ascent to descent: its size as drawn, whatever the
        # text matrix (FPDFText_GetFontSize says 1.0 for fonts scaled by the matrix). Several
        # characters, not the first alone: it may be a superscript note number or a generated
        # space without a box.
        probes = sorted({first, first + (last - first) // 2, last})
        heights = [box[3] - box[1] for box in (textpage.get_charbox(i, loose=True) for i in probes)]
        size = round(max(heights), 1)
        if size < 2.0:
            size = lines[-1].size if lines else 10.0
        weights = [pdfium_c.FPDFText_GetFontWeight(textpage.raw, i) for i in probes if not text[i].isspace()]
        bold = bool(weights) and min(weights) >= 600
        left = textpage.get_charbox(first)[0]
        right = textpage.get_charbox(last)[2]
        lines.append(Line(_tab_wide_gaps(textpage, text, first, last, size), left, right, y.value, size, bold))
    return lines


def _usual_spacing(lines: list[Line]) -> float | None:
    """Baseline drop between consecutive lines of running text, as a multiple of the font size;
    measured on long lines of the same size (body text), not on table cells."""
    width = max(l.right for l in lines) - min(l.left for l in lines)
    ratios = [
        (a.baseline - b.baseline) / a.size
        for a, b in zip(lines, lines[1:])
        if a.size == b.size and a.right - a.left > 0.5 * width and 0.8 * a.size <= a.baseline - b.baseline <= 2.5 * a.size
    ]
    return statistics.median(ratios) if ratios else None


def _breaks(prev: Line, cur: Line, spacing: float | None) -> bool:
    size = max(prev.size, cur.size)
    drop = prev.baseline - cur.baseline
    if abs(prev.size - cur.size) > 0.15 * size:
        return True  # a heading set in another size
    if drop < 0.5 * size:
        return True  # back up the page (a new column or block) or on the same line (a table row)
    return drop > (spacing * 1.3 if spacing else 1.6) * size


def _join(prev: str, cur: str) -> str:
    if prev[-1:] in _HYPHENS and prev[-2:-1].isalpha():
        # 'manage-' + 'ment': the typesetter's hyphen; 'Apr-' + 'Jun': a real one, kept.
        return prev[:-1] + cur if cur[:1].islower() else prev[:-1] + "-" + cur
    return prev + " " + cur


def _overlap(a: list[Line], b: list[Line]) -> bool:
    left_a, right_a = min(l.left for l in a), max(l.right for l in a)
    left_b, right_b = min(l.left for l in b), max(l.right for l in b)
    shared = min(right_a, right_b) - max(left_a, left_b)
    return shared > 0.5 * min(right_a - left_a, right_b - left_b)


def reading_order(lines: list[Line]) -> list[Line]:
    """pdfium keeps the order of the page's content stream, which sometimes draws a lower block
    first (an agenda's notes before its title block, footnotes before the column above them).
    Blocks (runs of lines going down the page without a wide gap) are put back top to bottom
    within the same column; blocks side by side (columns) keep their order."""
    blocks: list[list[Line]] = []
    for line in lines:
        drop = blocks[-1][-1].baseline - line.baseline if blocks else 0.0
        if blocks and -0.5 * line.size <= drop <= 3 * line.size:
            blocks[-1].append(line)
        else:
            blocks.append([line])
    ordered: list[list[Line]] = []
    for block in blocks:
        bottom = block[-1].baseline
        at = next((i for i, placed in enumerate(ordered) if bottom > placed[0].baseline and _overlap(block, placed)), None)
        ordered.insert(len(ordered) if at is None else at, block)
    return [line for block in ordered for line in block]


ROW_HEIGHT_LINES = 8  # a cell starts at most this many lines above where the cell before it ended


def _next_cell(prev: Line, cur: Line) -> bool:
    """pdfium gives a table cell by cell: after one cell's last line the next cell starts back up,
    to the right (at the row's top, checked by the caller). A jump up by a whole column's height
    is a new column instead."""
    rise = cur.baseline - prev.baseline
    return 0.5 * cur.size < rise < ROW_HEIGHT_LINES * cur.size and cur.left > prev.left + cur.size


def _same_cell(prev: Line, cur: Line) -> bool:
    drop = prev.baseline - cur.baseline
    return 0.5 * cur.size < drop < 2 * cur.size and abs(cur.left - prev.left) < 2 * cur.size


def table_rows(lines: list[Line]) -> list[Line]:
    """Rows of tables rebuilt from pdfium's cell-by-cell order: cells joined by tabs, each cell's
    lines by spaces. Lines that are no table's cells pass through unchanged."""
    out: list[Line] = []
    i = 0
    while i < len(lines):
        cells = [[lines[i]]]
        j = i + 1
        while j < len(lines):
            prev, cur = cells[-1][-1], lines[j]
            if _same_cell(prev, cur):
                cells[-1].append(cur)
            elif (_next_cell(prev, cur) and abs(cur.baseline - cells[0][0].baseline) < 0.5 * cur.size
                  and not (cur.text[:1].islower() and not prev.text.endswith(_TERMINAL))):  # a sentence runs on: columns
                cells.append([cur])
            else:
                break
            j += 1
        if len(cells) > 1:
            texts = [cell[0].text for cell in cells]
            for k, cell in enumerate(cells):
                for line in cell[1:]:
                    texts[k] = _join(texts[k], line.text)
            first = cells[0][0]
            out.append(Line("\t".join(texts), first.left, max(l.right for c in cells for l in c), first.baseline,
                            max(l.size for c in cells for l in c), all(l.bold for c in cells for l in c), row=True))
            i = j
        else:
            out.append(lines[i])
            i += 1
    return out


def paragraphs(lines: list[Line], headings: list[tuple[str, int]] | None = None,
               baselines: list[float | None] | None = None) -> list[str]:
    """Text lines with paragraphs separated by blank lines and wrapped lines joined. Paragraphs
    set in bold on a line of their own are appended to `headings` (level 1 when larger than the
    page's body text), as Word's heading styles would be; `baselines` gets the height on the page
    of each line returned (None for the blank ones)."""
    lines = reading_order(table_rows(lines))
    spacing = _usual_spacing(lines)
    body_size = statistics.median(l.size for l in lines)
    groups: list[list[Line]] = []
    for line in lines:
        if groups and not _breaks(groups[-1][-1], line, spacing):
            groups[-1].append(line)
        else:
            groups.append([line])
    out: list[str] = []
    for group in groups:
        right = max(l.right for l in group)
        texts = [group[0].text]
        starts = [group[0].baseline]
        for prev, cur in zip(group, group[1:]):
            first_word = cur.text.split(" ", 1)[0]
            room = right - prev.right  # space left on the previous line
            wrapped = room < (len(first_word) + 2) * 0.6 * cur.size
            # A continuation starts under the line before it; under a paragraph's first line it may
            # sit a little left (an indented first line) or right (a hanging indent). A line far
            # to the left is the next table row's first cell.
            shift = cur.left - prev.left
            aligned = abs(shift) < (6 if prev is group[0] else 2) * cur.size
            if (wrapped and aligned and not _LIST_START.match(cur.text) and not (prev.row or cur.row)
                    and "\t" not in prev.text and "\t" not in cur.text):
                texts[-1] = _join(texts[-1], cur.text)
            else:
                texts.append(cur.text)
                starts.append(cur.baseline)
        if headings is not None and len(texts) == 1 and _bold_heading(group, texts[0]):
            headings.append((texts[0], 1 if group[0].size >= 1.2 * body_size else 2))
        if out:
            out.append("")
            if baselines is not None:
                baselines.append(None)
        out.extend(texts)
        if baselines is not None:
            baselines.extend(starts)
    return out


def _bold_heading(group: list[Line], text: str) -> bool:
    letters = sum(c.isalpha() for c in text)
    return (
        all(line.bold for line in group)
        and letters >= 3
        and len(text.split()) <= 15
        and not text.endswith((".", ",", ";"))
    )


def reflow_plain(lines: list[str]) -> list[str]:
    """Paragraphs of text without geometry (OCR output, hard-wrapped preformatted text): within a
    run of non-blank lines, a line is joined to the next when the next one's first word would not
    have fitted after it (it was wrapped). Lengths count the indentation, which the text keeps
    out of the result."""
    out: list[str] = []
    block: list[str] = []

    def flush():
        if not block:
            return
        lengths = sorted(len(line) for line in block)
        width = lengths[int(0.8 * (len(lengths) - 1))]  # the wrap width; a few lines run longer
        texts = [block[0].strip()]
        for prev, cur in zip(block, block[1:]):
            first_word = cur.split()[0]
            if len(prev) + 1 + len(first_word) > width and not _LIST_START.match(cur.strip()):
                texts[-1] = _join(texts[-1], cur.strip())
            else:
                texts.append(cur.strip())
        out.extend(texts)
        block.clear()

    for line in lines:
        line = line.rstrip()
        if line.strip():
            block.append(line)
        else:
            flush()
            out.append("")
    flush()
    return out
