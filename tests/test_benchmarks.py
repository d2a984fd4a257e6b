"""CI runs the benchmarks' tiny smoke version: the same code paths, a few repeats, every section written."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_benchmark_smoke_run_writes_every_section(tmp_path: Path):
    output = tmp_path / "RESULTS.md"
    result = subprocess.run([sys.executable, "-m", "benchmarks", "--smoke", "--output", str(output)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    text = output.read_text(encoding="utf-8")
    for heading in ("## 1. Cold `ask`", "## 2. Warm latency", "## 3. Build throughput", "## 4. Index at scale"):
        assert heading in text
    assert "cores, Python 3.11" in text


def test_a_partial_run_replaces_only_its_sections(tmp_path: Path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # the benchmarks are scripts in the checkout, not installed
    from benchmarks.__main__ import _replace_sections

    results = tmp_path / "RESULTS.md"
    results.write_text("# Performance results\n\nWritten by x.\n\n## 1. Cold\n\nold one\n\n## 4. Scale\n\nold four\n")
    _replace_sections(results, {4: ["## 4. Scale", "", "new four"]})
    _replace_sections(results, {4: ["## 4. Scale", "", "newer four"]})
    text = results.read_text()
    assert "old one" in text and "newer four" in text and "four" not in text.replace("newer four", "")
    assert text.startswith("# Performance results\n\nWritten by x.\nSections 4 rewritten on ")


def test_the_policy_sweep_asks_dev_json_of_whole_articles_with_verbatim_gold_spans(tmp_path: Path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.policy import SQUAD_DEV, squad_articles

    files, rows = squad_articles(SQUAD_DEV, tmp_path)
    assert [f.name for f in files] == ["Oxygen.txt", "Amazon_rainforest.txt", "Huguenot.txt"]
    assert len(rows) == 1000 and sum(not r["answers"] for r in rows) == 421
    texts = {f.name: f.read_text(encoding="utf-8") for f in files}
    for row in rows:
        assert bool(row["answers"]) == bool(row["answer_spans"])
        for start, end in row["answer_spans"]:
            assert texts[row["doc"]][start:end] in row["answers"]


def test_the_policy_sweep_replays_the_reading_and_changes_only_the_answer(tmp_path: Path, bundled_index_dir: Path):
    import dataclasses

    from benchmarks.policy import Replaying
    from rag.answerer import Policy
    from rag.settings import Settings

    assistant = Replaying(Settings(index_dir=bundled_index_dir), build_missing=False)
    first = assistant.ask("Where will the 27 defense ministers meet?")
    assistant.policy = dataclasses.replace(Policy(), answer_above=float("inf"))
    declined = assistant.ask("Where will the 27 defense ministers meet?")
    assert first.found and not declined.found and len(assistant.seen) == 1
