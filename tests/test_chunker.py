from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.articles import bundled_article, make_article
from rag.chunker import chunk_article
from rag.sentences import split_sentences
from rag.tokens import count_tokens


def check_chunks(article, max_tokens: int, overlap: int, fits=None):
    sentences = split_sentences(article)
    chunks = chunk_article(article, sentences, max_tokens, overlap, fits)
    for n, chunk in enumerate(chunks):
        assert chunk.ordinal == n and chunk.source == article.source
        assert article.text[chunk.start:chunk.end] == chunk.text
        assert count_tokens(chunk.text) <= max_tokens
        assert chunk.text == chunk.text.strip()
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    for sentence in sentences:
        assert all(i in covered for i in range(sentence.start, sentence.end) if not article.text[i].isspace())
        inside = [c for c in chunks if c.start < sentence.end and sentence.start < c.end]
        if count_tokens(article.text[sentence.start:sentence.end]) <= max_tokens:
            assert any(c.start <= sentence.start and sentence.end <= c.end for c in inside), "sentence was cut"
    return sentences, chunks


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(min_size=1, max_size=400).filter(lambda t: t.strip()),
       max_tokens=st.integers(16, 64), overlap=st.integers(0, 8))
def test_chunks_are_verbatim_within_budget_for_any_unicode(text: str, max_tokens: int, overlap: int):
    check_chunks(make_article(text, "any.txt"), max_tokens, overlap)


@pytest.mark.parametrize("text", [
    "word",
    "Emoji 🎉🎉 are here. Flags 🇫🇷 too! Done.",
    "Non\u00a0breaking\u00a0spaces.\u00a0Everywhere\u00a0here.",
    "<html><body><p>Hello <b>world</b>.</p><script>alert(1)</script></body></html>",
    "no sentence end " * 400,
    "x" * 5000,
    "Special <|endoftext|> strings are text. Yes.",
])
def test_edge_cases(text: str):
    _, chunks = check_chunks(make_article(text, "edge.txt"), 64, 16)
    assert chunks


def test_overlap_repeats_whole_sentences_and_makes_progress():
    article = bundled_article()
    _, chunks = check_chunks(article, 96, 32)
    assert len(chunks) > 5
    assert any(b.start < a.end for a, b in zip(chunks, chunks[1:])), "expected some overlap"
    assert all(b.start > a.start and b.end > a.end for a, b in zip(chunks, chunks[1:]))


def test_the_model_limit_is_respected():
    article = make_article("alpha beta gamma delta. " * 50, "limit.txt")
    _, chunks = check_chunks(article, 512, 0, fits=lambda text: len(text.split()) <= 30)
    assert all(len(c.text.split()) <= 30 for c in chunks)


def test_a_large_article_is_chunked():
    paragraph = bundled_article().text.split("Share:")[0]
    article = make_article(paragraph * 40, "large.txt")  # about 190 KB
    _, chunks = check_chunks(article, 128, 32)
    assert len(chunks) > 300
