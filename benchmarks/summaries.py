"""Summaries: ROUGE of the overview answers on 360 CNN/DailyMail test stories, against Lead-3 and TextRank.

``python -m benchmarks.summaries [--stories PATH]`` adds every story to a fresh index as an article (its
text pasted, as a user would add it), asks "Summarize the article" with the story chosen, and scores the
cited sentences (one a line) against the story's highlights with ``rouge-score`` (F1 x 100, stemmed,
averaged over stories, as the set's SOURCES.md scored Lead-3). Lead-3 and TextRank (PageRank over the same
sentence vectors, no position) are scored on the same sentences of the same index. The stories are for
evaluation only: they are read from ../shared, never copied into the repository. Nothing asserts a target.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STORIES = ROOT.parent / "shared" / "eval" / "news-summaries" / "stories.jsonl"
TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


def textrank(vectors: np.ndarray, count: int, damping: float = 0.85) -> list[int]:
    """Return the ``count`` sentences with the highest PageRank over positive cosine similarity, in order."""
    similarity = np.maximum(vectors @ vectors.T, 0.0)
    np.fill_diagonal(similarity, 0.0)
    walk = similarity / np.maximum(similarity.sum(axis=1, keepdims=True), 1e-9)
    rank = np.full(len(vectors), 1.0 / len(vectors))
    for _ in range(50):
        rank = (1 - damping) / len(vectors) + damping * walk.T @ rank
    return sorted(int(i) for i in np.argsort(-rank, kind="stable")[:count])


def measure(path: Path, threads: int) -> dict[str, object]:
    """Return the mean ROUGE F1 of each method and the overview's timings."""
    from rouge_score import rouge_scorer

    from rag.articles import make_article
    from rag.build import update_index
    from rag.embedder import Embedder
    from rag.overview import article_sentences
    from rag.pipeline import Assistant
    from rag.settings import Settings

    stories = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    scorer = rouge_scorer.RougeScorer(list(TYPES), use_stemmer=True)
    scores: dict[str, dict[str, list[float]]] = {m: {t: [] for t in TYPES} for m in ("overview", "lead-3", "textrank")}
    cold, warm, counts = [], [], []
    with tempfile.TemporaryDirectory(prefix="rag-summaries-") as scratch:
        settings = Settings(index_dir=Path(scratch), threads=threads)
        articles = [make_article(story["article"], f"{story['id']}.txt") for story in stories]
        update_index(articles, Path(scratch), Embedder(), settings)
        assistant = Assistant(settings, build_missing=False)
        assistant.ask("Summarize the article", article=articles[0].doc_id)  # load what the first answer loads
        for number, (story, article) in enumerate(zip(stories, articles)):
            answer = assistant.ask("Summarize the article", article=article.doc_id)
            cold.append(answer.timings_ms["total"])
            if number < 50:
                warm.append(assistant.ask("Summarize the article", article=article.doc_id).timings_ms["total"])
            texts = [article.text[s.start:s.end] for s in article_sentences(assistant.index, article.doc_id)]
            vectors = assistant.encoder.embed(texts)
            counts.append(len(answer.citations))
            picks = {"overview": [c.text for c in answer.citations], "lead-3": texts[:3],
                     "textrank": [texts[i] for i in textrank(vectors, 3)]}
            for method, chosen in picks.items():
                result = scorer.score(story["summary"], "\n".join(chosen))
                for kind in TYPES:
                    scores[method][kind].append(result[kind].fmeasure)
    return {"stories": len(stories),
            "rouge": {m: {t: round(100 * statistics.mean(v), 2) for t, v in by.items()} for m, by in scores.items()},
            "sentences": {n: counts.count(n) for n in sorted(set(counts))},
            "overview_ms_p50_first": round(statistics.median(cold), 1),
            "overview_ms_p50_again": round(statistics.median(warm), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.summaries", description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=Path, default=STORIES, help=f"the stories (default {STORIES})")
    parser.add_argument("--threads", type=int, default=1, help="threads per model (default 1, as a web worker)")
    args = parser.parse_args()
    if not args.stories.is_file():
        parser.error(f"{args.stories} is not there; give --stories PATH.")
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    report = measure(args.stories, args.threads)
    print(f"`python -m benchmarks.summaries` on {started}: {json.dumps(report)}\n")
    print("| method | ROUGE-1 | ROUGE-2 | ROUGE-L | ROUGE-Lsum |\n| --- | --- | --- | --- | --- |")
    for method, figures in report["rouge"].items():  # type: ignore[union-attr]
        print(f"| {method} | " + " | ".join(f"{figures[t]:.2f}" for t in TYPES) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
