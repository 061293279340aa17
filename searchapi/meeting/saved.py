"""Saved searches: a query (with filters) kept in the index folder. After each `reportsearch index`
(one machine's, or `--ray` into shards), passages that are new in that run and rank among the
search's results become its new matches, listed in the index summary, on the web page and in an Atom feed.

"New" is decided from chunk ids, which stay the same while a passage's text is unchanged: the ids
present before the run are read first, and whatever the run added is new.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from xml.etree import ElementTree as ET

from indexer.distributed import shard_dirs
from indexer.store import DB_NAME

from searchapi.schemas import Filters, Result

SAVED_FILE = "saved-searches.json"
MATCH_DEPTH = 10  # a new passage matches when it ranks on the search's first page (10 results, the default)
KEEP_MATCHES = 200  # per search, newest kept
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_lock = threading.Lock()


class SavedError(ValueError):
    """A saved-search request a person can fix (bad or duplicate name, unknown search)."""


@dataclass
class Match:
    chunk_id: str
    found: str  # ISO timestamp of the indexing run that added it
    score: float


@dataclass
class SavedSearch:
    name: str
    query: str
    filters: dict | None = None
    created: str = ""
    matches: list[Match] = field(default_factory=list)

    def filter_model(self) -> Filters | None:
        return Filters(**self.filters) if self.filters else None


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


class SavedSearches:
    """The saved searches of one index folder (a small JSON file, replaced atomically)."""

    def __init__(self, index_dir: Path):
        self.path = Path(index_dir) / SAVED_FILE

    def load(self) -> list[SavedSearch]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise SavedError(f"cannot read {self.path}: {exc}") from None
        return [SavedSearch(name=s["name"], query=s["query"], filters=s.get("filters"), created=s.get("created", ""),
                            matches=[Match(**m) for m in s.get("matches", [])]) for s in raw.get("searches", [])]

    def save(self, searches: list[SavedSearch]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"searches": [asdict(s) for s in searches]}, ensure_ascii=False, indent=1)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".saved-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def get(self, name: str) -> SavedSearch:
        for s in self.load():
            if s.name == name:
                return s
        raise SavedError(f"no saved search named {name!r}")

    def add(self, name: str, query: str, filters: Filters | None = None) -> SavedSearch:
        if not NAME.match(name):
            raise SavedError("a saved search's name is 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit")
        with _lock:
            searches = self.load()
            if any(s.name == name for s in searches):
                raise SavedError(f"a saved search named {name!r} already exists (remove it first)")
            kept = filters.model_dump(mode="json", exclude_none=True) if filters else None
            saved = SavedSearch(name=name, query=query, filters=kept or None, created=_now())
            self.save(searches + [saved])
        return saved

    def remove(self, name: str) -> None:
        with _lock:
            searches = self.load()
            if not any(s.name == name for s in searches):
                raise SavedError(f"no saved search named {name!r}")
            self.save([s for s in searches if s.name != name])


def chunk_ids(index_dir: Path) -> set[str]:
    """Ids of the passages in the index now, in all its shards if it is sharded (empty when there is no index yet)."""
    shards = shard_dirs(index_dir)
    if shards:
        return set().union(*map(chunk_ids, shards))
    db = Path(index_dir) / DB_NAME
    if not db.exists():
        return set()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM chunks")}
    except sqlite3.OperationalError:
        return set()
    finally:
        conn.close()


def record_new_matches(index_dir: Path, before: set[str]) -> dict[str, list[Result]]:
    """After an indexing run: each saved search's results among the passages the run added,
    recorded as its new matches. Returns them by search name (every search, maybe empty)."""
    store = SavedSearches(index_dir)
    searches = store.load()
    if not searches:
        return {}
    added = chunk_ids(index_dir) - before
    found: dict[str, list[Result]] = {s.name: [] for s in searches}
    if not added:
        return found
    from searchapi.retrieval.engine import SearchEngine, UnknownDocument

    if shard_dirs(index_dir):  # `index --ray`: the router's search over the shards ranks as one machine
        from searchapi.distributed.sharded_view import LocalShards

        engine = LocalShards(Path(index_dir), audience="all")
    else:
        engine = SearchEngine(Path(index_dir))
    when = _now()
    with _lock:
        searches = store.load()  # re-read under the lock: a search added meanwhile is kept
        for s in searches:
            try:
                results = engine.search(s.query, k=MATCH_DEPTH, filters=s.filter_model()).results
            except UnknownDocument:  # a --doc it names was removed from the index
                results = []
            fresh = [r for r in results if r.chunk_id in added]
            found[s.name] = fresh
            s.matches = ([Match(chunk_id=r.chunk_id, found=when, score=r.score) for r in fresh] + s.matches)[:KEEP_MATCHES]
        store.save(searches)
    return found


def visible_matches(engine, saved: SavedSearch) -> list[tuple[Match, Result]]:
    """The search's recorded matches this caller's engine can see (restricted papers are not in a
    public engine), still in the index, newest first, rendered as results."""
    out = []
    chunk_by_id = engine.snapshot.chunk_by_id
    for m in saved.matches:
        chunk = chunk_by_id.get(m.chunk_id)
        if chunk is None or chunk.document_id not in engine.documents:
            continue
        out.append((m, engine.result(chunk.rowid, m.score, len(out) + 1)))
    return out


ATOM = "http://www.w3.org/2005/Atom"


def atom_feed(saved: SavedSearch, matches: list[tuple[Match, Result]], base_url: str) -> bytes:
    """An Atom 1.0 feed of the search's new matches: one entry per passage, its citation as the
    title and the verbatim passage as the content."""
    ET.register_namespace("", ATOM)

    def sub(parent, tag, text=None, **attrs):
        node = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            node.text = text
        return node

    feed = ET.Element(f"{{{ATOM}}}feed")
    sub(feed, "id", f"urn:reportsearch:saved:{saved.name}")
    sub(feed, "title", f"ReportSearch: new passages for “{saved.query}”")
    sub(feed, "updated", matches[0][0].found if matches else (saved.created or _now()))
    sub(feed, "link", rel="self", href=f"{base_url}/api/saved/{saved.name}/feed")
    sub(feed, "link", rel="alternate", href=f"{base_url}/")
    author = sub(feed, "author")
    sub(author, "name", "ReportSearch")
    for match, result in matches:
        entry = sub(feed, "entry")
        sub(entry, "id", f"urn:reportsearch:saved:{saved.name}:{result.chunk_id}")
        sub(entry, "title", result.citation)
        sub(entry, "updated", match.found)
        if result.document.date:
            sub(entry, "published", f"{result.document.date}T00:00:00Z")
        sub(entry, "link", rel="alternate", href=f"{base_url}/api/documents/{result.document.id}")
        sub(entry, "summary", result.citation)
        sub(entry, "content", result.text, type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
