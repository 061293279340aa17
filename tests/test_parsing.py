"""Documents, metadata and sections parsed from the real sample reports."""

import pytest

from indexer.documents import build_documents
from tests.conftest import CORPUS, PACK


def docs_of(name: str):
    path = CORPUS / name
    return build_documents(str(path), path.read_text(encoding="utf-8"))


def numbered(doc) -> dict[str, str]:
    return {s.number: s.title for s in doc.sections if s.number}


@pytest.fixture(scope="module")
def pack():
    return build_documents(str(PACK), PACK.read_text(encoding="utf-8"))


def test_agenda_pack_is_split_into_its_papers(pack):
    got = [(d.title, d.date, d.doc_type) for d in pack]
    assert got == [
        ("Agenda: Kent and Medway Police and Crime Panel", "2017-07-20", "agenda"),
        ("Minutes of the Kent and Medway Police and Crime Panel", "2017-03-28", "minutes"),
        ("Update on expenditure to support the Police and Crime Plan", "2017-07-20", "report"),
        ("Annual Report 2016/17", "2017-07-20", "annual report"),
        ("HMIC Reports on Crime Data Integrity and Vulnerability", "2017-07-20", "inspection report"),
        ("Record of Decision: Project Athena Deed of Variation", "2017-03-08", "decision"),
        ("Complaints against the Police and Crime Commissioner", "2017-07-20", "report"),
        ("Police and Crime Panel Forward work programme (as at 20th July 2017)", "2017-07-20", "work programme"),
        ("Governance Board meeting notes", "2017-03-01", "minutes"),
        ("Performance and Delivery Board meeting notes", "2017-06-07", "minutes"),
    ]
    assert pack[5].reference == "OPCC.D.015.17" and not pack[5].confidential
    assert pack[2].author == "Matthew Scott, Kent Police and Crime Commissioner"
    assert pack[6].contact == "Anna Taylor/Joel Cook" and pack[6].author.startswith("John Lynch")
    assert {d.body for d in pack} == {"Kent and Medway Police and Crime Panel", "Governance Board", "Performance and Delivery Board"}


def test_papers_tile_the_pack_without_losing_text(pack):
    joined = "".join(d.text for d in pack)
    for phrase in ("Dear Panel Member", "217. Minutes of the Police and Crime Panel", "MOJ Grant for Victim Services",
                   "Date of next Performance & Delivery Board: 27 September 2017"):
        assert phrase in joined


def test_minutes_items_and_their_paragraphs(pack):
    minutes = pack[1]
    titles = {s.number: s.title for s in minutes.sections if s.number and int(s.number) > 100}
    assert titles["217"] == "Minutes of the Police and Crime Panel held on 2 February 2017 (Item 4)"
    assert titles["219"] == "Mental Health - verbal update (focus on progress in engaging others) (Item B2)"
    assert titles["223"] == "Future work programme"
    para = next(s for s in minutes.sections if s.path[-2:] == ["Police Cadet Scheme - progress report (Item B1)", "2"])
    assert para.number == "2"


def test_expenditure_paper_sections(pack):
    expenditure = pack[2]
    by_number = {s.number: s for s in expenditure.sections if s.number}
    assert by_number["2"].path == ["Introduction", "2"]
    assert "expenditure over £500" in expenditure.text[by_number["2"].span[0] : by_number["2"].span[1]]
    heads = [s.title for s in expenditure.sections if not s.number and s.title]
    assert heads[:3] == ["Introduction", "ASSOCIATION OF POLICE AND CRIME COMMISSIONERS, £19,750.00 – 29 April 2017", "SALUS, £25,000.00 – 10 May 2017"]


def test_collaboration_2019_numbered_and_run_in_sections():
    (doc,) = docs_of("2019-12-04_collaboration-and-partnership-working.txt")
    assert doc.title == "Collaboration and Partnership Working"
    assert doc.date == "2020-03-04" and doc.dates[:2] == ["2019-12-04", "2020-03-04"]  # 'Updated for' a later meeting
    assert doc.body == "Performance and Delivery Board"
    nums = numbered(doc)
    assert nums["1"] == "Strategic Overview" and nums["2"] == "Aims of the paper"
    assert nums["3.1"] == "Seven Force Overview" and nums["4"] == "EU Exit Preparations"
    assert nums["5.3"] == "Child Protection" and nums["5.9"] == "Defence Employer Recognition Scheme"
    vetting = next(s for s in doc.sections if s.title == "Vetting")
    assert vetting.path == ["Collaboration", "Seven Force Overview", "Vetting"]
    assert next(s for s in doc.sections if s.title == "PEQF").path[-2] == "Seven Force Overview"


def test_collaboration_2017_bold_lead_in_titles():
    (doc,) = docs_of("2017-09-27_performance-and-delivery-board_collaboration.txt")
    assert (doc.title, doc.date, doc.author) == ("Collaboration", "2017-09-27", "Chief Constable")
    nums = numbered(doc)
    assert nums["1"] == "Existing Collaborative Arrangements"
    assert nums["3"] == "Procurement Business Case and Contract Analysis"
    assert nums["5"] == "Occupational Health Review"
    regions = {s.title: s for s in doc.sections if not s.number and s.title}
    assert {"ESSEX", "Eastern Region"} <= set(regions)  # short single CAPS words may be acronyms: kept
    assert next(s for s in doc.sections if s.number == "3").path[0] == "Eastern Region"


def test_governance_report_lettered_list_is_not_sections():
    (doc,) = docs_of("2017-03-01_governance-board_delivery-of-the-police-and-crime-plan.txt")
    assert (doc.title, doc.date, doc.body) == ("Delivery of the Police and Crime Plan", "2017-03-01", "Governance Board")
    nums = numbered(doc)
    assert nums["3.1"] == "Tackling crime/Anti-Social Behaviour & catching criminals"
    assert nums["3.6"] == "Supporting those with mental health illness"
    assert not any(s.number in {"a", "b", "i", "ii"} for s in doc.sections)
    assert next(s for s in doc.sections if s.number == "3.5").path[0] == "3"


def test_making_kent_safer_sections():
    (doc,) = docs_of("2022-06-08_making-kent-safer-plan-delivery-and-performance.txt")
    assert (doc.title, doc.date) == ("Making Kent Safer Plan: Delivery and Performance", "2022-06-08")
    nums = numbered(doc)
    assert nums["5.1"] == "Domestic Abuse"
    assert nums["5.3"] == "Organised Immigration Crime (OIC) and Modern Slavery and Human Trafficking (MSHT)"
    assert nums["9.4"] == "Cadets Programme" and nums["10"] == "Summary"
    assert [s.title for s in doc.sections if s.path[:1] == ["Prevent Road Danger and Support Vision Zero"] and not s.number][:2] == ["Safe Roads and Streets", "Safe Speed"]


def test_section_spans_are_nested_and_cover_their_heading():
    for path in CORPUS.glob("*.txt"):
        for doc in build_documents(str(path), path.read_text(encoding="utf-8")):
            for s in doc.sections[1:]:
                start, end = s.span
                assert 0 <= start < end <= len(doc.text)
                heading = doc.text[start:].split("\n", 1)[0]
                assert s.number is None or heading.lstrip("-• ").startswith(s.number)


def test_dates_parse_formats_and_ignore_financial_years():
    from indexer.dates import find_dates

    found = [d.isoformat() for _, d in find_dates("4th December 2019, 20th March 2017, 01/03/2017, in 2016/17, 20th July, 2017")]
    assert found == ["2019-12-04", "2017-03-20", "2017-03-01", "2017-07-20"]
