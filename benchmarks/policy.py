"""Answer policy sweep: ``python -m benchmarks.policy`` reads every development question once, then answers it
again under each decline line and sure line, and prints what each line costs and buys.

Sets: those of ``benchmarks.quality`` (each in the index of its own articles; news2 in the index of all nine news
articles) plus ``dev articles``, the 1,000
``dev.json`` questions asked of its three articles (paragraphs joined by blank lines), the reader's own dev set
seen end to end. Reading is the slow part and does not depend on the policy, so each question's findings are
kept from the first pass (``Replaying``); only the answerer runs again. Each row has the calibration figures
(``sure precision``, ``answerable right and sure``; see ``rag.evaluate.judged_right``) beside the others, so the
sure and decline lines can be read off their curves. ``--checks`` answers at the shipped lines instead, under no
support check (``rag.support``), each alone, the shipped ones and all: what each costs and buys. Nothing here
asserts a target.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

from rag.answerer import Policy
from rag.pipeline import Assistant
from rag.support import CHECKS

from .quality import NEWS, NEWS3, asked_articles

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
SQUAD_DEV = DATA / "squad-dev" / "dev.json"  # a copy of ../shared/training/squad/dev.json
DECLINE_LINES = (-11.0, -9.8, -8.0, -6.0, -4.0, -2.0, 0.0)
SURE_LINES = (1.0, 2.0, 2.5, 3.0, 4.0)
SETS = ("paris", "squad", "news", "news2", "news3", "dev articles")


class Replaying(Assistant):
    """An Assistant that reads each (question, query) once and gives the same findings on every later ask."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.seen: dict[tuple[object, ...], object] = {}

    def _find(self, question, query, depth, within, loaded, timings, plan):  # type: ignore[no-untyped-def]
        key = (question, query, depth, within, plan)
        if key not in self.seen:
            self.seen[key] = super()._find(question, query, depth, within, loaded, timings, plan)
        return self.seen[key]


def squad_articles(path: Path, folder: Path) -> tuple[list[Path], list[dict[str, object]]]:
    """Write each article of a SQuAD 2.0 file to ``folder`` (paragraphs joined by blank lines) and return the
    files and the question rows, answer spans moved to the joined text."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    files, rows = [], []
    for article in data:
        name = f"{article['title']}.txt"
        text, at = article["title"].replace("_", " "), 0
        pieces = [text]
        at = len(text) + 2
        for paragraph in article["paragraphs"]:
            pieces.append(paragraph["context"])
            for qa in paragraph["qas"]:
                spans = sorted({(at + a["answer_start"], at + a["answer_start"] + len(a["text"]))
                                for a in qa["answers"]})
                answers = sorted({a["text"] for a in qa["answers"]})
                rows.append({"id": qa["id"], "question": qa["question"], "doc": name,
                             "answers": [] if qa.get("is_impossible") else answers,
                             "answer_spans": [] if qa.get("is_impossible") else [list(s) for s in spans]})
            at += len(paragraph["context"]) + 2
        (folder / name).write_text("\n\n".join(pieces), encoding="utf-8")
        files.append(folder / name)
    return files, rows


def policies(policy: Policy, by_checks: bool) -> list[Policy]:
    """Return the policies to answer under: every (decline line, sure line) with ``policy``'s support checks; or,
    ``by_checks``, ``policy``'s lines with no support check, each check alone, the chosen ones and all of them."""
    if not by_checks:
        return [dataclasses.replace(policy, answer_above=decline, sure_above=sure)
                for decline in DECLINE_LINES for sure in SURE_LINES]
    variants = [(), *[(check,) for check in CHECKS], policy.checks, CHECKS]
    return [dataclasses.replace(policy, checks=checks) for checks in dict.fromkeys(variants)]


def sweep(threads: int, reader_folder: Path | None, policy: Policy,
          names: tuple[str, ...] = SETS, by_checks: bool = False) -> list[dict[str, object]]:
    """Return one row per (set, policy of ``policies``) for the sets named."""
    from rag.articles import bundled_article, load_articles, read_article
    from rag.build import update_index
    from rag.embedder import Embedder
    from rag.evaluate import Question, evaluate, read_questions
    from rag.reader import Reader
    from rag.settings import Settings

    embedder = Embedder()
    reader = Reader(reader_folder, threads) if reader_folder else None
    rows = []
    with tempfile.TemporaryDirectory(prefix="rag-policy-") as scratch:
        squad_folder = Path(scratch) / "squad-dev"
        squad_folder.mkdir()
        dev_files, dev_rows = squad_articles(SQUAD_DEV, squad_folder)
        news = read_questions(DATA / "news_questions.jsonl")
        sets = [("paris", [bundled_article()], read_questions(DATA / "paris_questions.jsonl")),
                ("squad", [read_article(DATA / "normans.txt")], read_questions(DATA / "normans_questions.jsonl")),
                ("news", [read_article(p) for p in asked_articles(news)], news),
                ("news2", [read_article(p) for p in sorted(NEWS.glob("*.txt"))],
                 read_questions(DATA / "news2_questions.jsonl")),
                ("news3", [read_article(p) for p in sorted(NEWS.glob("*.txt")) + sorted(NEWS3.glob("*.txt"))],
                 read_questions(DATA / "news3_questions.jsonl")),
                ("dev articles", load_articles(dev_files),
                 [Question(**row) for row in dev_rows])]  # type: ignore[arg-type]
        for name, articles, questions in [s for s in sets if s[0] in names]:
            folder = Path(scratch) / name.replace(" ", "-")
            settings = Settings(index_dir=folder, threads=threads)
            update_index(articles, folder, embedder, settings)
            assistant = Replaying(settings, build_missing=False, reader=reader, policy=policy)
            for tried in policies(policy, by_checks):
                assistant.policy = tried
                report = evaluate(assistant, questions)
                row = {"set": name, "decline": tried.answer_above, "sure": tried.sure_above,
                       "checks": "+".join(tried.checks) or "none", "hit@1": report.hit_at_1,
                       "short F1": report.short_f1,
                       "unanswerable refused": report.unanswerable_refused,
                       "answerable refused": report.answerable_refused,
                       "unanswerable sure": round(1 - report.unanswerable_refused - report.unanswerable_hedged, 4),
                       "answerable hedged": report.answerable_hedged, "short F1 when sure": report.sure_short_f1,
                       "sure precision": report.sure_precision,
                       "answerable right and sure": report.answerable_right_sure}
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.policy", description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reader", type=Path, help="a reader model folder to measure instead of the shipped one")
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS), help="the sets to sweep (default all)")
    parser.add_argument("--checks", action="store_true",
                        help="sweep the support checks (rag.support) at the shipped lines instead of the lines")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    rows = sweep(args.threads, args.reader, Policy(), tuple(args.sets), args.checks)
    head = list(rows[0])
    print(f"\n`python -m benchmarks.policy` on {started}\n")
    print("| " + " | ".join(head) + " |\n|" + " --- |" * len(head))
    for row in rows:
        print("| " + " | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row.values()) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
