"""HTTP routes for meeting preparation: precedent, saved-search feeds and example questions.

Every route reads through `view_for(request)`, the caller's own view of the index (one machine's
EngineView, or the sharded router's view), so a public caller never sees a restricted paper here either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response

from searchapi.retrieval.engine import UnknownDocument
from searchapi.meeting.saved import Match, SavedError, SavedSearch, SavedSearches, atom_feed
from searchapi.service.routes import unknown_in_filters
from searchapi.schemas import PrecedentRequest, PrecedentResponse, Result, SavedMatchOut, SavedSearchOut


class MeetingView(Protocol):
    saved_dir: Path  # where saved.json lives

    def precedent(self, query: str, k: int, filters, sort: str) -> PrecedentResponse: ...
    def examples(self, n: int) -> list[str]: ...
    def visible_matches(self, search: SavedSearch) -> list[tuple[Match, Result]]: ...


def add_meeting_routes(app: FastAPI, view_for: Callable[[Request], MeetingView]) -> None:
    @app.post("/api/precedent", response_model=PrecedentResponse)
    def precedent(body: PrecedentRequest, request: Request) -> PrecedentResponse:
        """Passages on a topic or close to a wording, one per paper, grouped by near-identical
        wording, newest first, with a word-level diff against the previous use."""
        try:
            return view_for(request).precedent(body.query, body.k, body.filters, body.sort)
        except UnknownDocument as exc:
            raise unknown_in_filters(exc.args[0]) from None

    @app.get("/api/examples", response_model=list[str])
    def examples(request: Request, n: int = 4) -> list[str]:
        """A few questions drawn from the indexed papers' headings, for the empty page."""
        return view_for(request).examples(max(1, min(n, 12)))

    @app.get("/api/saved", response_model=list[SavedSearchOut])
    def saved(request: Request) -> list[SavedSearchOut]:
        """The saved searches, each with the new matches this caller may see (newest first)."""
        view = view_for(request)
        try:
            searches = SavedSearches(view.saved_dir).load()
        except SavedError as exc:
            raise HTTPException(status_code=500, detail=str(exc)) from None
        return [SavedSearchOut(name=s.name, query=s.query, filters=s.filters, created=s.created,
                               matches=[SavedMatchOut(found=m.found, result=r) for m, r in view.visible_matches(s)])
                for s in searches]

    @app.get("/api/saved/{name}/feed", response_class=Response,
             responses={200: {"content": {"application/atom+xml": {}}}})
    def saved_feed(name: str, request: Request) -> Response:
        """An Atom feed of the saved search's new matches (only papers this caller may see)."""
        view = view_for(request)
        try:
            search = SavedSearches(view.saved_dir).get(name)
        except SavedError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        base = str(request.base_url).rstrip("/")
        return Response(atom_feed(search, view.visible_matches(search), base), media_type="application/atom+xml")
