"""Answer quality: ``python -m benchmarks.quality`` runs `rag eval`'s measure on the development sets and prints
the table for benchmarks/QUALITY.md.

Sets: the bundled article's questions (paris) and the SQuAD 2.0 Normans article (squad), each in an index of
its own article and in an index of both; and news: 60 plain questions on three short news articles (tests/data/news),
in an index of the three. Indexes are built in a temporary folder with the installed model, so
the figures are those of a fresh install. Then the answer-kinds set, per kind (``benchmarks/kinds.py``).
Nothing here asserts a target.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from .kinds import kinds_table, measure_kinds

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
COLUMNS = {"hit_at_1": "hit@1", "hit_at_3": "hit@3", "mrr": "MRR", "answer_contains_gold": "answer has gold",
           "short_exact": "short EM", "short_f1": "short F1", "median_answer_words": "median words",
           "unanswerable_refused": "unanswerable refused", "answerable_refused": "answerable refused",
           "unanswerable_hedged": "unanswerable hedged", "answerable_hedged": "answerable hedged",
           "sure_short_f1": "short F1 when sure", "citations_verbatim": "verbatim", "latency_p50_ms": "p50 ms"}


def measure(threads: int, reader_folder: Path | None = None) -> list[tuple[str, dict[str, object]]]:
    """Return (set name, report) for each development set and index."""
    from rag.articles import bundled_article, read_article
    from rag.build import update_index
    from rag.embedder import Embedder
    from rag.evaluate import evaluate, read_questions, report_to_dict
    from rag.pipeline import Assistant
    from rag.reader import Reader
    from rag.settings import Settings

    embedder = Embedder()
    reader = Reader(reader_folder, threads) if reader_folder else None
    paris, normans = bundled_article(), read_article(DATA / "normans.txt")
    news = [read_article(path) for path in sorted((DATA / "news").glob("*.txt"))]
    questions = {"paris": read_questions(DATA / "paris_questions.jsonl"),
                 "squad": read_questions(DATA / "normans_questions.jsonl"),
                 "news": read_questions(DATA / "news_questions.jsonl")}
    result = []
    with tempfile.TemporaryDirectory(prefix="rag-quality-") as scratch:
        for label, articles, sets in (("", [paris], ["paris"]), ("", [normans], ["squad"]),
                                      (", index of both articles", [paris, normans], ["paris", "squad"]),
                                      ("", news, ["news"])):
            folder = Path(scratch) / "-".join(a.doc_id for a in articles)
            settings = Settings(index_dir=folder, threads=threads)
            update_index(articles, folder, embedder, settings)
            assistant = Assistant(settings, build_missing=False, reader=reader)
            for name in sets:
                report = report_to_dict(evaluate(assistant, questions[name]))
                result.append((name + label, report))
                print(json.dumps({"set": name + label, **{c: report[c] for c in COLUMNS}}), flush=True)
    return result


def table(rows: list[tuple[str, dict[str, object]]]) -> str:
    """Return the figures as a markdown table."""
    head = ["set", *COLUMNS.values()]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, report in rows:
        cells = [name] + [f"{report[c]:.0f}" if c == "latency_p50_ms" else f"{report[c]:.2f}"
                          if isinstance(report[c], float) else str(report[c]) for c in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="threads per model (default 1, as a web worker)")
    parser.add_argument("--reader", type=Path, help="a reader model folder to measure instead of the shipped one")
    parser.add_argument("--kinds", action="store_true", help="only the answer-kinds set (benchmarks/kinds.py)")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    print(f"`python -m benchmarks.quality` on {started}")
    if not args.kinds:
        print(f"\n{table(measure(args.threads, args.reader))}")
    print(f"\nAnswer kinds (tests/data/answer-kinds):\n\n{kinds_table(measure_kinds(args.threads, args.reader))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
