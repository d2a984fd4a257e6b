"""Answers written by an LLM: ``python -m benchmarks.llm`` asks the paris and news questions with llama.cpp's
llama-server and SmolLM2-135M-Instruct (from the cache that ``python tests/llama_server.py`` fills) and prints,
for benchmarks/QUALITY.md, how many of the model's quotes pass the check, how many answers fall back to the
extractive one, and how much time the model adds.

The same questions are asked without the model on the same index, so "answer has gold" compares the two. Nothing
here asserts a target; SmolLM2 is the test fixture, not a model worth answering with.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


def _llama_server():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("llama_server", ROOT / "tests" / "llama_server.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def measure(url: str, model: str, limit: int | None, timeout: float) -> list[dict[str, object]]:
    """Return one row per question: what the model's answer kept, dropped and cost."""
    from rag.articles import bundled_article, read_article
    from rag.build import update_index
    from rag.embedder import Embedder
    from rag.evaluate import normalize, read_questions
    from rag.pipeline import Assistant
    from rag.settings import Settings

    embedder = Embedder()
    sets = {"paris": ([bundled_article()], read_questions(DATA / "paris_questions.jsonl")),
            "news": ([read_article(p) for p in sorted((DATA / "news").glob("*.txt"))],
                     read_questions(DATA / "news_questions.jsonl"))}
    rows = []
    with tempfile.TemporaryDirectory(prefix="rag-llm-") as scratch:
        for name, (articles, questions) in sets.items():
            folder = Path(scratch) / name
            settings = Settings(index_dir=folder)
            update_index(articles, folder, embedder, settings)
            plain = Assistant(settings, build_missing=False, embedder=embedder)
            written = Assistant(settings.replace(llm_url=url, llm_model=model, llm_timeout=timeout),
                                build_missing=False, embedder=embedder, reader=plain.reader)
            texts = {a.source: a.text for a in articles}
            for question in questions[:limit]:
                extractive = plain.ask(question.question)
                started = time.perf_counter()
                answer = written.ask(question.question)
                seconds = time.perf_counter() - started
                verbatim = all(texts[c.source][c.start:c.end] == c.text for c in answer.citations)
                gold = [normalize(g) for g in question.answers]
                rows.append({
                    "set": name, "id": question.id, "generated": answer.generated, "found": answer.found,
                    "notice": answer.notice, "kept": len(answer.citations) if answer.generated else 0,
                    "dropped": answer.quotes_dropped, "unsupported": len(answer.unsupported),
                    "sentences": _sentences(answer.answer) if answer.generated else 0,
                    "llm_ms": answer.timings_ms.get("llm", 0.0), "total_s": seconds,
                    "extractive_ms": extractive.timings_ms["total"], "verbatim": verbatim,
                    "gold_llm": any(g in normalize(answer.answer) for g in gold),
                    "gold_extractive": any(g in normalize(extractive.answer) for g in gold)})
                print(json.dumps(rows[-1]), flush=True)
            written.writer.close()  # type: ignore[union-attr]
    return rows


def _sentences(text: str) -> int:
    from rag.llm import sentence_spans

    return len(sentence_spans(text))


def table(rows: list[dict[str, object]]) -> str:
    """Return the figures per set as a markdown table."""
    lines = ["| set | questions | quotes checked | quotes kept | answers shown from the model | declined by the model "
             "| fell back (notice) | sentences unsupported | answer has gold: model / extractive | model ms p50 / p90 "
             "| extractive ms p50 |", "| --- |" + " --- |" * 10]
    for name in dict.fromkeys(str(r["set"]) for r in rows):
        part = [r for r in rows if r["set"] == name]
        kept = sum(int(r["kept"]) for r in part)  # type: ignore[call-overload]
        checked = kept + sum(int(r["dropped"]) for r in part)  # type: ignore[call-overload]
        shown = [r for r in part if r["generated"] and r["found"]]
        declined = sum(1 for r in part if r["generated"] and not r["found"])
        fell = sum(1 for r in part if r["notice"])
        sentences = sum(int(r["sentences"]) for r in shown)  # type: ignore[call-overload]
        unsupported = sum(int(r["unsupported"]) for r in shown)  # type: ignore[call-overload]
        llm = sorted(float(r["llm_ms"]) for r in part)  # type: ignore[arg-type]
        n = len(part)
        lines.append(
            f"| {name} | {n} | {checked} | {kept} ({_share(kept, checked)}) | {len(shown)} ({_share(len(shown), n)}) "
            f"| {declined} | {fell} ({_share(fell, n)}) | {unsupported} of {sentences} "
            f"| {sum(bool(r['gold_llm']) for r in part)} / {sum(bool(r['gold_extractive']) for r in part)} "
            f"| {statistics.median(llm):.0f} / {llm[int(0.9 * (n - 1))]:.0f} "
            f"| {statistics.median(float(r['extractive_ms']) for r in part):.0f} |")  # type: ignore[arg-type]
    assert all(r["verbatim"] for r in rows), "a citation was not the article's own characters"
    return "\n".join(lines)


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.llm", description=__doc__)
    parser.add_argument("--limit", type=int, help="questions per set (default: all)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds the model may take per answer")
    parser.add_argument("--threads", type=int, default=2, help="llama-server threads")
    args = parser.parse_args()
    server = _llama_server()
    found = server.cached()
    if found is None:
        raise SystemExit("llama-server is not built: run `python tests/llama_server.py` first.")
    with server.serve(*found, threads=args.threads) as url:
        rows = measure(url, "smollm2", args.limit, args.timeout)
    print(table(rows))


if __name__ == "__main__":
    main()
