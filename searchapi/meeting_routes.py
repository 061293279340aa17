"""HTTP routes for meeting preparation: precedent, saved-search feeds and example questions.

Every route reads through `engine_for(request)`, the caller's own view of the index, so a public
caller never sees a restricted paper here either.
"""

from __future__ import annotations

from typing import Callable

from fastapi import FastAPI, HTTPException, Request

from .engine import SearchEngine, UnknownDocument
from .examples import example_questions
from .precedent import PrecedentFinder
from .schemas import PrecedentRequest, PrecedentResponse


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
        return example_questions(engine_for(request), max(1, min(n, 12)))
