"""Benchmarks: ``python -m benchmarks [--smoke | --soak [--seconds N]] [--output FILE]`` measures and records speed.

Each figure is printed and written to benchmarks/RESULTS.md beside its floor
measured in the same run (what the stage cannot beat), with the machine and
date. ``--smoke`` runs a tiny version for CI: same code paths, few repeats.
``--soak`` runs only the soak (``soak.py``) and replaces its section, keeping the others; ``--only 7``
times the doors for other tools (``doors.py``: /mcp and /v1 against /api/ under gunicorn).
These are measurements, not tests: nothing here asserts a target.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .doors import run_doors
from .hardening import hardening_section
from .soak import percentile, rss_mb, run_soak, soak_section, start_procfile_server, wait_up, worker_pids

TITLE = "# Performance results"  # the first line of the results file
ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "tests" / "data" / "paris_questions.jsonl"
QUESTION = "who chaired the Paris meeting?"


def wall(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def cold_start(work: Path, repeats: int) -> list[str]:
    """Wall time of a new `ask` process with the index and ONNX export already made, and its floors."""
    env = {**os.environ, "RAG_INDEX_DIR": str(work / "index"), "RAG_CACHE_DIR": str(work / "cache")}
    ask = str(Path(sys.executable).parent / "ask")
    first = wall([ask, QUESTION], env, work)
    runs = [wall([ask, QUESTION], env, work) for _ in range(repeats)]
    help_runs = [wall([ask, "--help"], env, work) for _ in range(repeats)]
    imports = [wall([sys.executable, "-c", "import onnxruntime, tokenizers, faiss, numpy, bm25s"], env, work)
               for _ in range(repeats)]
    python = [wall([sys.executable, "-c", "pass"], env, work) for _ in range(repeats)]
    torch_import = [wall([sys.executable, "-c", "import sentence_transformers"], env, work) for _ in range(min(2, repeats))]
    return [
        "## 1. Cold `ask`",
        "",
        f"New process, `ask \"{QUESTION}\"`, index and ONNX export already made; median of {repeats}.",
        "",
        "| what | seconds |",
        "| --- | --- |",
        f"| first `ask` ever (builds the index, exports the model) | {first:.2f} |",
        f"| **cold `ask`** (target at most 1.5) | **{statistics.median(runs):.2f}** |",
        f"| `ask --help` | {statistics.median(help_runs):.2f} |",
        f"| floor: `python -c pass` | {statistics.median(python):.2f} |",
        f"| floor: importing onnxruntime, tokenizers, faiss, numpy, bm25s | {statistics.median(imports):.2f} |",
        f"| for comparison: importing sentence_transformers (the old query path) | {statistics.median(torch_import):.2f} |",
        "",
    ]


def warm_latency(work: Path, limit: int) -> list[str]:
    """Retrieval, reading and answer per question in a loaded process on one thread, against its stages alone."""
    import numpy as np

    from rag.pipeline import PASSAGES, Assistant
    from rag.reading import read_passages
    from rag.settings import Settings

    os.environ["RAG_CACHE_DIR"] = str(work / "cache")
    assistant = Assistant(Settings(index_dir=work / "index", threads=1), build_missing=False)
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()][:limit]
    for question in questions[:3]:
        assistant.ask(question)
    totals, encode, search, read, windows = [], [], [], [], []
    for question in questions * 2:
        started = time.perf_counter()
        assistant.ask(question)
        totals.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        vector = assistant.encoder.embed([question])
        encode.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        assistant.index.chunk_vectors.search(np.ascontiguousarray(vector), 50)
        search.append((time.perf_counter() - started) * 1000)
        passages = assistant.retriever.retrieve(question, vector[0], PASSAGES)
        started = time.perf_counter()
        findings = read_passages(assistant.reader, question, passages, assistant.index, assistant.plan)
        read.append((time.perf_counter() - started) * 1000)
        windows.append(findings.read)
    encoder = type(assistant.encoder).__name__
    return [
        "## 2. Warm latency",
        "",
        f"{len(totals)} asks of the bundled article's questions in one loaded process on one thread "
        f"(`RAG_THREADS=1`, as each web worker runs; {encoder}, int8 ONNX reader).",
        "",
        "| what | p50 ms | p95 ms |",
        "| --- | --- | --- |",
        f"| **ask: encode + retrieve + read + answer** (target p50 at most 60) | **{statistics.median(totals):.1f}** | "
        f"{percentile(totals, 0.95):.1f} |",
        f"| the reader alone (passages read: median {statistics.median(windows):.0f}, mean "
        f"{statistics.mean(windows):.1f}) | {statistics.median(read):.1f} | {percentile(read, 0.95):.1f} |",
        f"| floor: encoding the question alone | {statistics.median(encode):.1f} | {percentile(encode, 0.95):.1f} |",
        f"| floor: FAISS search alone | {statistics.median(search):.3f} | {percentile(search, 0.95):.3f} |",
        "",
    ]


def build_throughput(work: Path, copies: int) -> list[str]:
    """Chunks per second of a build against a bare encode of the chunk texts, and where its time goes."""
    from rag.articles import bundled_article, make_article
    from rag.build import build_index
    from rag.embedder import Embedder
    from rag.settings import Settings

    embedder = Embedder()
    text = bundled_article().text.split("Share:")[0]
    articles = [make_article(text.replace("Paris", f"Paris{n}"), f"copy{n}.txt") for n in range(copies)]
    build_index(articles[:1], embedder, Settings())  # loads spaCy and warms the model
    started = time.perf_counter()
    report = build_index(articles, embedder, Settings())
    seconds = time.perf_counter() - started
    chunks = [chunk.text for chunk in report.index.chunks]
    started = time.perf_counter()
    embedder.model.encode(chunks, batch_size=64)
    bare = time.perf_counter() - started
    shares = _build_profile(articles, embedder)
    return [
        "## 3. Build throughput",
        "",
        f"{copies} articles, {len(chunks)} chunks and {len(report.index.sentences)} sentences, built in one warm "
        "process.",
        "",
        "| what | seconds | chunks/s |",
        "| --- | --- | --- |",
        f"| **`build_index`** (split sentences, chunk, embed chunks, BM25) | {seconds:.1f} | "
        f"**{len(chunks) / seconds:.1f}** |",
        f"| floor: bare `SentenceTransformer.encode` of the chunks | {bare:.1f} | {len(chunks) / bare:.1f} |",
        "",
        f"Ratio to the floor: **{bare / seconds:.2f}** (target 0.9).",
        "",
        "Where a build's time goes (cProfile of one more build, cumulative time of each stage as a share of the "
        "whole):",
        "",
        "| stage | share |",
        "| --- | --- |",
        *[f"| {stage} | {share:.0%} |" for stage, share in shares],
        "",
    ]


def _build_profile(articles: list, embedder: object) -> list[tuple[str, float]]:
    """Profile one build; return the share of its time in each stage."""
    import cProfile
    import pstats

    from rag.build import build_index
    from rag.settings import Settings

    profiler = cProfile.Profile()
    profiler.runcall(build_index, articles, embedder, Settings())
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = max(entry[3] for entry in stats.values())
    stages = {("sentences.py", "split_sentences"): "spaCy: sentence boundaries (`split_sentences`)",
              ("embedder.py", "embed"): "model: embedding the chunks (`Embedder.embed`)",
              ("chunker.py", "chunk_article"): "chunking with tiktoken (`chunk_article`)",
              ("index.py", "vector_index"): "FAISS index (`vector_index`)",
              ("lexical.py", "index"): "BM25 index (`Bm25.index`)"}
    shares = []
    for (module, name), label in stages.items():
        seconds = sum(entry[3] for (path, _, function), entry in stats.items()
                      if function == name and path.endswith(f"rag/{module}"))
        shares.append((label, seconds / total))
    return shares + [("everything else", max(0.0, 1 - sum(share for _, share in shares)))]


NORMANS = ROOT / "tests" / "data" / "normans.txt"


def _varied(text: str, copy: int) -> str:
    """Return ``text`` with its digits shifted by ``copy`` (same length, so chunk offsets still hold)."""
    shift = copy % 10
    return text.translate(str.maketrans("0123456789", "0123456789"[shift:] + "0123456789"[:shift]))


def index_scale(work: Path, tiers: list[int]) -> list[str]:
    """Whole indexes of 10^4.. chunks written and read through the real save/load path.

    Records are real texts (the bundled article and the Normans article, copied with varied digits) with their
    real sentences; chunk vectors are their real embeddings plus Gaussian noise.
    Each index is then loaded and queried in a new process (``--probe``), so load time and memory are its own.
    """
    import faiss
    import numpy as np

    from rag.articles import Article, bundled_article, read_article
    from rag.build import build_index, chunker_settings
    from rag.embedder import Embedder
    from rag.index import Index, Manifest, SourceInfo, save_index, vector_index
    from rag.lexical import Bm25
    from rag.settings import Settings

    embedder = Embedder()
    base = build_index([bundled_article(), read_article(NORMANS)], embedder, Settings()).index
    base_chunks, base_articles = list(base.chunks), list(base.articles)
    dimension = base.manifest.dimension
    questions = [json.loads(line)["question"] for path in (QUESTIONS, NORMANS.with_name("normans_questions.jsonl"))
                 for line in path.read_text(encoding="utf-8").splitlines()]
    sentence_texts = [base.sentence_text(n) for n in range(len(base.sentences))]
    real = np.vstack([base.chunk_vectors.reconstruct_n(0, len(base_chunks)), embedder.embed(sentence_texts),
                      embedder.embed(questions)])
    rng = np.random.default_rng(7)
    rows = ["## 4. Index at scale", "",
            f"Each tier is a whole index saved by `save_index` and loaded by `load_index` (records in SQLite, "
            f"vectors and BM25 memory-mapped). Records: the bundled article and the Normans article "
            f"({len(base_chunks)} real chunks, {len(base.sentences)} sentences), copied with varied digits as new articles. Chunk vectors: the {len(real)} real embeddings of "
            "those chunks, sentences and the development questions in turn, each plus Gaussian noise (sigma "
            "0.02 per dimension), normalized; 200 queries made the same way for recall@10 against exact search. "
            f"FAISS kind by size (`flat` below {Settings().hnsw_from:,} chunks, "
            "`hnsw32` from there). Queried in a new process: FAISS alone; *passages* = dense + BM25 fusion with "
            f"the 8 best chunks' records and articles fetched ({len(questions)} real development questions); "
            "*read* = the reader reading those passages for the question (`read_passages`, one thread). RSS: the probe process after loading, minus before (imports and the query encoder); Python "
            "objects: `gc.get_objects()` after loading.", "",
            "| chunks | kind | build + save s | disk bytes/chunk | load s | RSS of the index MB | Python objects | "
            "FAISS p50 / p95 ms | recall@10 | passages p50 / p95 ms | read p50 / p95 ms |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for size in tiers:
        copies = -(-size // len(base_chunks))
        started = time.perf_counter()
        articles: list[Article] = []
        for copy in range(copies):
            for article in base_articles:
                articles.append(Article(f"copy{copy}/{article.source}", f"{article.title} ({copy})",
                                        _varied(article.text, copy), article.body_start, article.body_end))
        owners = [base.source_numbers[c.source] for c in base_chunks]
        chunks = [type(c)(articles[copy * len(base_articles) + owner].source, c.ordinal, c.start, c.end,
                          articles[copy * len(base_articles) + owner].text[c.start:c.end])
                  for copy in range(copies) for c, owner in zip(base_chunks, owners)]
        sentences_per_copy = len(base.sentences)
        chunk_sentences = [(first + copy * sentences_per_copy, stop + copy * sentences_per_copy)
                           for copy in range(copies) for first, stop in base.chunk_sentences]
        sentence_source = [owner + copy * len(base_articles) for copy in range(copies) for owner in base.sentence_source]
        noisy = real[np.arange(len(chunks)) % len(real)] + rng.normal(0, 0.02, (len(chunks), dimension))
        vectors = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
        del noisy
        chunk_index, kind = vector_index(vectors, dimension, Settings().hnsw_from)
        infos = [SourceInfo(a.source, a.title, a.doc_id, a.digest, None, info.chunks, info.sentences)
                 for a, info in zip(articles, base.manifest.sources * copies)]
        manifest = Manifest(embedder.model_id, dimension, chunker_settings(Settings()), infos, vectors=kind,
                            counts={"articles": len(articles), "chunks": len(chunks),
                                    "sentences": len(sentence_source)})
        index = Index(manifest, articles, chunks, list(base.sentences) * copies, sentence_source, chunk_sentences,
                      {a.source: n for n, a in enumerate(articles)}, chunk_index,
                      Bm25.index([c.text for c in chunks]))
        folder = work / f"scale-{size}"
        version = save_index(index, folder)
        build_seconds = time.perf_counter() - started
        disk = sum(path.stat().st_size for path in version.rglob("*") if path.is_file())
        del index, chunks, articles, chunk_index
        queries = real[rng.integers(0, len(real), 200)] + rng.normal(0, 0.02, (200, dimension))
        queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
        exact = faiss.IndexFlatIP(dimension)
        exact.add(vectors)
        np.save(work / "queries.npy", queries)
        np.save(work / "truth.npy", exact.search(queries, 10)[1])
        del exact, vectors
        probe = subprocess.run([sys.executable, "-m", "benchmarks", "--probe", str(folder), "--output",
                                str(work / "unused.md")], cwd=ROOT, capture_output=True, text=True,
                               env={**os.environ, "RAG_CACHE_DIR": str(work / "cache")})
        if probe.returncode:
            raise RuntimeError(probe.stderr[-2000:])
        got = json.loads(probe.stdout.strip().splitlines()[-1])
        rows.append(f"| {manifest.counts['chunks']:,} | {kind} | {build_seconds:.0f} | "
                    f"{disk / manifest.counts['chunks']:,.0f} | {got['load']:.2f} | {got['rss']:,.0f} | "
                    f"{got['objects']:,} | {got['faiss'][0]:.2f} / {got['faiss'][1]:.2f} | {got['recall']:.3f} | "
                    f"{got['passages'][0]:.1f} / {got['passages'][1]:.1f} | "
                    f"{got['read'][0]:.0f} / {got['read'][1]:.0f} |")
        print(rows[-1], flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    return rows + [""]


def probe(folder: Path, work: Path) -> dict[str, object]:
    """Load the index in ``folder`` in this (new) process and time its queries; see ``index_scale``."""
    import gc

    import numpy as np

    from rag.index import load_index
    from rag.pipeline import PASSAGES
    from rag.queryencoder import load_onnx_encoder
    from rag.reader import Reader
    from rag.reading import read_passages
    from rag.retriever import Retriever
    from rag.stores.folder import FolderSnapshot

    encoder = load_onnx_encoder("sentence-transformers/all-MiniLM-L6-v2")
    assert encoder is not None, "the ONNX export is made by the earlier sections"
    questions = [json.loads(line)["question"] for path in (QUESTIONS, NORMANS.with_name("normans_questions.jsonl"))
                 for line in path.read_text(encoding="utf-8").splitlines()]
    encoded = [encoder.embed([question])[0] for question in questions]
    reader = Reader(threads=1)
    before = rss_mb([os.getpid()])[0]
    started = time.perf_counter()
    index = FolderSnapshot.of(load_index(folder))
    retriever = Retriever(index)
    load = time.perf_counter() - started
    rss = rss_mb([os.getpid()])[0] - before
    objects = len(gc.get_objects())
    queries, truth = np.load(work / "queries.npy"), np.load(work / "truth.npy")
    faiss_times, found = [], []
    for query, expected in zip(queries, truth):
        started = time.perf_counter()
        ids = index.chunk_vectors.search(query.reshape(1, -1), 10)[1][0]
        faiss_times.append((time.perf_counter() - started) * 1000)
        found.append(len(set(ids) & set(expected)) / 10)
    passages, read = [], []
    for question, vector in zip(questions, encoded):
        started = time.perf_counter()
        retrieved = retriever.retrieve(question, vector, PASSAGES)
        passages.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        read_passages(reader, question, retrieved, index)
        read.append((time.perf_counter() - started) * 1000)
    return {"load": load, "rss": rss, "objects": objects, "recall": statistics.mean(found),
            "faiss": [statistics.median(faiss_times), percentile(faiss_times, 0.95)],
            "passages": [statistics.median(passages), percentile(passages, 0.95)],
            "read": [statistics.median(read), percentile(read, 0.95)]}


WRK_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"question": "who chaired the Paris meeting?"}'
"""


def load_test(work: Path, seconds: int, connection_counts: list[int]) -> list[str]:
    """The Procfile's gunicorn command under wrk: requests/s, latency, errors, worker memory."""
    import re

    if not shutil.which("wrk"):
        return ["## 5. Load", "", "Skipped: `wrk` is not installed (`apt-get install -y wrk`).", ""]
    server, port = start_procfile_server({"RAG_INDEX_DIR": str(work / "index"), "RAG_CACHE_DIR": str(work / "cache")},
                                         subprocess.DEVNULL, access_log=False)
    (work / "post.lua").write_text(WRK_SCRIPT, encoding="utf-8")
    rows = ["## 5. Load", "",
            f"The Procfile's command (gunicorn, 2 workers, `--preload`) on this machine; wrk for {seconds} s per "
            "row, POSTing the README question with keep-alive. Floor: wrk against `/api/health` (no model work).",
            "", "| connections | target | requests/s | p50 ms | p99 ms | errors | worker RSS before -> after MB |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(server, port)
        workers = worker_pids(server)
        for connections in connection_counts:
            for target, extra in (("/api/ask", ["-s", str(work / "post.lua")]), ("/api/health", [])):
                before = rss_mb(workers)
                output = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency",
                                         *extra, base + target], capture_output=True, text=True).stdout
                after = rss_mb(workers)
                rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
                p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", output)
                p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
                errors = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|connect|read|write|timeout)"
                                                         r"[: ]+(\d+)", output))

                def ms(match: re.Match[str] | None) -> str:
                    if not match:
                        return "?"
                    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
                    return f"{float(match.group(1)) * scale:.1f}"

                rows.append(f"| {connections} | `{target}` | {rate.group(1) if rate else '?'} | {ms(p50)} | "
                            f"{ms(p99)} | {errors} | {' / '.join(f'{b:.0f} -> {a:.0f}' for b, a in zip(before, after))} |")
    finally:
        server.terminate()
        server.wait(timeout=60)
    return rows + [""]


def _bundled_index(args: argparse.Namespace, scratch: str) -> Path:
    """Return ``--index``, or an index of the bundled article built in ``scratch``."""
    from rag.articles import bundled_article
    from rag.build import update_index
    from rag.embedder import Embedder
    from rag.settings import Settings

    if args.index:
        return args.index
    index = Path(scratch) / "index"
    update_index([bundled_article()], index, Embedder(), Settings(index_dir=index))
    return index


def soak(args: argparse.Namespace) -> list[str]:
    """Run the soak on an index of the bundled article; write its figures as JSON if asked."""
    with tempfile.TemporaryDirectory(prefix="rag-soak-") as scratch:
        index = _bundled_index(args, scratch)
        figures = run_soak(index, args.seconds, args.clients, args.log or Path(scratch) / "server.log",
                           warmup=min(30.0, args.seconds / 10))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return soak_section(figures)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny run for CI")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    parser.add_argument("--large", action="store_true", help="add the 10^6-chunk tier (about half an hour, ~6 GB)")
    parser.add_argument("--only", help="run only these sections, e.g. 3,4, and replace them in --output")
    parser.add_argument("--tiers", help="chunk counts of section 4, e.g. 10000,1000000")
    parser.add_argument("--soak", action="store_true", help="run only the soak (section 6) and update its section")
    parser.add_argument("--seconds", type=float, default=300, help="soak length in seconds (default 300)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent soak clients (default 32)")
    parser.add_argument("--json", type=Path, help="also write the soak figures to this JSON file")
    parser.add_argument("--log", type=Path, help="keep the soak server's log in this file")
    parser.add_argument("--index", type=Path, help="soak (or time the doors of) this index instead of building one "
                                                   "of the bundled article")
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)  # index_scale's query process
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe, args.probe.parent)))
        return 0
    repeats, questions, copies = (2, 6, 2) if args.smoke else (5, 64, 40)
    tiers = [2_000] if args.smoke else [10_000, 100_000] + ([1_000_000] if args.large else [])
    tiers = [int(n) for n in args.tiers.split(",")] if args.tiers else tiers
    every = {1, 2, 3, 4, 5}  # the soak (6), the doors (7) and the hardening load (9) run only when asked (--only 6,7,9)
    only = {6} if args.soak else {int(n) for n in args.only.split(",")} if args.only else every
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as scratch:
        work = Path(scratch)
        if only & {2, 3, 4, 5} and 1 not in only:
            cold_start(work, 1)  # these sections need the index and the ONNX export it makes
        sections = [
            (1, lambda: cold_start(work, repeats)), (2, lambda: warm_latency(work, questions)),
            (3, lambda: build_throughput(work, copies)), (4, lambda: index_scale(work, tiers)),
            (5, lambda: ["## 5. Load", "", "Not run in the smoke version.", ""] if args.smoke
             else load_test(work, 60, [16, 64])),
            (6, lambda: soak(args)),
            (7, lambda: run_doors(_bundled_index(args, scratch), 5 if args.smoke else 200)),
            (9, lambda: hardening_section(_bundled_index(args, scratch), work, args.smoke))]
        written = {number: make() for number, make in sections if number in only}
    if only != every and args.output.is_file():
        return _replace_sections(args.output, written)
    header = [
        TITLE,
        "",
        f"Written by `python -m benchmarks{' --smoke' if args.smoke else ''}` on {time.strftime('%Y-%m-%d %H:%M %Z')}; "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}.",
        "",
    ]
    kept = _sections(args.output.read_text(encoding="utf-8"))[1] if args.output.is_file() else {}
    kept.update({number: "\n".join(lines + [""]) for number, lines in written.items()})
    text = "\n".join(header) + "\n" + "".join(kept[n] for n in sorted(kept))
    args.output.write_text(text, encoding="utf-8")
    print(text)
    return 0


def _sections(text: str) -> tuple[str, dict[int, str]]:
    """Split a results file into its head and its ``## N. ...`` sections by number."""
    import re

    parts = re.split(r"(?m)^(?=## \d+\. )", text)
    return parts[0], {int(part[3:part.index(".")]): part for part in parts[1:]}


def _replace_sections(path: Path, written: dict[int, list[str]]) -> int:
    """Put the sections just measured in place of the same-numbered ones in ``path``, keeping the others."""
    head, kept = _sections(path.read_text(encoding="utf-8") if path.is_file() else TITLE + "\n")
    for number, lines in written.items():
        kept[number] = "\n".join(lines + [""])
    lines = [line for line in head.rstrip("\n").splitlines() if not line.startswith("Sections ")]
    stamp = f"Sections {', '.join(map(str, sorted(written)))} rewritten on {time.strftime('%Y-%m-%d %H:%M %Z')}."
    text = "\n".join(lines + [stamp, "", ""]) + "".join(kept[n] for n in sorted(kept))
    path.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
