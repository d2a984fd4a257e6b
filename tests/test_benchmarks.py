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
    for heading in ("## 1. Cold `ask`", "## 2. Warm latency", "## 3. Build throughput", "## 4. Vector search at scale"):
        assert heading in text
    assert "cores, Python 3.11" in text
