from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag.articles import bundled_article, make_article
from rag.build import stale_reason, update_index
from rag.errors import BrokenIndexError
from rag.index import load_index, read_manifest
from rag.settings import Settings

STORY = "Ministers met in Rome on Monday. They agreed to share radar data. The talks ended early.\n\nMore talks follow in May."


def test_round_trip_keeps_everything(bundled_index_dir: Path):
    index = load_index(bundled_index_dir)
    manifest = index.manifest
    assert manifest.format == "rag-index v3" and manifest.dimension == 384
    assert manifest.model == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest.chunker["tokenizer"] == "cl100k_base"
    assert manifest.sources[0].sha256 == bundled_article().digest
    assert index.chunk_vectors.ntotal == len(index.chunks) == manifest.counts["chunks"]
    for chunk in index.chunks:
        assert index.article(chunk.source).text[chunk.start:chunk.end] == chunk.text
    assert len(index.sentences) == manifest.counts["sentences"] == len(list(index.sentences))
    assert index.chunks[-1] == list(index.chunks)[-1] == index.chunks[len(index.chunks) - 1]
    first, stop = index.chunk_sentences[0]
    assert index.sentence_text(first) in index.chunks[0].text
    version = bundled_index_dir / index.version
    assert sorted(p.name for p in version.iterdir()) == ["bm25", "chunks.faiss", "manifest.json", "records.sqlite"]


def test_partial_rebuild_reembeds_only_what_changed(tmp_path: Path, embedder):
    folder = tmp_path / "index"
    settings = Settings(index_dir=folder)
    one, two = make_article(STORY, "one.txt"), make_article(STORY.replace("Rome", "Oslo"), "two.txt")
    first = update_index([one, two], folder, embedder, settings)
    assert sorted(first.embedded) == ["one.txt", "two.txt"]
    changed = make_article(STORY.replace("radar", "satellite"), "two.txt")
    assert stale_reason(load_index(folder), [one, changed], settings, embedder.model_id) == "its articles changed"
    second = update_index([one, changed], folder, embedder, settings)
    assert second.embedded == ["two.txt"] and second.reused == ["one.txt"]
    reloaded = load_index(folder)
    fresh = update_index([one, changed], tmp_path / "fresh", embedder, settings, force=True).index
    assert np.allclose(reloaded.chunk_vectors.reconstruct_n(0, len(reloaded.chunks)),
                       fresh.chunk_vectors.reconstruct_n(0, len(fresh.chunks)), atol=1e-5)
    assert [c.text for c in reloaded.chunks] == [c.text for c in fresh.chunks]
    assert stale_reason(reloaded, [one, changed], settings, embedder.model_id) is None
    assert stale_reason(reloaded, [one, changed], settings.replace(chunk_tokens=64), embedder.model_id)


def test_mismatched_model_is_refused_with_what_to_run(bundled_index_dir: Path):
    with pytest.raises(BrokenIndexError, match="built with sentence-transformers/all-MiniLM-L6-v2.*rag build"):
        load_index(bundled_index_dir, model="other/model")


def _copy(source: Path, target: Path) -> Path:
    subprocess.run(["cp", "-r", str(source), str(target)], check=True)
    return target


@pytest.mark.parametrize("damage, message", [
    ("manifest_garbage", "damaged"),
    ("future_format", "format"),
    ("truncated_faiss", "damaged"),
    ("missing_store", "damaged"),
    ("garbled_store", "damaged"),
    ("missing_bm25", "damaged"),
    ("no_pointer", "no index"),
])
def test_damaged_indexes_give_one_clear_sentence(tmp_path: Path, bundled_index_dir: Path, damage: str, message: str):
    folder = _copy(bundled_index_dir, tmp_path / "copy")
    version = folder / (folder / "CURRENT").read_text().strip()
    if damage == "manifest_garbage":
        (version / "manifest.json").write_text("{not json")
    elif damage == "future_format":
        raw = json.loads((version / "manifest.json").read_text())
        (version / "manifest.json").write_text(json.dumps({**raw, "format": "rag-index v99"}))
    elif damage == "truncated_faiss":
        data = (version / "chunks.faiss").read_bytes()
        (version / "chunks.faiss").write_bytes(data[: len(data) // 2])
    elif damage == "missing_store":
        (version / "records.sqlite").unlink()
    elif damage == "garbled_store":
        (version / "records.sqlite").write_bytes(b"not a database" * 100)
    elif damage == "missing_bm25":
        shutil.rmtree(version / "bm25")
    else:
        (folder / "CURRENT").unlink()
    with pytest.raises(BrokenIndexError, match=message) as caught:
        load_index(folder)
    assert "\n" not in str(caught.value) and "rag build" in str(caught.value)


@pytest.mark.parametrize("damage, message", [
    ("flipped_faiss_bytes", "chunks.faiss does not match its checksum"),
    ("edited_article_text", "does not match its checksum"),
    ("sentence_past_the_text", "a sentence lies outside its article"),
    ("chunk_sentences_out_of_range", "sentence range lies outside its article"),
    ("counts_null", "its 'counts' is not a dict"),
])
def test_silent_corruption_is_caught_before_it_changes_an_answer(tmp_path: Path, bundled_index_dir: Path, embedder,
                                                                damage: str, message: str):
    import sqlite3

    from rag.pipeline import Assistant

    folder = _copy(bundled_index_dir, tmp_path / "copy")
    version = folder / (folder / "CURRENT").read_text().strip()
    if damage == "flipped_faiss_bytes":
        data = bytearray((version / "chunks.faiss").read_bytes())
        for at in range(len(data) // 2, len(data) // 2 + 200):  # inside the vectors: the file still loads
            data[at] ^= 0x5A
        (version / "chunks.faiss").write_bytes(bytes(data))
    elif damage == "counts_null":
        raw = json.loads((version / "manifest.json").read_text())
        (version / "manifest.json").write_text(json.dumps({**raw, "counts": None}))
    else:
        os.chmod(version / "records.sqlite", 0o644)
        with sqlite3.connect(version / "records.sqlite") as db:
            db.execute({"edited_article_text": "UPDATE articles SET text = replace(text, '7', '57')",
                        "sentence_past_the_text": "UPDATE sentences SET end = end + 1000000",
                        "chunk_sentences_out_of_range": "UPDATE chunks SET stop_sentence = stop_sentence + 999"}[damage])
    with pytest.raises(BrokenIndexError, match=message) as caught:
        assistant = Assistant(Settings(index_dir=folder), build_missing=False, embedder=embedder)
        assistant.ask("How much money did the coalition pledge?")
    assert "\n" not in str(caught.value) and f"--index {folder} --force" in str(caught.value)


def test_a_killed_build_leaves_the_previous_index_usable(tmp_path: Path, bundled_index_dir: Path):
    folder = _copy(bundled_index_dir, tmp_path / "live")
    before = read_manifest(folder)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n in range(30):
        (corpus / f"story{n}.txt").write_text((STORY + f" Item {n}.\n\n") * 20, encoding="utf-8")
    for delay in (1.0, 4.0, 7.0):
        process = subprocess.Popen([sys.executable, "-m", "rag", "build", str(corpus), "--index", str(folder)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        index = load_index(folder)
        assert read_manifest(folder).sources in (before.sources, index.manifest.sources)
        assert index.chunk_vectors.ntotal == len(index.chunks)


def test_the_faiss_index_kind_follows_the_size():
    from rag.index import vector_index

    vectors = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    flat, kind = vector_index(vectors, 16, hnsw_from=1000)
    assert kind == "flat" and flat.ntotal == 300
    graph, kind = vector_index(vectors, 16, hnsw_from=100)
    assert kind == "hnsw32" and graph.ntotal == 300
    exact = flat.search(vectors[:50], 10)[1]
    approximate = graph.search(vectors[:50], 10)[1]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, approximate)])
    assert recall >= 0.95
    assert vector_index(vectors[:0], 16, hnsw_from=1)[0].ntotal == 0


def test_an_hnsw_index_round_trips_and_answers_like_a_flat_one(tmp_path: Path, embedder):
    from rag.pipeline import Assistant

    article = bundled_article()
    flat_settings = Settings(index_dir=tmp_path / "flat")
    graph_settings = Settings(index_dir=tmp_path / "graph", hnsw_from=1)
    update_index([article], flat_settings.index_dir, embedder, flat_settings)
    update_index([article], graph_settings.index_dir, embedder, graph_settings)
    assert read_manifest(graph_settings.index_dir).vectors == "hnsw32"
    assert read_manifest(flat_settings.index_dir).vectors == "flat"
    flat = Assistant(flat_settings, build_missing=False, embedder=embedder)
    graph = Assistant(graph_settings, build_missing=False, embedder=embedder)
    for question in ("who chaired the Paris meeting?", "Which aircraft carrier is in the Gulf?"):
        assert flat.ask(question).answer == graph.ask(question).answer
