"""Command line: ``ask QUESTION`` and ``rag build|info|ask``.

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

from .errors import InputError, RagError
from .settings import Settings


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one sentence, raised as InputError."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{message[0].upper()}{message[1:].rstrip('.')}; see `{self.prog} --help`.")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _ask_parser(prog: str) -> _Parser:
    parser = _Parser(prog=prog, description="Answer a question from the indexed articles, with citations.")
    parser.add_argument("question", help="the question, or - to read one question per line from standard input")
    parser.add_argument("--json", action="store_true", help="print one JSON object per answer")
    parser.add_argument("--index", type=Path, help="index folder (default: RAG_INDEX_DIR or index/default)")
    parser.add_argument("--db", metavar="URL", help="answer from the index in this Postgres database "
                        "(default: RAG_DATABASE_URL)")
    parser.add_argument("-k", type=int, help="how many citations at most (1-50, default 3)")
    parser.add_argument("--model", help="sentence-transformers model name or folder (default: all-MiniLM-L6-v2)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env().replace(index_dir=args.index, database_url=getattr(args, "db", None),
                                       model=getattr(args, "model", None),
                                       k=getattr(args, "k", None),
                                       chunk_tokens=getattr(args, "chunk_tokens", None),
                                       chunk_overlap=getattr(args, "chunk_overlap", None))


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
    if answer.citations:
        lines.append("")
    for citation in answer.citations:
        lines.append(f"[{citation.n}] {citation.title} ({citation.source}, characters {citation.start}-{citation.end})")
        lines.append(f"    \u201c{citation.text}\u201d")
    return "\n".join(lines)


def _run_build(args: argparse.Namespace) -> int:
    from .articles import load_articles
    from .embedder import Embedder
    from .stores import open_store

    settings = _settings(args)
    if args.ray and not settings.database_url:
        raise InputError("--ray builds into a database; give --db URL or set RAG_DATABASE_URL.")
    store = open_store(settings)
    store.live_version()  # an unreachable database fails here, before the model loads
    if args.ray:
        from .raybuild import update_on_ray

        report = update_on_ray(args.paths, settings, args.ray, force=args.force, say=_say)
    else:
        articles = load_articles(args.paths, on_skip=lambda message: _say(f"skipped: {message}"),
                                 max_megabytes=settings.max_article_mb)
        report = store.update(articles, Embedder(settings.model), settings, force=args.force, say=_say,
                              progress=sys.stderr.isatty())
    counts = report.index.manifest.counts
    print(f"Indexed {counts['articles']} article(s), {counts['chunks']} chunks, {counts['sentences']} sentences "
          f"in {store.name} ({len(report.embedded)} embedded, {len(report.reused)} reused, "
          f"{report.seconds:.1f} s).")
    if report.removed:
        _say(f"Removed from the index (not among the paths given): {', '.join(report.removed[:10])}"
             f"{f' and {len(report.removed) - 10} more' if len(report.removed) > 10 else ''}.")
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
    print(f"Model:    {manifest.model} ({manifest.dimension} dimensions, {manifest.vectors} vector index, "
          f"sentence vectors {manifest.sentence_vectors})")
    print(f"Chunker:  {', '.join(f'{k}={v}' for k, v in manifest.chunker.items())}")
    print(f"Contents: {', '.join(f'{v} {k}' for k, v in manifest.counts.items())}")
    for info in manifest.sources:
        print(f"  {info.source}  \u201c{info.title}\u201d  {info.chunks} chunks, {info.sentences} sentences")
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
    from web import create_app

    app = create_app()
    _say(f"Serving on http://{args.host}:{args.port}/ (development server; use the Procfile command in production).")
    app.run(host=args.host, port=args.port, debug=False, threaded=True)
    return 0


def _rag_parser() -> _Parser:
    parser = _Parser(prog="rag", description="Build indexes of articles and ask questions about them.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    build = commands.add_parser("build", help="build or update an index from files and folders")
    build.add_argument("paths", nargs="+", type=Path, help=".txt, .md or .html files, or folders of them")
    build.add_argument("--index", type=Path, help="index folder (default: RAG_INDEX_DIR or index/default)")
    build.add_argument("--model", help="sentence-transformers model name or folder")
    build.add_argument("--chunk-tokens", type=int, help="chunk size in cl100k tokens (default 128)")
    build.add_argument("--chunk-overlap", type=int, help="tokens of whole sentences shared by neighbours (default 32)")
    build.add_argument("--db", metavar="URL", help="build into this Postgres database instead (RAG_DATABASE_URL)")
    build.add_argument("--ray", metavar="auto|ADDRESS",
                       help="read, split and embed on a Ray cluster (with --db; pip install 'rag-news[ray]')")
    build.add_argument("--force", action="store_true", help="re-embed everything, ignoring the old index")
    build.set_defaults(run=_run_build)
    info = commands.add_parser("info", help="show what an index holds")
    info.add_argument("--index", type=Path, help="index folder (default: RAG_INDEX_DIR or index/default)")
    info.add_argument("--db", metavar="URL", help="the index in this Postgres database (RAG_DATABASE_URL)")
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
    serve.add_argument("--index", type=Path, help="index folder (default: RAG_INDEX_DIR or index/default)")
    serve.add_argument("--db", metavar="URL", help="serve the index in this Postgres database (RAG_DATABASE_URL)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    serve.set_defaults(run=_run_serve)
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
