"""The training code must keep working: a few steps on a tiny sample, then export, quantize and load."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from rag.reader import Reader, Text

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "squad-sample"


def test_a_smoke_run_trains_exports_and_loads(tmp_path: Path):
    run, out = tmp_path / "run", tmp_path / "reader"
    done = subprocess.run([sys.executable, "-m", "training", "smoke", "--data", str(SAMPLE), "--run", str(run),
                           "--out", str(out), "--cache", str(tmp_path / "cache"), "--threads", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert any(line.get("event") == "checkpoint" and line["step"] == 3 for line in lines)
    assert lines[-1]["smoke"] == "ok"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["figures"]["dev"]) == {"float", "int8"}
    assert manifest["figures"]["dev"]["int8"]["megabytes"] < manifest["figures"]["dev"]["float"]["megabytes"] / 3
    text = "Warsaw is the capital of Poland. It lies on the Vistula."
    reading = Reader(out).read("What river is Warsaw on?", [Text(text, 0, len(text), ((0, 32), (33, len(text))))])[0]
    assert reading.best is not None and text[reading.best.span_start:reading.best.span_end]
