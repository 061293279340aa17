"""DOCX with python-docx: body paragraphs and tables in order, headings from styles and outline
levels, list numbering written out, headers and footers left behind (they are page furniture)."""

from __future__ import annotations

import io
import re
import zipfile

from ..load import SkipFile
from ..settings import get_settings
from . import Extracted, Page

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


def _check_archive(data: bytes) -> None:
    """Refuse what is not a zip, or a zip that would unpack to far more than a document does."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise SkipFile("not a valid DOCX (not a zip archive)")
    limit = get_settings().max_unpacked_bytes
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        if "word/document.xml" not in names:
            raise SkipFile("not a valid DOCX (no word/document.xml)")
        unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > limit:
            raise SkipFile(f"DOCX unpacks to {unpacked / 1e6:.0f} MB, over the {limit / 1e6:.0f} MB limit (zip bomb?)")


def _heading_level(paragraph) -> int | None:
    style = paragraph.style.name if paragraph.style is not None else ""
    if style.lower() == "title":
        return 1
    m = _HEADING_STYLE.match(style or "")
    if m:
        return int(m.group(1))
    outline = paragraph._p.find(".//{*}outlineLvl")
    if outline is not None:
        value = outline.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}val")
        if value is not None and value.isdigit() and int(value) < 9:
            return int(value) + 1
    return None


class _Numbering:
    """Word's automatic list numbers ('1.', '2.1'), which are not part of the paragraph text."""

    def __init__(self, document):
        self.formats: dict[tuple[str, int], str] = {}
        self.counters: dict[str, list[int]] = {}
        try:
            root = document.part.numbering_part.element
        except (AttributeError, KeyError, NotImplementedError):
            return
        ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
        abstract = {}
        for node in root.findall(f"{ns}abstractNum"):
            levels = {}
            for lvl in node.findall(f"{ns}lvl"):
                fmt = lvl.find(f"{ns}numFmt")
                levels[int(lvl.get(f"{ns}ilvl", "0"))] = fmt.get(f"{ns}val") if fmt is not None else "decimal"
            abstract[node.get(f"{ns}abstractNumId")] = levels
        for num in root.findall(f"{ns}num"):
            ref = num.find(f"{ns}abstractNumId")
            levels = abstract.get(ref.get(f"{ns}val") if ref is not None else None, {})
            for ilvl, fmt in levels.items():
                self.formats[(num.get(f"{ns}numId"), ilvl)] = fmt

    def prefix(self, paragraph) -> str:
        ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
        num_pr = paragraph._p.find(f"{ns}pPr/{ns}numPr")
        style = paragraph.style
        while num_pr is None and style is not None:  # 'List Number', numbered heading styles
            num_pr = style.element.find(f"{ns}pPr/{ns}numPr")
            style = style.base_style
        if num_pr is None:
            return ""
        num_id_node, ilvl_node = num_pr.find(f"{ns}numId"), num_pr.find(f"{ns}ilvl")
        num_id = num_id_node.get(f"{ns}val") if num_id_node is not None else None
        ilvl = int(ilvl_node.get(f"{ns}val", "0")) if ilvl_node is not None else 0
        if num_id in (None, "0"):
            return ""
        fmt = self.formats.get((num_id, ilvl), "decimal")
        if fmt == "bullet":
            return "• "
        if fmt != "decimal":
            return ""  # letters and roman numerals: lists, not section numbers
        counters = self.counters.setdefault(num_id, [0] * 9)
        counters[ilvl] += 1
        for deeper in range(ilvl + 1, 9):
            counters[deeper] = 0
        parts = [str(max(1, n)) for n in counters[: ilvl + 1]]
        return ".".join(parts) + (". " if ilvl == 0 else " ")


LAYOUT_CELL_CHARS = 300


def _cell_paragraphs(cell) -> list[str]:
    return [" ".join(p.text.split()) for p in cell.paragraphs if p.text.strip()]


def _table_blocks(table) -> list[str]:
    """A data table's rows as tab-separated lines; a row whose cells hold whole paragraphs (a
    table used for layout, such as minutes set out item by item) as those paragraphs."""
    blocks: list[str] = []
    rows: list[str] = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is listed once per grid column it spans
                continue
            seen.add(id(cell._tc))
            cells.append(_cell_paragraphs(cell))
        if not any(cells):
            continue
        if any(len(paras) > 1 or sum(map(len, paras)) > LAYOUT_CELL_CHARS for paras in cells):
            if rows:
                blocks.append("\n".join(rows))
                rows = []
            blocks.extend(p for paras in cells for p in paras)
        else:
            rows.append("\t".join(" ".join(paras) for paras in cells))
    if rows:
        blocks.append("\n".join(rows))
    return blocks


def extract_docx(data: bytes) -> Extracted:
    _check_archive(data)
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(io.BytesIO(data))
    numbering = _Numbering(document)
    blocks: list[str] = []
    headings: list[tuple[str, int]] = []
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(child, document)
            text = "\n".join(" ".join(line.split()) for line in paragraph.text.split("\n")).strip()
            if not text:
                continue
            text = numbering.prefix(paragraph) + text
            level = _heading_level(paragraph)
            if level is not None:
                headings.append((text, level))
            blocks.append(text)
        elif tag == "tbl":
            blocks.extend(_table_blocks(Table(child, document)))
    if not blocks:
        raise SkipFile("DOCX has no text")
    return Extracted(pages=[Page("\n\n".join(blocks))], headings=headings)
