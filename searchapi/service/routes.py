"""The HTTP API, written once for one machine (app.py) and the sharded router on Ray Serve
(searchapi/distributed/shards_ray.py), so both answer the same requests the same way: the same
routes, request checks (Guard: allowed hosts, body size, security headers), error shapes and
server-sent events. Only the caller's *view* differs: one machine's is `EngineView` over its
SearchEngine, the router's gathers from the shards (searchapi/distributed/sharded_view.py).

A view raises UnknownDocument for a paper the caller cannot see and NotServed for what it cannot
answer exactly; the routes turn these into 404/422 and 501 with a message a person can read.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import time
from pathlib import Path
from typing import Callable, Iterator, Protocol

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from indexer.settings import Settings
from indexer.store import IndexMissing

from searchapi.retrieval.engine import UnknownDocument
from searchapi.schemas import Answer, AskRequest, DocumentDetail, DocumentSummary, Health, SearchRequest, SearchResponse
from searchapi.service.docs import mount_docs
from searchapi.service.guard import Guard

log = logging.getLogger("reportsearch.http")


class NotServed(Exception):
    """What this service cannot answer exactly (e.g. the generative mode on the sharded router): a 501."""


class View(Protocol):
    """The caller's view of the index (one audience, one index generation) as the routes use it.
    The meeting routes' part (precedent, examples, saved searches) is in meeting_routes.MeetingView."""

    def health(self) -> Health: ...
    def search(self, query: str, k: int, filters, sort: str) -> SearchResponse: ...
    def knows_document(self, doc_id: str) -> bool: ...
    def ask(self, question: str, k: int, filters, history) -> Answer: ...
    def generative(self, settings: Settings): ...  # an object with ask() and stream() (GenerativeAnswerer)
    def documents(self) -> list[DocumentSummary]: ...
    def document(self, doc_id: str) -> DocumentDetail: ...
    def source_file(self, doc_id: str) -> Path | None: ...


def sse(event: str, data) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def install_guards(app: FastAPI, settings: Settings) -> None:
    """Allowed hosts, body size and security headers (Guard), offline /docs, 422s that do not echo the
    input, 500s and 503s (no index) with a short JSON detail, and one log line per API request."""
    app.add_middleware(Guard, allowed_hosts=settings.allowed_hosts, max_body_bytes=settings.max_request_bytes)
    mount_docs(app)

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

    @app.exception_handler(NotServed)
    def not_served(_: Request, exc: NotServed):
        return JSONResponse(status_code=501, content={"detail": str(exc)})

    @app.exception_handler(IndexMissing)
    def missing(_: Request, exc: IndexMissing):
        return JSONResponse(status_code=503, content={"detail": str(exc)})

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


def unknown_in_filters(doc_id: str) -> HTTPException:
    """The 422 for a filter naming a paper the caller cannot see (as if it did not exist)."""
    return HTTPException(status_code=422, detail=f"unknown document id in filters: {doc_id}")


def add_search_routes(app: FastAPI, view_for: Callable[[Request], View], settings: Settings,
                      health_model: type[Health] = Health) -> None:
    """/api/health and /api/search (registered before the meeting routes, as the docs list them)."""

    @app.get("/api/health", response_model=health_model)
    def health(request: Request) -> Health:
        return view_for(request).health()

    @app.post("/api/search", response_model=SearchResponse)
    def search(request: SearchRequest, http: Request) -> SearchResponse:
        view = view_for(http)
        try:
            return view.search(request.query, request.k, request.filters, request.sort)
        except UnknownDocument as exc:
            raise unknown_in_filters(exc.args[0]) from None


def add_answer_and_document_routes(app: FastAPI, view_for: Callable[[Request], View], settings: Settings) -> None:
    """/api/ask (JSON or server-sent events), /api/documents, /api/documents/{id} and its source."""

    @app.post("/api/ask", response_model=Answer)
    def ask(request: AskRequest, http: Request):
        view = view_for(http)
        generative = view.generative(settings) if settings.llm_url and request.mode != "local" else None
        if request.filters and request.filters.document_ids:
            unknown = [d for d in request.filters.document_ids if not view.knows_document(d)]
            if unknown:
                raise unknown_in_filters(unknown[0])
        streaming = "text/event-stream" in http.headers.get("accept", "")
        if not streaming:
            if generative:
                return generative.ask(request.question, request.k, request.filters, request.history)
            return view.ask(request.question, request.k, request.filters, request.history)

        def events() -> Iterator[str]:
            try:
                if generative:
                    for kind, payload in generative.stream(request.question, request.k, request.filters, request.history):
                        yield sse(kind, payload)
                    return
                answer = view.ask(request.question, request.k, request.filters, request.history)
                yield sse("passages", [p.model_dump() for p in answer.passages])
                for piece in answer.answer.split(" "):
                    yield sse("token", {"text": piece + " "})
                yield sse("answer", answer.model_dump())
            except Exception as exc:  # the stream has started: report in-band
                log.exception("ask stream failed")
                yield sse("error", {"detail": f"internal error: {type(exc).__name__}"})

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.get("/api/documents", response_model=list[DocumentSummary])
    def documents(request: Request) -> list[DocumentSummary]:
        return view_for(request).documents()

    def of_paper(read: Callable, doc_id: str):
        """read(doc_id), or a 404 for a paper the caller cannot see."""
        try:
            return read(doc_id)
        except UnknownDocument:
            raise HTTPException(status_code=404, detail=f"no document with id {doc_id!r}") from None

    @app.get("/api/documents/{doc_id}", response_model=DocumentDetail)
    def document(doc_id: str, request: Request) -> DocumentDetail:
        return of_paper(view_for(request).document, doc_id)

    @app.get("/api/documents/{doc_id}/source", include_in_schema=True)
    def source(doc_id: str, request: Request):
        """The original file (PDF, DOCX, HTML, text) of a paper, only from inside the folder it was indexed from."""
        path = of_paper(view_for(request).source_file, doc_id)
        if path is None:
            raise HTTPException(status_code=404, detail="the original file is no longer available")
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if media.startswith("text/"):
            media += "; charset=utf-8" if path.suffix.lower() in {".txt", ".md"} else ""
        return FileResponse(path, media_type=media, content_disposition_type="inline",
                            filename=path.name, headers={"Cache-Control": "no-cache"})
