"""The HTTP service: the web page at /, the JSON API at /api/..., OpenAPI docs at /docs."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Iterator

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from indexer.settings import Settings, default_index_dir, get_settings, model_display_name
from indexer.store import IndexMissing

from .answer import Answerer
from .engine import SearchEngine, UnknownDocument
from .generate import GenerativeAnswerer
from .schemas import (
    Answer,
    AskRequest,
    DocumentDetail,
    DocumentSummary,
    Health,
    SearchRequest,
    SearchResponse,
    SectionOut,
)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
log = logging.getLogger("reportsearch.http")


class EngineHolder:
    """The current engine: loaded on first need (and again later if the index was missing at
    start-up), and replaced whole when a re-index commits, so requests never see a half-swapped state."""

    def __init__(self, index_dir: Path, engine: SearchEngine | None = None, check_every: float = 2.0):
        self.index_dir = index_dir
        self._engine = engine
        self._lock = threading.Lock()
        self._checked = 0.0
        self.check_every = check_every

    @property
    def loaded(self) -> SearchEngine | None:
        return self._engine

    def get(self) -> SearchEngine:
        engine = self._engine
        if engine is None:
            with self._lock:
                if self._engine is None:
                    try:
                        self._engine = SearchEngine(self.index_dir)
                    except IndexMissing as exc:
                        raise HTTPException(status_code=503, detail=str(exc)) from None
                return self._engine
        now = time.monotonic()
        if now - self._checked >= self.check_every and self._lock.acquire(blocking=False):
            try:  # one request reloads; the others go on with the engine they have
                self._checked = now
                if engine.is_stale():
                    fresh = SearchEngine(self.index_dir, engine.settings)
                    self._engine = fresh
                    engine.sentences.stop()  # the old generation's warm-up
                    fresh.sentences.warm_in_background(list(fresh.snapshot.chunks.values()))
            finally:
                self._lock.release()
        return self._engine


def _setup_logging() -> None:
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def _meta(doc) -> dict:
    return {**doc.summary(), "dates": doc.dates, "author": doc.author, "contact": doc.contact, "reference": doc.reference,
            "confidential": doc.confidential}


def _sse(event: str, data) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def create_app(index_dir: Path | None = None, settings: Settings | None = None,
               engine: SearchEngine | None = None) -> FastAPI:
    """The service; pass an already loaded `engine` to share it (tests, embedding in another app)."""
    _setup_logging()
    holder = EngineHolder(Path(index_dir) if index_dir else default_index_dir(), engine)
    settings = settings or get_settings()
    @asynccontextmanager
    async def lifespan(_: FastAPI):
        try:  # load the model and index before the first request, not during it
            await run_in_threadpool(lambda: holder.get().warm(sentences=True))
        except HTTPException:
            log.info(json.dumps({"event": "no-index", "index": str(holder.index_dir)}))
        yield
        if holder.loaded is not None:
            await run_in_threadpool(holder.loaded.sentences.stop)

    app = FastAPI(
        lifespan=lifespan,
        title="ReportSearch",
        version="0.1.0",
        description="Search and cited question answering over long formal reports.",
    )
    app.state.holder = holder

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

    def answerer() -> Answerer:
        engine = holder.get()
        if not hasattr(engine, "_answerer"):
            engine._answerer = Answerer(engine)
        return engine._answerer

    @app.get("/api/health", response_model=Health)
    def health() -> Health:
        engine = holder.get()
        return Health(status="ok", documents=len(engine.documents), chunks=len(engine.snapshot.chunks),
                      model=model_display_name(engine.embedder.model_path))

    @app.post("/api/search", response_model=SearchResponse)
    def search(request: SearchRequest) -> SearchResponse:
        engine = holder.get()
        try:
            return engine.search(request.query, k=request.k, filters=request.filters, sort=request.sort)
        except UnknownDocument as exc:
            raise HTTPException(status_code=422, detail=f"unknown document id in filters: {exc.args[0]}") from None

    @app.post("/api/ask", response_model=Answer)
    def ask(request: AskRequest, http: Request):
        base = answerer()
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
    def documents() -> list[DocumentSummary]:
        engine = holder.get()
        return [DocumentSummary(**_meta(d), sections=len(d.sections)) for d in engine.documents.values()]

    @app.get("/api/documents/{doc_id}", response_model=DocumentDetail)
    def document(doc_id: str) -> DocumentDetail:
        engine = holder.get()
        try:
            doc = engine.document(doc_id)
            text = engine.document_text(doc_id)
        except UnknownDocument:
            raise HTTPException(status_code=404, detail=f"no document with id {doc_id!r}") from None
        return DocumentDetail(
            **_meta(doc), text=text,
            sections=[SectionOut(id=s.id, number=s.number, title=s.title, path=s.path, span=s.span, page=s.page)
                      for s in doc.sections],
        )

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
