from __future__ import annotations

from pathlib import Path

import pytest

from rag.articles import make_article
from rag.chunker import Chunk
from rag.records import Records, Rows, write_records
from rag.sentences import Sentence


def test_records_round_trip_and_read_rows_on_demand(tmp_path: Path):
    one = make_article("Ministers met in Rome.\n\nThey agreed.", "one.txt")
    two = make_article("Talks 🙂 end.", "two.txt")
    chunks = [Chunk("one.txt", 0, 0, 22, one.text[0:22]), Chunk("two.txt", 0, 0, 12, two.text[0:12])]
    sentences = [Sentence(0, 22), Sentence(24, 36), Sentence(0, 12)]
    write_records(tmp_path / "r.sqlite", [one, two], [(0, chunks[0], (0, 1)), (1, chunks[1], (2, 3))],
                  [(0, sentences[0]), (0, sentences[1]), (1, sentences[2])])
    records = Records(tmp_path / "r.sqlite")
    assert records.counts == {"articles": 2, "chunks": 2, "sentences": 3}
    assert list(records.chunks) == chunks and records.chunks[-1] == chunks[1]
    assert list(records.sentences) == sentences and records.sentences[1:] == sentences[1:]
    assert list(records.sentence_source) == [0, 0, 1] and list(records.chunk_sentences) == [(0, 1), (2, 3)]
    assert records.articles[1] == two and records.source_numbers() == {"one.txt": 0, "two.txt": 1}
    with pytest.raises(IndexError):
        records.chunks[2]


def test_rows_page_through_long_tables():
    calls: list[tuple[int, int]] = []

    def fetch(first: int, stop: int) -> list[int]:
        calls.append((first, stop))
        return list(range(first, stop))

    rows = Rows(2500, fetch)
    assert list(rows) == list(range(2500)) and len(calls) == 3
    assert rows[7] == rows[7] == 7 and calls[-1] == (7, 8) and len(calls) == 4
    assert rows[-1] == 2499 and rows[10:13] == [10, 11, 12]
