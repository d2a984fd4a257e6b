"""Answer quality: ``python -m benchmarks.quality`` runs `rag eval`'s measure on the development sets and prints
the table for benchmarks/QUALITY.md.

Sets: the bundled article's questions (paris) and the SQuAD 2.0 Normans article (squad), each in an index of
its own article and in an index of both; news: 60 plain questions on three short news articles of tests/data/news,
in an index of the three; news2: 126 questions on six more of its articles, in an index of all nine (so an
answer can come from another article); and news3: 26 questions on two articles of tests/data/news3, held out from
the choice of the support checks (rag.support), in an index of those two and the nine. Indexes are built in a
temporary folder with the installed model, so the figures are those of a fresh install. Then the answer-kinds set, per kind
(``benchmarks/kinds.py``). Nothing here asserts a target.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.evaluate import Question

from .kinds import kinds_table, measure_kinds

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
NEWS = DATA / "news"
NEWS3 = DATA / "news3"
COLUMNS = {"hit_at_1": "hit@1", "hit_at_3": "hit@3", "mrr": "MRR", "answer_contains_gold": "answer has gold",
           "short_exact": "short EM", "short_f1": "short F1", "median_answer_words": "median words",
           "unanswerable_refused": "unanswerable refused", "answerable_refused": "answerable refused",
           "unanswerable_hedged": "unanswerable hedged", "answerable_hedged": "answerable hedged",
           "sure_short_f1": "short F1 when sure", "sure_precision": "sure precision",
           "answerable_right_sure": "answerable right and sure", "citations_verbatim": "verbatim",
           "latency_p50_ms": "p50 ms"}


def asked_articles(questions: list[Question]) -> list[Path]:
    """Return the files of tests/data/news that a question set asks about, by name."""
    return [NEWS / doc for doc in sorted({row.doc for row in questions})]


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
    questions = {"paris": read_questions(DATA / "paris_questions.jsonl"),
                 "squad": read_questions(DATA / "normans_questions.jsonl"),
                 "news": read_questions(DATA / "news_questions.jsonl"),
                 "news2": read_questions(DATA / "news2_questions.jsonl"),
                 "news3": read_questions(DATA / "news3_questions.jsonl")}
    news = [read_article(path) for path in asked_articles(questions["news"])]
    every_news = [read_article(path) for path in sorted(NEWS.glob("*.txt"))]
    held_out = [read_article(path) for path in sorted(NEWS3.glob("*.txt"))]
    result = []
    with tempfile.TemporaryDirectory(prefix="rag-quality-") as scratch:
        for label, articles, sets in (("", [paris], ["paris"]), ("", [normans], ["squad"]),
                                      (", index of both articles", [paris, normans], ["paris", "squad"]),
                                      ("", news, ["news"]), (", index of nine articles", every_news, ["news2"]),
                                      (", index of eleven articles", every_news + held_out, ["news3"])):
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
    parser.add_argument("--json", type=Path, help="also write every set's whole report (failures too) to this file")
    parser.add_argument("--kinds", action="store_true", help="only the answer-kinds set (benchmarks/kinds.py)")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    print(f"`python -m benchmarks.quality` on {started}")
    if not args.kinds:
        rows = measure(args.threads, args.reader)
        if args.json:
            args.json.write_text(json.dumps(dict(rows), ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"\n{table(rows)}")
    print(f"\nAnswer kinds (tests/data/answer-kinds):\n\n{kinds_table(measure_kinds(args.threads, args.reader))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
