"""A short soak of the Procfile's gunicorn (the benchmark's own code, `python -m benchmarks --soak`), and its log.

32 clients send a mix of valid and invalid requests for 20 s; the full 5-minute run is recorded in
benchmarks/RESULTS.md. The server runs with RAG_API_KEY set, so its captured output can be searched
for the key and for the questions and bodies that were sent.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory, bundled_index_dir: Path) -> tuple[dict, str]:
    work = tmp_path_factory.mktemp("soak")
    result = subprocess.run([sys.executable, "-m", "benchmarks", "--soak", "--seconds", "20", "--index",
                             str(bundled_index_dir), "--output", str(work / "RESULTS.md"), "--json",
                             str(work / "figures.json"), "--log", str(work / "server.log")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "## 6. Soak" in (work / "RESULTS.md").read_text(encoding="utf-8")
    return json.loads((work / "figures.json").read_text()), (work / "server.log").read_text(encoding="utf-8")


def test_short_soak_has_no_5xx_no_connection_errors_and_flat_memory(soak: tuple[dict, str]):
    figures, log = soak
    assert figures["requests"] > 200
    assert figures["server_errors"] == 0 and figures["connection_errors"] == 0, figures["error_kinds"]
    assert figures["unexpected_statuses"] == {}
    assert {"200", "400", "401", "404", "405", "413", "415"} <= set(figures["statuses"])
    assert figures["rss_growth_percent"] < 10 and not figures["workers_replaced"]
    assert figures["exit_code"] == 0 and "Traceback" not in log


def test_server_log_holds_no_api_key_question_or_body(soak: tuple[dict, str]):
    figures, log = soak
    assert '"POST /api/ask HTTP/1.1" 200' in log and "Booting worker" in log  # the log was captured
    assert figures["api_key"] not in log
    questions = [json.loads(line)["question"] for line in
                 (ROOT / "tests" / "data" / "paris_questions.jsonl").read_text(encoding="utf-8").splitlines() if line]
    assert not [question for question in questions if question in log]
    for body_part in ("Brussels", "who met", "x" * 100, "question"):
        assert body_part not in log
