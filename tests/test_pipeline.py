from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rag.articles import make_article
from rag.build import update_index
from rag.index import load_index
from rag.pipeline import Assistant
from rag.settings import Settings


def test_a_rebuilt_index_is_swapped_in_without_a_restart(tmp_path: Path, embedder):
    folder = tmp_path / "index"
    settings = Settings(index_dir=folder)
    update_index([make_article("The bridge opened in March. It cost 4 million dollars.", "bridge.txt")],
                 folder, embedder, settings)
    assistant = Assistant(settings, build_missing=False, embedder=embedder)
    assert "March" in assistant.ask("When did the bridge open?").answer
    assert not assistant.reload_if_rebuilt(every=0)
    update_index([make_article("The bridge opened in October. It cost 4 million dollars.", "bridge.txt")],
                 folder, embedder, settings)
    assert assistant.reload_if_rebuilt(every=0)
    assert "October" in assistant.ask("When did the bridge open?").answer
    assert assistant.index.version == load_index(folder).version


def test_two_builds_at_once_wait_for_each_other_and_leave_one_index(tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n in range(6):
        (corpus / f"s{n}.txt").write_text(f"Story {n} happened on Monday. It was reported widely.", encoding="utf-8")
    command = [str(Path(sys.executable).parent / "rag"), "build", str(corpus), "--index", str(tmp_path / "idx")]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [process.communicate(timeout=300) for process in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    index = load_index(tmp_path / "idx")
    assert index.manifest.counts["articles"] == 6 and index.chunk_vectors.ntotal == len(index.chunks)
    versions = [p for p in (tmp_path / "idx").iterdir() if p.is_dir()]
    assert [p.name for p in versions] == [index.version]


def test_a_bundled_index_from_an_earlier_version_is_rebuilt_and_others_are_refused(tmp_path, embedder):
    """The bundled article's index is ours to remake; an index of the user's articles needs their `rag build`."""
    from rag.errors import BrokenIndexError

    def old_index(folder, sources):
        version = folder / "v-old"
        version.mkdir(parents=True)
        (version / "manifest.json").write_text(json.dumps({"format": "rag-index v1", "sources": [
            {"source": source, "path": None} for source in sources]}), encoding="utf-8")
        (folder / "CURRENT").write_text("v-old\n", encoding="utf-8")

    old_index(tmp_path / "bundled", ["paris-coalition-meeting.txt"])
    said: list[str] = []
    assistant = Assistant(Settings(index_dir=tmp_path / "bundled"), say=said.append, embedder=embedder)
    assert "Carter" in assistant.ask("who chaired the Paris meeting?").answer
    assert any("Rebuilding" in line for line in said)
    old_index(tmp_path / "mine", ["news/budget.md"])
    with pytest.raises(BrokenIndexError, match=r"has format 'rag-index v1'.*--force"):
        Assistant(Settings(index_dir=tmp_path / "mine"), embedder=embedder)


def test_an_index_of_the_previous_format_is_rebuilt_from_the_articles_it_kept(tmp_path, embedder):
    """A v2 index kept its articles' texts: they are rebuilt even when the files are gone."""
    folder = tmp_path / "index"
    article = make_article("The bridge opened in March. It cost 4 million dollars.", str(tmp_path / "gone.txt"))
    update_index([article], folder, embedder, Settings(index_dir=folder))
    version = folder / (folder / "CURRENT").read_text().strip()
    manifest = json.loads((version / "manifest.json").read_text())
    (version / "manifest.json").write_text(json.dumps({**manifest, "format": "rag-index v2"}))
    said: list[str] = []
    assistant = Assistant(Settings(index_dir=folder), say=said.append, embedder=embedder)
    assert said == [f"Rebuilding the index in {folder} for this version (1 article(s))..."]
    assert assistant.index.manifest.format == "rag-index v3"
    assert [a.text for a in assistant.index.articles] == [article.text]
