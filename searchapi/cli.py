"""The `reportsearch` command: index, search, ask, serve, eval."""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from pathlib import Path

from indexer.settings import default_index_dir


class CLIError(Exception):
    """A problem the user can fix; printed as one line, never a traceback."""


def _engine(args):
    """The index as this command reads it: everything, or with `--as public` what a public caller sees."""
    from indexer.store import IndexMissing

    from searchapi.retrieval.engine import SearchEngine

    try:
        return SearchEngine(args.index_dir, audience=getattr(args, "audience", "all"))
    except IndexMissing as exc:
        raise CLIError(str(exc)) from None


def _whole_number(low: int, high: int):
    """An argparse type: a whole number from low to high, or a one-line usage error."""
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError("must be a whole number") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return number
    return parse


_port = _whole_number(1, 65535)
_k = _whole_number(1, 100)


def _read_batch(path: str, field: str):
    """Yield (id, value, error) per line of a JSON Lines batch file."""
    from searchapi.schemas import clean_query

    try:
        handle = sys.stdin if path == "-" else open(path, encoding="utf-8")
    except OSError as exc:
        raise CLIError(f"cannot read batch file {path}: {exc.strerror or exc}") from None
    with handle:
        try:
            lines = handle.read().splitlines()
        except UnicodeDecodeError:
            raise CLIError(f"batch file {path} is not UTF-8 text") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield None, None, f"line {number}: invalid JSON ({exc.msg})"
            continue
        if not isinstance(obj, dict):
            yield None, None, f"line {number}: expected a JSON object"
            continue
        value = obj.get(field)
        if not isinstance(value, str) or not value.strip():
            yield obj.get("id"), None, f"line {number}: missing or empty \"{field}\""
            continue
        try:  # each line stands alone: one bad question never stops the batch
            yield obj.get("id"), clean_query(value), None
        except ValueError as exc:
            yield obj.get("id"), None, f"line {number}: the {field} {exc}"


def _emit(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _check_query(query: str) -> str:
    from searchapi.schemas import clean_query

    try:
        return clean_query(query)
    except ValueError as exc:
        raise CLIError(f"the query {exc}") from None


def _date_arg(value: str) -> str:
    from datetime import date

    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError("must be a date as YYYY-MM-DD") from None


def _add_filter_flags(p: argparse.ArgumentParser) -> None:
    """The API's filters as flags: --from, --to, --type, --body, --doc (the last three repeatable)."""
    p.add_argument("--from", dest="date_from", type=_date_arg, metavar="YYYY-MM-DD", help="papers dated on or after")
    p.add_argument("--to", dest="date_to", type=_date_arg, metavar="YYYY-MM-DD", help="papers dated on or before")
    p.add_argument("--type", dest="doc_types", action="append", metavar="T", help="paper type, e.g. minutes (repeatable)")
    p.add_argument("--body", dest="bodies", action="append", metavar="B", help="meeting, board or panel (repeatable)")
    p.add_argument("--doc", dest="document_ids", action="append", metavar="ID", help="document id (repeatable)")
    p.add_argument("--newest", action="store_true", help="newest papers first")


def _filters(args):
    """The Filters the flags ask for, or None; a date range that runs backwards is refused."""
    from searchapi.schemas import Filters

    values = {k: getattr(args, k, None) for k in ("date_from", "date_to", "doc_types", "bodies", "document_ids")}
    if values["date_from"] and values["date_to"] and values["date_from"] > values["date_to"]:
        raise CLIError(f"--from {values['date_from']} is after --to {values['date_to']}")
    return Filters(**values) if any(values.values()) else None


def _unknown_document(exc) -> CLIError:
    return CLIError(f"unknown document id in --doc: {exc.args[0]} (see GET /api/documents for the ids)")


def _check_settings() -> None:
    """REPORTSEARCH_* variables are read once, here, so a bad value is one clear line."""
    from pydantic import ValidationError

    from indexer.settings import get_settings

    try:
        get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "REPORTSEARCH_" + str(first["loc"][0]).upper() if first.get("loc") else "a REPORTSEARCH_ variable"
        raise CLIError(f"invalid setting {name}: {first.get('msg')}") from None


# ---- commands ----------------------------------------------------------------------------------
def cmd_index_ray(args) -> None:
    """`index --ray ADDRESS`: shard folders under the index folder, indexed across the cluster."""
    from indexer.distributed import index_on_ray

    try:
        report = index_on_ray(args.ray, [Path(p) for p in args.paths], args.index_dir, shards=args.shards,
                              access=args.access)
    except (ValueError, ConnectionError) as exc:
        raise CLIError(str(exc)) from None
    totals = report.totals
    print(f"Index: {args.index_dir} ({len(report.shards)} shards on Ray {args.ray})")
    print(f"Documents: {totals.get('documents', 0)}  Sections: {totals.get('sections', 0)}  "
          f"Chunks: {totals.get('chunks', 0)}  Files: {totals.get('files', 0)}")
    for shard in report.shards:
        print(f"  shard {shard['shard']:02d}: {len(shard['indexed'])} indexed, {len(shard['unchanged'])} unchanged, "
              f"{len(shard['removed'])} removed, {shard['totals'].get('chunks', 0)} chunks, "
              f"{shard['task_seconds']:.1f}s on node {shard['node'][:12]}")
    for path, reason in report.merged("skipped"):
        print(f"  skipped: {path}: {reason}")
    print(f"This run: {report.seconds:.1f}s")
    if not report.usable:
        raise CLIError("nothing could be indexed")


def cmd_index(args) -> int:
    from searchapi.meeting.saved import SavedSearches, chunk_ids

    if args.index_dir.exists() and not args.index_dir.is_dir():
        raise CLIError(f"index location {args.index_dir} is a file, not a folder")
    watched = bool(SavedSearches(args.index_dir).load())
    before = chunk_ids(args.index_dir) if watched else set()  # to tell the passages this run adds (in every shard)
    (cmd_index_ray if getattr(args, "ray", None) else _index_here)(args)
    if watched:
        _print_saved_matches(args.index_dir, before)
    return 0


def _index_here(args) -> None:
    """`index PATHS` on this machine."""
    from indexer.pipeline import IndexBusy, index_paths
    from indexer.store import IndexMissing

    try:
        report = index_paths([Path(p) for p in args.paths], args.index_dir, progress=not args.quiet,
                             access=args.access)
    except (IndexBusy, IndexMissing) as exc:
        raise CLIError(str(exc)) from None
    totals = report.totals
    print(f"Index: {args.index_dir}")
    print(
        f"Documents: {totals.get('documents', 0)}  Sections: {totals.get('sections', 0)}  "
        f"Chunks: {totals.get('chunks', 0)}  Files: {totals.get('files', 0)}"
    )
    print(
        f"This run: {len(report.indexed)} indexed, {len(report.unchanged)} unchanged, "
        f"{len(report.removed)} removed, {len(report.skipped)} skipped; "
        f"{report.new_chunks} chunks written, {report.embedded} passages and {report.embedded_sentences} sentences "
        f"embedded in {report.seconds:.1f}s"
    )
    for path in report.removed:
        print(f"  removed: {path}")
    for path, reason in report.skipped:
        print(f"  skipped: {path}: {reason}")
    for path, note in getattr(report, "notes", []):
        print(f"  note: {path}: {note}")
    if not report.usable:
        raise CLIError("nothing could be indexed" + (f" ({report.skipped[0][1]})" if report.skipped else ""))


def _print_saved_matches(index_dir: Path, before: set[str]) -> None:
    """The index summary's last part: each saved search's new matching passages."""
    from searchapi.meeting.saved import record_new_matches

    for name, results in record_new_matches(index_dir, before).items():
        count = f"{len(results)} new passage{'s' if len(results) != 1 else ''}"
        print(f"Saved search {name}: {count}")
        for r in results:
            print(f"  new: {r.citation}")


def cmd_saved(args) -> int:
    from searchapi.meeting.saved import SavedError, SavedSearches

    store = SavedSearches(args.index_dir)
    try:
        if args.action == "add":
            if not (args.index_dir / "index.sqlite").exists():
                raise CLIError(f"no index at {args.index_dir} (run `reportsearch index PATH` first)")
            saved = store.add(args.name, _check_query(args.query), _filters(args))
            print(f"Saved search {saved.name}: “{saved.query}”" + (f" {saved.filters}" if saved.filters else ""))
            print("New matching passages will be listed after each `reportsearch index`.")
        elif args.action == "remove":
            store.remove(args.name)
            print(f"Removed saved search {args.name}")
        else:
            searches = store.load()
            if args.json:
                _emit([{"name": s.name, "query": s.query, "filters": s.filters, "created": s.created,
                        "matches": len(s.matches)} for s in searches])
                return 0
            if not searches:
                print("No saved searches.")
            for s in searches:
                extra = f"  {s.filters}" if s.filters else ""
                print(f"{s.name}: “{s.query}”{extra}  ({len(s.matches)} new passages so far)")
    except SavedError as exc:
        raise CLIError(str(exc)) from None
    return 0


def _print_result(result) -> None:
    print(f"{result.rank}. {result.citation}  [score {result.score:.2f}]")
    text = " ".join(result.text.split())
    if len(text) > 600:
        text = text[:600].rsplit(" ", 1)[0] + " …"
    print(textwrap.indent(textwrap.fill(text, width=100), "   "))
    print()


def cmd_search(args) -> int:
    if args.batch:
        engine = _engine(args)
        for qid, query, error in _read_batch(args.batch, "query"):
            if error:
                _emit({"id": qid, "error": error})
                continue
            response = engine.search(query, k=args.k, filters=_filters(args),
                                     sort="newest" if args.newest else args.sort)
            _emit({"id": qid, "results": [r.model_dump() for r in response.results]})
        return 0
    if args.query is None:
        raise CLIError("give a QUERY or --batch FILE")
    query = _check_query(args.query)
    engine = _engine(args)
    from searchapi.retrieval.engine import UnknownDocument

    try:
        response = engine.search(query, k=args.k, filters=_filters(args), sort="newest" if args.newest else args.sort)
    except UnknownDocument as exc:
        raise _unknown_document(exc) from None
    if args.json:
        _emit(response.model_dump())
        return 0
    if not response.results:
        print("No passages found.")
    for result in response.results:
        _print_result(result)
    return 0


def cmd_ask(args) -> int:
    from searchapi.answers.answerer import Answerer

    if args.batch:
        answerer = Answerer(_engine(args))
        for qid, question, error in _read_batch(args.batch, "question"):
            if error:
                _emit({"id": qid, "error": error})
                continue
            answer = answerer.ask(question, k=args.k, filters=_filters(args))
            _emit({**answer.model_dump(), "id": qid})
        return 0
    if args.question is None:
        raise CLIError("give a QUESTION or --batch FILE")
    question = _check_query(args.question)
    from searchapi.retrieval.engine import UnknownDocument

    try:
        answer = Answerer(_engine(args)).ask(question, k=args.k, filters=_filters(args))
    except UnknownDocument as exc:
        raise _unknown_document(exc) from None
    if args.newest:  # the passages read newest first; the answer itself is unchanged
        answer.passages.sort(key=lambda r: r.document.date or "", reverse=True)
    if args.json:
        _emit(answer.model_dump())
        return 0
    print(textwrap.fill(answer.answer, width=100))
    if answer.notice:
        print(f"\nNote: {answer.notice}")
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            print(f"  [{c.n}] {c.citation}")
            print(textwrap.indent(textwrap.fill(f"“{c.quote}”", width=94), "      "))
    elif answer.passages:
        print("\nRelated reading:")
        for r in answer.passages[:3]:
            print(f"  - {r.citation}")
    return 0


def cmd_precedent(args) -> int:
    from searchapi.retrieval.engine import UnknownDocument
    from searchapi.meeting.precedent import PrecedentFinder, render_text

    query = _check_query(args.query)
    finder = PrecedentFinder(_engine(args))
    try:
        response = finder.find(query, k=args.k, filters=_filters(args), sort="oldest" if args.oldest else "newest")
    except UnknownDocument as exc:
        raise _unknown_document(exc) from None
    if args.json:
        _emit(response.model_dump())
        return 0
    print(render_text(response) if response.groups else "No paper speaks to this topic.")
    return 0


def cmd_keys(args) -> int:
    from searchapi.service.keys import KeyProblem, KeyStore

    if args.index_dir.exists() and not args.index_dir.is_dir():
        raise CLIError(f"index location {args.index_dir} is a file, not a folder")
    keys = KeyStore(args.index_dir)
    try:
        if args.action == "add":
            key = keys.add(args.name, args.role)
            print(f"Key {args.name!r} ({args.role}) added to {args.index_dir}; it is shown once, keep it safe:")
            print(key)
        elif args.action == "remove":
            keys.remove(args.name)
            print(f"Key {args.name!r} removed.")
        else:
            rows = keys.list()
            for row in rows:
                print(f"{row['name']}\t{row['role']}\t{row['created']}")
            if not rows:
                print("No keys.", file=sys.stderr)
    except KeyProblem as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        raise CLIError(f"cannot write keys in {args.index_dir}: {exc.strerror or exc}") from None
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    from searchapi.service.app import create_app

    from indexer.settings import get_settings

    print(f"ReportSearch on http://{args.host}:{args.port}/  (API docs at /docs)", file=sys.stderr)
    allowed = get_settings().allowed_hosts
    if args.host not in allowed and "*" not in allowed and args.host not in ("0.0.0.0", "::"):
        print(f"note: requests must name an allowed host {allowed}; set REPORTSEARCH_ALLOWED_HOSTS to add "
              f"{args.host!r}", file=sys.stderr)
    elif args.host in ("0.0.0.0", "::"):
        print(f"note: only requests naming {allowed} are answered; set REPORTSEARCH_ALLOWED_HOSTS to the "
              "names people will use (a JSON list)", file=sys.stderr)
    uvicorn.run(create_app(args.index_dir), host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_eval(args) -> int:
    from searchapi.evaluate import run_eval

    from indexer.store import IndexMissing

    if not Path(args.qa_file).is_file():
        raise CLIError(f"cannot read question file {args.qa_file}")
    try:
        return run_eval(Path(args.qa_file), args.index_dir, split=args.split, k=args.k,
                        baselines=not args.no_baselines, json_out=args.json, corpus=args.corpus, cv=args.cv)
    except IndexMissing as exc:
        raise CLIError(str(exc)) from None
    except (ValueError, KeyError, TypeError) as exc:  # a malformed question file
        raise CLIError(f"question file {args.qa_file} is not in the devset format: {exc}") from None


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index-dir", type=Path, default=None,
                        help="index location (default: $REPORTSEARCH_INDEX, else ./.reportsearch)")
    common.add_argument("--as", dest="audience", choices=["all", "public"], default="all",
                        help="read the whole index (default), or only what a public caller sees")
    parser = argparse.ArgumentParser(prog="reportsearch", description="Search and question answering over long formal reports.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", parents=[common], help="index files and folders (incremental)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument("--access", choices=["public", "restricted"], default=None,
                   help="mark these files' papers public or restricted whatever their markings say (kept on later runs)")
    p.add_argument("--ray", metavar="ADDRESS", help="index on a Ray cluster (e.g. 127.0.0.1:6379, auto, local) into shard folders")
    p.add_argument("--shards", type=int, default=None, help="with --ray: number of shards (default: one per node)")
    p.set_defaults(func=cmd_index)

    for name, field, k, func, help_text in [
        ("search", "query", 10, cmd_search, "ranked passages with citations"),
        ("ask", "question", 8, cmd_ask, "an answer with citations"),
    ]:
        p = sub.add_parser(name, parents=[common], help=help_text)
        p.add_argument(field, nargs="?", metavar=field.upper())
        p.add_argument("-k", type=_k, default=k, help=f"passages, 1-100 (default {k})")
        p.add_argument("--json", action="store_true", help=f"print the {name} response as JSON")
        p.add_argument("--batch", metavar="FILE", help=f'JSON Lines of {{"id", "{field}"}}; prints JSON Lines')
        p.set_defaults(func=func)
        if name == "search":
            p.add_argument("--sort", choices=["relevance", "newest"], default="relevance")
        _add_filter_flags(p)

    p = sub.add_parser("saved", help="saved searches: new matches after each re-index")
    saved = p.add_subparsers(dest="action", required=True)
    q = saved.add_parser("add", parents=[common], help="save a search: NAME QUERY [filters]")
    q.add_argument("name", metavar="NAME")
    q.add_argument("query", metavar="QUERY")
    _add_filter_flags(q)
    q = saved.add_parser("list", parents=[common], help="list the saved searches")
    q.add_argument("--json", action="store_true")
    q = saved.add_parser("remove", parents=[common], help="remove a saved search")
    q.add_argument("name", metavar="NAME")
    p.set_defaults(func=cmd_saved)

    p = sub.add_parser("precedent", parents=[common], help="what the papers said on a topic, newest first, with changes")
    p.add_argument("query", metavar="QUERY", help="a topic or a wording")
    p.add_argument("-k", type=_k, default=20, help="papers, 1-100 (default 20)")
    p.add_argument("--json", action="store_true", help="print the precedent response as JSON")
    p.add_argument("--oldest", action="store_true", help="oldest first (default: newest first)")
    _add_filter_flags(p)
    p.set_defaults(func=cmd_precedent)

    p = sub.add_parser("keys", parents=[common], help="API keys: who may see restricted papers")
    keys = p.add_subparsers(dest="action", required=True)
    k = keys.add_parser("add", parents=[common], help="make a key (printed once, on the last line)")
    k.add_argument("name")
    k.add_argument("--role", choices=["public", "member", "officer"], required=True)
    k = keys.add_parser("remove", parents=[common], help="revoke a key")
    k.add_argument("name")
    keys.add_parser("list", parents=[common], help="names, roles and dates of the keys")
    p.set_defaults(func=cmd_keys)

    p = sub.add_parser("serve", parents=[common], help="web page at /, API at /api, docs at /docs")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=8000)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("eval", parents=[common], help="retrieval and answer quality with baselines")
    p.add_argument("qa_file", metavar="QA_FILE")
    p.add_argument("--split", default="test",
                   help="questions whose split is this (dev, test, holdout) or 'all' (default: test, the held-back "
                        "half; a file without split labels is used whole)")
    p.add_argument("-k", type=_k, default=10)
    p.add_argument("--no-baselines", action="store_true")
    p.add_argument("--corpus", type=Path, default=None,
                   help="folder the question set was written on (for the naive-chunk baseline; default: QA_FILE's folder)")
    p.add_argument("--json", action="store_true", help="also print the figures as JSON")
    p.add_argument("--cv", action="store_true", help="also measure the evidence model by nested cross-validation grouped by paper")
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.index_dir = args.index_dir or default_index_dir()
    try:
        _check_settings()
        return args.func(args) or 0
    except CLIError as exc:
        print(f"reportsearch: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("reportsearch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug, not the user's doing: still one line, the traceback on request
        if os.environ.get("REPORTSEARCH_DEBUG"):
            raise
        print(f"reportsearch: error: unexpected {type(exc).__name__}: {exc} "
              "(set REPORTSEARCH_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
