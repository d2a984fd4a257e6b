"""A build on a real two-node Ray cluster (started by the tests) writes the same index as a local build."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from engines import index_rows

from rag.pipeline import Assistant
from rag.settings import Settings

DATA = Path(__file__).parent / "data"
RAG = str(Path(sys.executable).parent / "rag")


def test_a_ray_build_writes_what_a_local_build_writes(postgres, ray_cluster, tmp_path: Path, onnx_export):
    corpus = tmp_path / "news"
    corpus.mkdir()
    for name in ("normans.txt", "harbour-page.html"):
        (corpus / name).write_bytes((DATA / name).read_bytes())
    (corpus / "paris.txt").write_bytes((Path(__file__).parents[1] / "rag" / "data" /
                                        "paris-coalition-meeting.txt").read_bytes())
    (corpus / "empty.txt").write_text("  \n", encoding="utf-8")  # skipped inside a folder, on Ray as locally
    local, distributed = postgres.create_database("local_build"), postgres.create_database("ray_build")
    env = {**ray_cluster.env, "RAG_CACHE_DIR": os.environ["RAG_CACHE_DIR"]}
    built = subprocess.run([RAG, "build", str(corpus), "--db", local], capture_output=True, text=True, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    on_ray = subprocess.run([RAG, "build", str(corpus), "--db", distributed, "--ray", ray_cluster.address],
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert on_ray.returncode == 0, on_ray.stderr[-3000:]
    assert "3 embedded, 0 reused" in on_ray.stdout and "skipped:" in on_ray.stderr and "empty.txt" in on_ray.stderr
    articles, sentences, chunks = index_rows(local)
    ray_articles, ray_sentences, ray_chunks = index_rows(distributed)
    assert articles == ray_articles and sentences == ray_sentences and chunks.keys() == ray_chunks.keys()
    for key, (*record, vector) in chunks.items():
        *ray_record, ray_vector = ray_chunks[key]
        assert record == ray_record
        assert float(vector @ ray_vector) >= 0.999
    again = subprocess.run([RAG, "build", str(corpus), "--db", distributed, "--ray", ray_cluster.address],
                           capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert again.returncode == 0 and "0 embedded, 3 reused" in again.stdout, again.stderr[-3000:]
    answer = Assistant(Settings(database_url=distributed, threads=1)).ask("In what country is Normandy located?")
    assert answer.found and answer.citations[0].source.endswith("normans.txt")


def test_ray_needs_a_database(tmp_path: Path):
    result = subprocess.run([RAG, "build", str(DATA / "normans.txt"), "--ray", "auto"], capture_output=True,
                            text=True, cwd=tmp_path)
    assert result.returncode == 2 and "--ray builds into a database; give --db URL" in result.stderr
