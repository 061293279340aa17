"""The HTTP service: the web page at /, the JSON API at /api/..., OpenAPI docs at /docs."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Callable

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from indexer.settings import Settings, default_index_dir, get_settings, model_display_name
from indexer.store import IndexMissing, IndexReader

from searchapi.answers.answerer import Answerer
from searchapi.answers.generate import GenerativeAnswerer
from searchapi.meeting.examples import cached_examples
from searchapi.meeting.precedent import PrecedentFinder
from searchapi.meeting.saved import visible_matches
from searchapi.retrieval.engine import SearchEngine
from searchapi.service.meeting_routes import add_meeting_routes
from searchapi.service.keys import KeyStore, audience_of, bearer
from searchapi.service.routes import add_answer_and_document_routes, add_search_routes, install_guards
from searchapi.schemas import Answer, DocumentDetail, DocumentSummary, Health, PrecedentResponse, SearchResponse, SectionOut

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
log = logging.getLogger("reportsearch.http")


class EngineHolder:
    """The engines of the current index generation, one per audience ('all', 'public'), loaded on
    first need and replaced whole when a re-index commits. Both views of one generation share a
    pinned reader, so a request never sees a half-swapped state or texts of another generation."""

    def __init__(self, index_dir: Path, engine: SearchEngine | None = None, check_every: float = 2.0,
                 prepare: Callable[[SearchEngine], None] = lambda engine: engine.warm(sentences=True)):
        """`prepare` readies a freshly loaded engine before it serves (model, sentence vectors, answerer)."""
        self.index_dir = index_dir
        self.prepare = prepare
        self._engines: dict[str, SearchEngine] = {}
        if engine is not None:
            self._engines = {engine.audience: engine}
        self._lock = threading.Lock()
        self._checked = 0.0
        self.check_every = check_every

    @property
    def loaded(self) -> SearchEngine | None:
        return next(iter(self._engines.values()), None)

    def _load(self, engines: dict[str, SearchEngine], audience: str, reader: IndexReader | None) -> SearchEngine:
        """An engine for `audience` on `reader`'s generation; the full view serves the public too
        when the index holds no restricted paper."""
        reader = reader or IndexReader(self.index_dir)
        other = engines.get("all" if audience == "public" else "public")
        if other is not None and not reader.has_restricted():
            engines[audience] = other
        else:
            engines[audience] = SearchEngine(self.index_dir, audience=audience, reader=reader)
        return engines[audience]

    def get(self, audience: str = "public") -> SearchEngine:
        engines = self._engines
        engine = engines.get(audience)
        if engine is None:
            with self._lock:
                engines = self._engines
                if audience not in engines:
                    current = next(iter(engines.values()), None)
                    try:
                        self.prepare(self._load(engines, audience, current.store if current else None))
                    except IndexMissing as exc:
                        raise HTTPException(status_code=503, detail=str(exc)) from None
                return engines[audience]
        now = time.monotonic()
        if now - self._checked >= self.check_every and self._lock.acquire(blocking=False):
            try:  # one request reloads; the others go on with the engines they have
                self._checked = now
                if engine.is_stale():
                    fresh: dict[str, SearchEngine] = {}
                    reader = IndexReader(self.index_dir)
                    for name in [audience] + [a for a in engines if a != audience]:
                        self.prepare(self._load(fresh, name, reader))
                    self._engines = fresh
            except IndexMissing as exc:  # the new generation is unreadable: keep serving the loaded one
                log.info(json.dumps({"event": "reload-failed", "detail": str(exc)}))
            finally:
                self._lock.release()
        return self._engines.get(audience) or engine


def _setup_logging() -> None:
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def _meta(doc) -> dict:
    return {**doc.summary(), "dates": doc.dates, "author": doc.author, "contact": doc.contact, "reference": doc.reference,
            "confidential": doc.confidential, "access": doc.access, "access_reason": doc.access_reason}


def document_detail(engine: SearchEngine, doc_id: str) -> DocumentDetail:
    """GET /api/documents/{id} of a paper this engine may show (UnknownDocument otherwise)."""
    doc = engine.document(doc_id)
    text = engine.document_text(doc_id)
    return DocumentDetail(
        **_meta(doc), text=text, pages=doc.pages,
        sections=[SectionOut(id=s.id, number=s.number, title=s.title, path=s.path, span=s.span, page=s.page)
                  for s in doc.sections],
    )


def answerer_of(engine: SearchEngine) -> Answerer:
    if not hasattr(engine, "_answerer"):
        engine._answerer = Answerer(engine)
    return engine._answerer


class EngineView:
    """One machine's view for the shared routes (routes.py, meeting_routes.py): the caller's engine,
    with its answerer, precedent finder and examples kept on the engine (one generation, one set)."""

    def __init__(self, engine: SearchEngine):
        self.engine = engine
        self.saved_dir = engine.index_dir

    def health(self) -> Health:
        engine = self.engine
        return Health(status="ok", documents=len(engine.documents), chunks=len(engine.snapshot.chunks),
                      model=model_display_name(engine.embedder.model_path))

    def search(self, query: str, k: int, filters, sort: str) -> SearchResponse:
        return self.engine.search(query, k=k, filters=filters, sort=sort)

    def knows_document(self, doc_id: str) -> bool:
        return doc_id in self.engine.documents

    def ask(self, question: str, k: int, filters, history) -> Answer:
        return answerer_of(self.engine).ask(question, k, filters, history)

    def generative(self, settings: Settings) -> GenerativeAnswerer:
        return GenerativeAnswerer(answerer_of(self.engine), settings)

    def documents(self) -> list[DocumentSummary]:
        return [DocumentSummary(**_meta(d), sections=len(d.sections)) for d in self.engine.documents.values()]

    def document(self, doc_id: str) -> DocumentDetail:
        return document_detail(self.engine, doc_id)

    def source_file(self, doc_id: str) -> Path | None:
        return self.engine.source_file(doc_id)

    def precedent(self, query: str, k: int, filters, sort: str) -> PrecedentResponse:
        engine = self.engine
        if not hasattr(engine, "_precedent"):
            engine._precedent = PrecedentFinder(engine)
        return engine._precedent.find(query, k=k, filters=filters, sort=sort)

    def examples(self, n: int) -> list[str]:
        return cached_examples(self.engine, n, lambda: self.engine)

    def visible_matches(self, search):
        return visible_matches(self.engine, search)


def create_app(index_dir: Path | None = None, settings: Settings | None = None,
               engine: SearchEngine | None = None) -> FastAPI:
    """The service; pass an already loaded `engine` to share it (tests, embedding in another app)."""
    _setup_logging()
    settings = settings or get_settings()

    def prepare(engine: SearchEngine) -> None:
        """Fully warm before serving: model, sentence vectors and the answerer's fitted model loaded."""
        engine.warm(sentences=True)
        answerer_of(engine).warm()

    holder = EngineHolder(Path(index_dir) if index_dir else default_index_dir(), engine, prepare=prepare)
    keys = KeyStore(holder.index_dir)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        try:  # load the model, the index and its sentence vectors before the first request
            await run_in_threadpool(lambda: prepare(holder.get()))
        except HTTPException as exc:
            log.info(json.dumps({"event": "no-index", "index": str(holder.index_dir), "detail": exc.detail}))
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="ReportSearch",
        version="0.1.0",
        description="Search and cited question answering over long formal reports.",
        docs_url=None,  # served below from the bundled Swagger UI, no CDN
    )
    app.state.holder = holder
    app.state.keys = keys
    return serve_api(app, settings, keys, lambda audience: EngineView(holder.get(audience)))


def serve_api(app: FastAPI, settings: Settings, keys: KeyStore, view: Callable[[str], object],
              health_model: type[Health] = Health) -> FastAPI:
    """The guards, the shared routes over the caller's view (`view(audience)`; one machine's or the sharded
    router's) and the page. A member's or officer's key sees every paper; anyone else (no key, a public
    key, an unknown key) the public ones."""
    install_guards(app, settings)

    def view_for(request: Request):
        return view(audience_of(keys.role_of(bearer(request.headers.get("authorization")))))

    add_search_routes(app, view_for, settings, health_model)
    add_meeting_routes(app, view_for)  # precedent, saved searches and their feeds, example questions
    add_answer_and_document_routes(app, view_for, settings)
    add_page(app)
    return app


def add_page(app: FastAPI) -> None:
    """The web page at / and its files at /static."""
    if WEB_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def page():
        index = WEB_DIR / "index.html"
        if not index.exists():
            raise HTTPException(status_code=404, detail="web page not installed")
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
