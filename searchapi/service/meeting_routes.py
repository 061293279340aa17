"""HTTP routes for meeting preparation: precedent, saved-search feeds and example questions.

Every route reads through `engine_for(request)`, the caller's own view of the index, so a public
caller never sees a restricted paper here either.
"""

from __future__ import annotations

from typing import Callable

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response

from searchapi.retrieval.engine import SearchEngine, UnknownDocument
from searchapi.meeting.examples import example_questions
from searchapi.meeting.precedent import PrecedentFinder
from searchapi.meeting.saved import SavedError, SavedSearches, atom_feed, visible_matches
from searchapi.schemas import PrecedentRequest, PrecedentResponse, SavedMatchOut, SavedSearchOut


def add_meeting_routes(app: FastAPI, engine_for: Callable[[Request], SearchEngine]) -> None:
    def finder(request: Request) -> PrecedentFinder:
        engine = engine_for(request)
        if not hasattr(engine, "_precedent"):
            engine._precedent = PrecedentFinder(engine)
        return engine._precedent

    @app.post("/api/precedent", response_model=PrecedentResponse)
    def precedent(body: PrecedentRequest, request: Request) -> PrecedentResponse:
        """Passages on a topic or close to a wording, one per paper, grouped by near-identical
        wording, newest first, with a word-level diff against the previous use."""
        try:
            return finder(request).find(body.query, k=body.k, filters=body.filters, sort=body.sort)
        except UnknownDocument as exc:
            raise HTTPException(status_code=422, detail=f"unknown document id in filters: {exc.args[0]}") from None

    @app.get("/api/examples", response_model=list[str])
    def examples(request: Request, n: int = 4) -> list[str]:
        """A few questions drawn from the indexed papers' headings, for the empty page."""
        engine = engine_for(request)
        n = max(1, min(n, 12))
        cached = getattr(engine, "_examples", None)
        if cached is None or len(cached) < n:  # one generation of the index, one set of examples
            cached = engine._examples = example_questions(engine, n)
        return cached[:n]

    @app.get("/api/saved", response_model=list[SavedSearchOut])
    def saved(request: Request) -> list[SavedSearchOut]:
        """The saved searches, each with the new matches this caller may see (newest first)."""
        engine = engine_for(request)
        try:
            searches = SavedSearches(engine.index_dir).load()
        except SavedError as exc:
            raise HTTPException(status_code=500, detail=str(exc)) from None
        return [SavedSearchOut(name=s.name, query=s.query, filters=s.filters, created=s.created,
                               matches=[SavedMatchOut(found=m.found, result=r) for m, r in visible_matches(engine, s)])
                for s in searches]

    @app.get("/api/saved/{name}/feed", response_class=Response,
             responses={200: {"content": {"application/atom+xml": {}}}})
    def saved_feed(name: str, request: Request) -> Response:
        """An Atom feed of the saved search's new matches (only papers this caller may see)."""
        engine = engine_for(request)
        try:
            search = SavedSearches(engine.index_dir).get(name)
        except SavedError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        base = str(request.base_url).rstrip("/")
        return Response(atom_feed(search, visible_matches(engine, search), base), media_type="application/atom+xml")
