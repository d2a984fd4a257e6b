"""Command line: ``ask QUESTION`` and ``rag add|remove|list|build|info|eval|serve|ask``.

Reads arguments, calls the library, prints. Errors become one sentence on
stderr and a non-zero exit code; heavy modules load only when a command needs them.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .cleaning import shown
from .errors import InputError, RagError
from .settings import Settings


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one sentence, raised as InputError."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{message[0].upper()}{message[1:].rstrip('.')}; see `{self.prog} --help`.")


FILE_EXIT = 7  # a file or folder could not be read or written
INDEX_HELP = "index folder (default: RAG_INDEX_DIR, else rag-news/index in your data folder)"
DB_HELP = "the index in this Postgres database, postgresql://... (default: RAG_DATABASE_URL)"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _ask_parser(prog: str) -> _Parser:
    parser = _Parser(prog=prog, description="Answer a question from the indexed articles, with citations.")
    parser.add_argument("question", help="the question, or - to read one question per line from standard input")
    parser.add_argument("--json", action="store_true", help="print one JSON object per answer")
    parser.add_argument("--index", type=Path, help=INDEX_HELP)
    parser.add_argument("--db", metavar="URL", help=DB_HELP)
    parser.add_argument("-k", type=int, help="how many citations at most (1-50, default 3)")
    parser.add_argument("--model", help="sentence-transformers model name or folder (default: all-MiniLM-L6-v2)")
    _llm_arguments(parser)
    return parser


def _given(text: str) -> str:
    """Return a path or address argument; refuse an empty one (as a path it would mean the whole current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path was given; name a file or folder")
    return text


def _given_path(text: str) -> Path:
    return Path(_given(text))


def _llm_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--llm", metavar="URL", help="an OpenAI-compatible server that writes the answers, e.g. "
                                                     "http://127.0.0.1:11434/v1; the passages are sent to it "
                                                     "(default: RAG_LLM_URL; none: extractive answers)")
    parser.add_argument("--llm-model", metavar="NAME", help="the model to ask for (default: RAG_LLM_MODEL, else the "
                                                            "first one the server lists)")


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env().replace(index_dir=args.index, database_url=getattr(args, "db", None),
                                       model=getattr(args, "model", None),
                                       k=getattr(args, "k", None),
                                       chunk_tokens=getattr(args, "chunk_tokens", None),
                                       chunk_overlap=getattr(args, "chunk_overlap", None),
                                       llm_url=getattr(args, "llm", None), llm_model=getattr(args, "llm_model", None))


def _run_ask(args: argparse.Namespace) -> int:
    from .answerer import answer_to_dict
    from .pipeline import Assistant

    settings = _settings(args)
    if args.question != "-":
        from .pipeline import clean_question

        clean_question(args.question, settings.max_question_chars)
    assistant = Assistant(settings, say=_say, build_missing=args.index is None)
    if args.question != "-":
        answer = assistant.ask(args.question)
        print(json.dumps(answer_to_dict(answer), ensure_ascii=False) if args.json else _render(answer))
        return 0
    for line in sys.stdin:
        question = line.rstrip("\n")
        if not question.strip():
            continue
        try:
            answer = assistant.ask(question)
            output: Any = answer_to_dict(answer) if args.json else _render(answer) + "\n"
        except RagError as error:
            if not args.json:
                _say(f"error: {error}")
                continue
            output = {"question": question, "error": str(error)}
        print(json.dumps(output, ensure_ascii=False) if args.json else output, flush=True)
    return 0


def _render(answer: Any) -> str:
    lines = [answer.answer]
    if answer.generated and answer.found:
        lines.append(f"(written by {answer.model}; every quote checked against the article"
                     + (f"; {len(answer.unsupported)} sentence(s) without a source)" if answer.unsupported else ")"))
    if answer.notice:
        lines.append(f"({answer.notice})")
    if answer.citations:
        lines.append("")
    for citation in answer.citations:
        lines.append(f"[{citation.n}] {citation.title} ({citation.source}, characters {citation.start}-{citation.end})")
        lines.append(f"    \u201c{citation.text}\u201d")
    return "\n".join(lines)


def _run_build(args: argparse.Namespace) -> int:
    from .articles import load_articles
    from .embedder import Embedder
    from .progress import terminal_progress
    from .stores import open_store

    settings = _settings(args)
    if args.ray and not settings.database_url:
        raise InputError("--ray builds into a database; give --db URL or set RAG_DATABASE_URL.")
    store = open_store(settings)
    if not args.force and not store.shared and store.exists():
        store.read_manifest()  # a damaged index folder fails here, before any work (a database build checks its own)
    if args.ray:
        from .raybuild import update_on_ray

        report = update_on_ray(args.paths, settings, args.ray, force=args.force, say=_say)
    else:
        articles = load_articles(args.paths, on_skip=lambda message: _say(f"skipped: {message}"),
                                 max_megabytes=settings.max_article_mb)
        report = store.update(articles, Embedder(settings.model), settings, force=args.force, say=_say,
                              progress=terminal_progress(sys.stderr))
    keeping = "give them too" if settings.database_url else "`rag add` keeps the others"
    for gone in report.removed:  # read under the build's lock from the version it replaced
        _say(f"removed: {shown(gone.source)} \u201c{shown(gone.title)}\u201d (not among the paths given; "
             f"`rag build` makes the index hold exactly them, {keeping})")
    counts = report.index.manifest.counts
    print(f"Indexed {counts['articles']} article(s), {counts['chunks']} chunks, {counts['sentences']} sentences "
          f"in {store.name} ({len(report.embedded)} embedded, {len(report.reused)} reused, "
          f"{len(report.removed)} removed, {report.seconds:.1f} s).")
    return 0


def _run_add(args: argparse.Namespace) -> int:
    from .articles import MEGABYTE, load_articles
    from .embedder import Embedder
    from .fetch import check_url, fetch_article
    from .index import index_exists, read_manifest
    from .library import add_articles
    from .progress import terminal_progress

    settings = _settings(args)
    urls = [item for item in args.items if "://" in item]
    for url in urls:
        check_url(url)  # refuse file:// and the like before reading anything
    paths = [Path(item) for item in args.items if "://" not in item]
    articles = load_articles(paths, on_skip=lambda message: _say(f"skipped: {message}"),
                             max_megabytes=settings.max_article_mb) if paths else []
    articles += [fetch_article(url, settings.max_article_mb * MEGABYTE) for url in urls]
    folder = settings.index_dir
    model = read_manifest(folder).model if index_exists(folder) else settings.model  # the index keeps its model
    change = add_articles(articles, folder, lambda: Embedder(model), settings, say=_say,
                          progress=terminal_progress(sys.stderr))
    for word, group in (("added", change.added), ("updated", change.updated), ("unchanged", change.unchanged)):
        for entry in group:
            print(f"{word}: {shown(entry.source)} \u201c{shown(entry.title)}\u201d ({entry.chunks} chunks)")
    print(f"The index at {folder} holds {len(change.index.manifest.sources)} article(s); none was removed.")
    return 0


def _run_remove(args: argparse.Namespace) -> int:
    from .embedder import Embedder
    from .index import read_manifest
    from .library import remove_articles

    settings = _settings(args)
    model = read_manifest(settings.index_dir).model
    change = remove_articles(args.keys, settings.index_dir, lambda: Embedder(model), settings, say=_say)
    for entry in change.removed:
        print(f"removed: {shown(entry.source)} \u201c{shown(entry.title)}\u201d")
    print(f"The index at {settings.index_dir} holds {len(change.index.manifest.sources)} article(s).")
    return 0


def _run_list(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from .library import entries
    from .stores import open_store

    listed = entries(open_store(_settings(args)).read_manifest())
    if args.json:
        print(json.dumps([asdict(entry) for entry in listed], ensure_ascii=False, indent=2))
        return 0
    for entry in listed:
        size = f"{entry.characters / 1000:.1f}k chars" if entry.characters else "?"
        print(f"{entry.doc_id}  {entry.added[:16].replace('T', ' ') or '?':16}  {size:>12}  "
              f"\u201c{shown(entry.title)}\u201d  {shown(entry.source)}")
    print(f"{len(listed)} article(s).", file=sys.stderr)
    return 0


def _run_info(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from .stores import open_store

    store = open_store(_settings(args))
    manifest = store.read_manifest()
    if args.json:
        print(json.dumps(asdict(manifest), ensure_ascii=False, indent=2))
        return 0
    print(f"Index:    {store.name}")
    print(f"Built:    {manifest.built_at}")
    print(f"Model:    {manifest.model} ({manifest.dimension} dimensions, {manifest.vectors} vector index)")
    print(f"Chunker:  {', '.join(f'{k}={v}' for k, v in manifest.chunker.items())}")
    print(f"Contents: {', '.join(f'{v} {k}' for k, v in manifest.counts.items())}")
    for info in manifest.sources:
        print(f"  {shown(info.source)}  \u201c{shown(info.title)}\u201d  {info.chunks} chunks, {info.sentences} sentences")
    return 0


def _run_eval(args: argparse.Namespace) -> int:
    import dataclasses
    import tempfile

    from .articles import load_articles
    from .build import update_index
    from .embedder import Embedder
    from .evaluate import evaluate, read_questions, report_to_dict
    from .pipeline import Assistant

    questions = read_questions(args.questions)
    settings = _settings(args)
    with tempfile.TemporaryDirectory(prefix="rag-eval-") as scratch:
        if args.corpus:
            settings = dataclasses.replace(settings, index_dir=Path(scratch) / "index", database_url="")
            articles = load_articles(args.corpus, max_megabytes=settings.max_article_mb)
            update_index(articles, settings.index_dir, Embedder(settings.model), settings, say=_say)
        assistant = Assistant(settings, say=_say,
                              build_missing=args.index is None and not args.corpus and not settings.database_url)
        report = evaluate(assistant, questions, k=args.k or 5)
    figures = report_to_dict(report)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return 0
    failures = figures.pop("failures")
    for name, value in figures.items():
        print(f"{name:24} {value}")
    print(f"{'failures':24} {len(failures)} (see --json)")
    return 0


def _run_serve(args: argparse.Namespace) -> int:
    import os

    from .stores import open_store

    settings = _settings(args)
    if args.index is not None or settings.database_url:
        open_store(settings).read_manifest()  # a named index must exist; only the default one is built on first use
    if args.index is not None:
        os.environ["RAG_INDEX_DIR"] = str(args.index)
    if args.db:
        os.environ["RAG_DATABASE_URL"] = args.db
    if args.llm:
        os.environ["RAG_LLM_URL"] = settings.llm_url
    if args.llm_model:
        os.environ["RAG_LLM_MODEL"] = args.llm_model
    from web import create_app

    app = create_app()
    _say(f"Serving on http://{args.host}:{args.port}/ (development server; use the Procfile command in production).")
    app.run(host=args.host, port=args.port, debug=False, threaded=True)
    return 0


def _run_mcp(args: argparse.Namespace) -> int:
    import contextlib

    from .index import read_manifest

    settings = _settings(args)
    if args.index is not None:
        read_manifest(args.index)  # a named index must exist (before the slow imports); only the default is built
    from .mcpserver import run_stdio
    from .pipeline import Assistant

    with contextlib.redirect_stdout(sys.stderr):  # standard output carries the protocol: nothing else goes there
        assistant = Assistant(settings, say=_say, build_missing=args.index is None)
    _say(f"rag-news MCP server on standard input and output, index {settings.index_dir.resolve()} "
         f"({len(assistant.index.manifest.sources)} article(s)); stops when the client closes the connection.")
    run_stdio(assistant)
    return 0


def _rag_parser() -> _Parser:
    parser = _Parser(prog="rag", description="Build indexes of articles and ask questions about them.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add = commands.add_parser("add", help="add articles to an index, keeping the ones it has")
    add.add_argument("items", nargs="+", type=_given, metavar="PATH|URL", help=".txt, .md or .html files, folders of them, "
                                                                  "or http(s) addresses of web pages")
    add.add_argument("--index", type=Path, help=INDEX_HELP)
    add.set_defaults(run=_run_add)
    remove = commands.add_parser("remove", help="remove articles from an index")
    remove.add_argument("keys", nargs="+", metavar="ID|PATH", help="article ids (see `rag list`), names or paths")
    remove.add_argument("--index", type=Path, help=INDEX_HELP)
    remove.set_defaults(run=_run_remove)
    listing = commands.add_parser("list", help="list the articles of an index")
    listing.add_argument("--index", type=Path, help=INDEX_HELP)
    listing.add_argument("--db", metavar="URL", help=DB_HELP)
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(run=_run_list)
    build = commands.add_parser("build", help="make an index hold exactly these files and folders (says what it "
                                              "removes)")
    build.add_argument("paths", nargs="+", type=_given_path, help=".txt, .md or .html files, or folders of them")
    build.add_argument("--index", type=Path, help=INDEX_HELP)
    build.add_argument("--model", help="sentence-transformers model name or folder")
    build.add_argument("--chunk-tokens", type=int, help="chunk size in cl100k tokens (default 128)")
    build.add_argument("--chunk-overlap", type=int, help="tokens of whole sentences shared by neighbours (default 32)")
    build.add_argument("--db", metavar="URL", help="build into this Postgres database instead (RAG_DATABASE_URL)")
    build.add_argument("--ray", metavar="auto|ADDRESS",
                       help="read, split and embed on a Ray cluster (with --db; pip install 'rag-news[ray]')")
    build.add_argument("--force", action="store_true", help="re-embed everything, ignoring the old index")
    build.set_defaults(run=_run_build)
    info = commands.add_parser("info", help="show what an index holds")
    info.add_argument("--index", type=Path, help=INDEX_HELP)
    info.add_argument("--db", metavar="URL", help=DB_HELP)
    info.add_argument("--json", action="store_true", help="print the manifest as JSON")
    info.set_defaults(run=_run_info)
    evaluation = commands.add_parser("eval", help="measure answers against a question set (JSON lines)")
    evaluation.add_argument("questions", type=Path, help="question rows: id, question, doc, answers, answer_spans")
    where = evaluation.add_mutually_exclusive_group()
    where.add_argument("--index", type=Path, help="evaluate this index")
    where.add_argument("--db", metavar="URL", help="evaluate the index in this Postgres database")
    where.add_argument("--corpus", type=Path, nargs="+", help="build a scratch index of these files or folders first")
    evaluation.add_argument("-k", type=int, help="citations per answer (default 5)")
    evaluation.add_argument("--model", help="sentence-transformers model name or folder")
    evaluation.add_argument("--json", action="store_true", help="print the figures and failures as JSON")
    evaluation.set_defaults(run=_run_eval)
    serve = commands.add_parser("serve", help="start the web chat and JSON API (development server)")
    serve.add_argument("--index", type=Path, help=INDEX_HELP)
    serve.add_argument("--db", metavar="URL", help=DB_HELP)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    _llm_arguments(serve)
    serve.set_defaults(run=_run_serve)
    mcp = commands.add_parser("mcp", help="serve the MCP tools ask, search and list_articles over stdio "
                                          "(for an MCP client's config file)")
    mcp.add_argument("--index", type=Path, help="index folder (default: RAG_INDEX_DIR or index/default)")
    mcp.set_defaults(run=_run_mcp)
    ask = commands.add_parser("ask", help="answer a question (same as the `ask` command)",
                              parents=[_ask_parser("rag ask")], add_help=False)
    ask.set_defaults(run=_run_ask)
    return parser


def _main(parse: Any, argv: Sequence[str] | None) -> int:
    try:
        args = parse(argv)
        return int(args.run(args))
    except RagError as error:
        _say(f"error: {error}")
        return error.exit_code
    except KeyboardInterrupt:
        _say("Interrupted.")
        return 130
    except BrokenPipeError:
        return 0
    except OSError as error:  # a folder that is a file, no permission, a full disk: the system's own words
        where = f"{error.filename}: " if error.filename else ""
        _say(f"error: {where}{error.strerror or error}; check that the index folder and the cache folder are "
             "writable folders with free space.")
        return FILE_EXIT
    except Exception as error:  # last resort: a person sees one sentence, never a traceback
        _say(f"error: something unexpected went wrong ({type(error).__name__}: {error}).")
        return 1


def ask_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ask`` command."""
    parser = _ask_parser("ask")
    parser.set_defaults(run=_run_ask)
    return _main(parser.parse_args, argv)


def rag_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rag`` command."""
    return _main(_rag_parser().parse_args, argv)
