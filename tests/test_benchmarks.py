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
