"""The HTTP service: the web page at /, the JSON API at /api/..., OpenAPI docs at /docs."""

from __future__ import annotations

import json
import logging
import mimetypes
import sys
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Callable, Iterator

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from indexer.settings import Settings, default_index_dir, get_settings, model_display_name
from indexer.store import IndexMissing, IndexReader

from searchapi.answers.answerer import Answerer
from searchapi.retrieval.engine import SearchEngine, UnknownDocument
from searchapi.service.docs import mount_docs
from searchapi.answers.generate import GenerativeAnswerer
from searchapi.service.meeting_routes import add_meeting_routes
from searchapi.service.guard import Guard
from searchapi.service.keys import KeyStore, audience_of, bearer
from searchapi.schemas import (
    Answer,
    AskRequest,
    DocumentDetail,
    DocumentSummary,
    Health,
    SearchRequest,
    SearchResponse,
    SectionOut,
)

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


def _sse(event: str, data) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def create_app(index_dir: Path | None = None, settings: Settings | None = None,
               engine: SearchEngine | None = None) -> FastAPI:
    """The service; pass an already loaded `engine` to share it (tests, embedding in another app)."""
    _setup_logging()
    settings = settings or get_settings()

    def answerer_of(engine: SearchEngine) -> Answerer:
        if not hasattr(engine, "_answerer"):
            engine._answerer = Answerer(engine)
        return engine._answerer

    def prepare(engine: SearchEngine) -> None:
        """Fully warm before serving: model, sentence vectors and the answerer's fitted model loaded."""
        engine.warm(sentences=True)
        answerer_of(engine)

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
    app.add_middleware(Guard, allowed_hosts=settings.allowed_hosts, max_body_bytes=settings.max_request_bytes)
    mount_docs(app)

    def audience(request: Request) -> str:
        """'all' for a member's or officer's key, else 'public' (no key, a public key, an unknown key)."""
        return audience_of(keys.role_of(bearer(request.headers.get("authorization"))))

    def engine_for(request: Request) -> SearchEngine:
        return holder.get(audience(request))

    @app.exception_handler(RequestValidationError)
    def invalid(_: Request, exc: RequestValidationError):
        """FastAPI's 422 shape, without echoing the input back (it may be huge or unprintable)."""
        errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
                  for e in exc.errors()[:20]]
        return JSONResponse(status_code=422, content=jsonable_encoder({"detail": errors}))

    @app.exception_handler(Exception)
    def failed(request: Request, exc: Exception):
        log.exception("request failed: %s", request.url.path)
        return JSONResponse(status_code=500, content={"detail": f"internal error ({type(exc).__name__})"})

    @app.middleware("http")
    async def access_log(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        if request.url.path.startswith("/api"):
            log.info(json.dumps({
                "event": "request", "method": request.method, "path": request.url.path,
                "status": response.status_code, "ms": round((time.perf_counter() - started) * 1000, 1),
            }))
        return response

    def answerer(request: Request) -> Answerer:
        return answerer_of(engine_for(request))

    @app.get("/api/health", response_model=Health)
    def health(request: Request) -> Health:
        engine = engine_for(request)
        return Health(status="ok", documents=len(engine.documents), chunks=len(engine.snapshot.chunks),
                      model=model_display_name(engine.embedder.model_path))

    @app.post("/api/search", response_model=SearchResponse)
    def search(request: SearchRequest, http: Request) -> SearchResponse:
        engine = engine_for(http)
        try:
            return engine.search(request.query, k=request.k, filters=request.filters, sort=request.sort)
        except UnknownDocument as exc:
            raise HTTPException(status_code=422, detail=f"unknown document id in filters: {exc.args[0]}") from None

    add_meeting_routes(app, engine_for)  # precedent, saved searches and their feeds, example questions

    @app.post("/api/ask", response_model=Answer)
    def ask(request: AskRequest, http: Request):
        base = answerer(http)
        generative = GenerativeAnswerer(base, settings) if settings.llm_url and request.mode != "local" else None
        if request.filters and request.filters.document_ids:
            unknown = [d for d in request.filters.document_ids if d not in base.engine.documents]
            if unknown:
                raise HTTPException(status_code=422, detail=f"unknown document id in filters: {unknown[0]}")
        streaming = "text/event-stream" in http.headers.get("accept", "")
        if not streaming:
            if generative:
                return generative.ask(request.question, request.k, request.filters, request.history)
            return base.ask(request.question, request.k, request.filters, request.history)

        def events() -> Iterator[str]:
            try:
                if generative:
                    for kind, payload in generative.stream(request.question, request.k, request.filters, request.history):
                        yield _sse(kind, payload)
                    return
                answer = base.ask(request.question, request.k, request.filters, request.history)
                yield _sse("passages", [p.model_dump() for p in answer.passages])
                for piece in answer.answer.split(" "):
                    yield _sse("token", {"text": piece + " "})
                yield _sse("answer", answer.model_dump())
            except Exception as exc:  # the stream has started: report in-band
                log.exception("ask stream failed")
                yield _sse("error", {"detail": f"internal error: {type(exc).__name__}"})

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.get("/api/documents", response_model=list[DocumentSummary])
    def documents(request: Request) -> list[DocumentSummary]:
        engine = engine_for(request)
        return [DocumentSummary(**_meta(d), sections=len(d.sections)) for d in engine.documents.values()]

    @app.get("/api/documents/{doc_id}", response_model=DocumentDetail)
    def document(doc_id: str, request: Request) -> DocumentDetail:
        engine = engine_for(request)
        try:
            doc = engine.document(doc_id)
            text = engine.document_text(doc_id)
        except UnknownDocument:
            raise HTTPException(status_code=404, detail=f"no document with id {doc_id!r}") from None
        return DocumentDetail(
            **_meta(doc), text=text, pages=doc.pages,
            sections=[SectionOut(id=s.id, number=s.number, title=s.title, path=s.path, span=s.span, page=s.page)
                      for s in doc.sections],
        )

    @app.get("/api/documents/{doc_id}/source", include_in_schema=True)
    def source(doc_id: str, request: Request):
        """The original file (PDF, DOCX, HTML, text) of a paper, only from inside the folder it was indexed from."""
        engine = engine_for(request)
        try:
            path = engine.source_file(doc_id)
        except UnknownDocument:
            raise HTTPException(status_code=404, detail=f"no document with id {doc_id!r}") from None
        if path is None:
            raise HTTPException(status_code=404, detail="the original file is no longer available")
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if media.startswith("text/"):
            media += "; charset=utf-8" if path.suffix.lower() in {".txt", ".md"} else ""
        return FileResponse(path, media_type=media, content_disposition_type="inline",
                            filename=path.name, headers={"Cache-Control": "no-cache"})

    @app.exception_handler(IndexMissing)
    def missing(_: Request, exc: IndexMissing):
        return JSONResponse(status_code=503, content={"detail": str(exc)})

    if WEB_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def page():
        index = WEB_DIR / "index.html"
        if not index.exists():
            raise HTTPException(status_code=404, detail="web page not installed")
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    return app
