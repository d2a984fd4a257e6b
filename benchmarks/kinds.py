"""Answer kinds: how well overviews, who-said-what, lists, explanations and yes/no questions are answered.

The set is tests/data/answer-kinds (ten articles in one index, 82 questions written before tuning; see its
README). Per kind: how often the question is given that kind, whether the first cited sentence is a gold
one, the share of the gold sentences the answer cites, the share of answers citing every gold sentence
(a list or a quote complete), whether every citation is verbatim, and the median time. A citation counts
for a gold sentence when it is in the same article and covers at least half of the shorter of the two.
Overview questions are asked with their article chosen, as in "Ask about"; the others over the index.
"""
from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SET = ROOT / "tests" / "data" / "answer-kinds"
COLUMNS = {"questions": "questions", "classified": "kind found", "first_gold": "first citation gold",
           "gold_cited": "gold cited", "complete": "all gold cited", "verbatim": "verbatim",
           "p50_ms": "p50 ms"}


def covers(start: int, end: int, gold: tuple[int, int]) -> bool:
    """Return whether the span ``start:end`` covers at least half of the shorter of itself and ``gold``."""
    overlap = min(end, gold[1]) - max(start, gold[0])
    return overlap > 0 and overlap >= 0.5 * min(end - start, gold[1] - gold[0])


def articles() -> list:  # type: ignore[type-arg]
    """Return the set's ten articles: its own eight, the bundled Paris article and the Normans article."""
    from rag.articles import bundled_article, read_article

    return [bundled_article(), read_article(ROOT / "tests" / "data" / "normans.txt"),
            *(read_article(path) for path in sorted(SET.glob("*.txt")))]


def measure_kinds(threads: int, reader_folder: Path | None = None) -> list[tuple[str, dict[str, float]]]:
    """Return (kind, figures) for each kind of the set, and for all of them."""
    from rag.build import update_index
    from rag.embedder import Embedder
    from rag.kinds import KINDS, analyse
    from rag.pipeline import Assistant
    from rag.reader import Reader
    from rag.settings import Settings

    rows = [json.loads(line) for line in (SET / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line]
    reader = Reader(reader_folder, threads) if reader_folder else None
    found: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="rag-kinds-") as scratch:
        settings = Settings(index_dir=Path(scratch), threads=threads)
        pieces = articles()
        update_index(pieces, Path(scratch), Embedder(), settings)
        assistant = Assistant(settings, build_missing=False, reader=reader)
        doc_ids = {Path(a.source).name: a.doc_id for a in pieces}
        texts = {a.doc_id: a.text for a in pieces}
        assistant.ask("Summarize the article", article=doc_ids[rows[0]["doc"]])  # warm: load what the first loads
        for row in rows:
            article = doc_ids[row["doc"]] if row["kind"] == "overview" else None
            answer = assistant.ask(row["question"], article=article)
            gold = [tuple(span) for span in row["gold_spans"]]
            mine = [c for c in answer.citations if c.doc_id == doc_ids[row["doc"]]]
            cited = [g for g in gold if any(covers(c.start, c.end, g) for c in mine)]
            first = answer.citations[0] if answer.citations else None
            found.setdefault(row["kind"], []).append({
                "classified": float(analyse(row["question"]).kind == row["kind"]),
                "first_gold": float(first is not None and first in mine
                                    and any(covers(first.start, first.end, g) for g in gold)),
                "gold_cited": len(cited) / len(gold), "complete": float(len(cited) == len(gold)),
                "verbatim": float(all(texts[c.doc_id][c.start:c.end] == c.text for c in answer.citations)),
                "ms": answer.timings_ms["total"]})
    order = [kind for kind in KINDS if kind in found]
    result = [(kind, _figures(found[kind])) for kind in order]
    return result + [("all", _figures([one for kind in order for one in found[kind]]))]


def _figures(rows: list[dict[str, float]]) -> dict[str, float]:
    return {"questions": len(rows), **{name: round(statistics.mean(r[name] for r in rows), 3)
                                       for name in ("classified", "first_gold", "gold_cited", "complete", "verbatim")},
            "p50_ms": round(statistics.median(r["ms"] for r in rows), 1)}


def kinds_table(rows: list[tuple[str, dict[str, float]]]) -> str:
    """Return the per-kind figures as a markdown table."""
    lines = ["| kind | " + " | ".join(COLUMNS.values()) + " |", "|" + " --- |" * (len(COLUMNS) + 1)]
    for kind, figures in rows:
        cells = [str(figures[c]) if c == "questions" else f"{figures[c]:.0f}" if c == "p50_ms" else f"{figures[c]:.2f}"
                 for c in COLUMNS]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
