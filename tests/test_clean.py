"""Cleaning keeps words verbatim and removes furniture and markup (real sample text)."""

from indexer.clean import clean_text
from tests.conftest import CORPUS, PACK

COLLAB_2019 = CORPUS / "2019-12-04_collaboration-and-partnership-working.txt"
COLLAB_2017 = CORPUS / "2017-09-27_performance-and-delivery-board_collaboration.txt"


def test_page_furniture_removed_from_every_sample():
    for path in CORPUS.glob("*.txt"):
        text = clean_text(path.read_text(encoding="utf-8"))
        lines = {line.strip() for line in text.splitlines()}
        assert "Item No. 7" not in lines and "Item 3" not in lines, path.name
        assert "This page is intentionally left blank" not in text, path.name


def test_paragraph_cut_by_page_furniture_is_joined():
    text = clean_text(COLLAB_2019.read_text(encoding="utf-8"))
    # In the source, 'Item No. 7' sits between the two halves of this sentence.
    assert "following EU Exit. The KRF went into an operational phase" in text or "the Tactical Co-ordination Centre at Medway Police Station" in text
    idx = text.index("the Tactical Co-ordination Centre at Medway Police Station")
    assert text[idx - 2 : idx] not in ("\n\n",), "the broken paragraph was not joined"


def test_html_and_markdown_removed_but_words_kept():
    text = clean_text(COLLAB_2017.read_text(encoding="utf-8"))
    assert "<sup>" not in text and "**" not in text and "###" not in text
    assert "commenced in post on 20th March 2017" in text
    assert "1. Existing Collaborative Arrangements. Kent Police has an established" in text
    pack = clean_text(PACK.read_text(encoding="utf-8"))
    assert "<input" not in pack and "<p>" not in pack and "<u>" not in pack and "](#)" not in pack
    assert "publishes all expenditure over £500 via the website" in pack
    # Struck-through words are deleted text; the inserted word is kept.
    assert "This variation does not require any further financial commitment" in pack


def test_table_rows_stay_one_per_line():
    pack = clean_text(PACK.read_text(encoding="utf-8"))
    assert "Council tax precept\t91.9" in pack
    assert "Pay and overtime\t258.7" in pack


def test_synthetic_furniture_entities_and_encoding_cleanup():
    raw = "\ufeffTitle\r\n\r\nPage 3 of 9\r\nA sentence that runs on\r\n\r\nPage 4\r\n\r\ninto the next page &amp; ends.\r\n<p>Para</p> [link](http://x) *emph*\n"
    text = clean_text(raw)
    assert text.startswith("Title")
    assert "A sentence that runs on into the next page & ends." in text
    assert "Page 3" not in text and "Page 4" not in text
    assert "Para  link emph" in text or "Para link emph" in text
