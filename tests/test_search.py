"""Search and the one-article filter, on a real two-article index (exact and HNSW vector search)."""
from __future__ import annotations


import pytest

from rag.articles import bundled_article, make_article
from rag.build import update_index
from rag.errors import InputError
from rag.pipeline import Assistant
from rag.search import search
from rag.settings import Settings

HARBOUR = make_article(
    "Harbour reopens\n\nThe old harbour of Brest reopened on Monday after two years of works. "
    "Mayor Anne Le Goff chaired the opening ceremony, which drew three thousand visitors.\n\n"
    "The works cost 40 million euros and deepened the channel for larger ferries.", "harbour.txt")


@pytest.fixture(scope="module", params=["flat", "hnsw"])
def two_articles(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder) -> Assistant:
    """An Assistant over the bundled article and a short one, with exact or graph (HNSW) vector search."""
    folder = tmp_path_factory.mktemp(f"two-{request.param}") / "index"
    settings = Settings(index_dir=folder, hnsw_from=1 if request.param == "hnsw" else 50_000)
    index = update_index([bundled_article(), HARBOUR], folder, embedder, settings).index
    assert index.manifest.vectors == ("hnsw32" if request.param == "hnsw" else "flat")
    return Assistant(settings, build_missing=False, embedder=embedder)


def texts(assistant: Assistant) -> dict[str, str]:
    index = assistant.index
    return {info.doc_id: index.article(info.source).text for info in index.manifest.sources}


def test_search_returns_passages_best_first_with_offsets_into_their_article(two_articles: Assistant):
    hits = search(two_articles, "who chaired the opening ceremony of the harbour?", k=4)
    assert [hit.rank for hit in hits] == [1, 2, 3, 4]
    assert hits[0].doc_id == HARBOUR.doc_id and "Le Goff" in hits[0].text
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    by_id = texts(two_articles)
    for hit in hits:
        assert by_id[hit.doc_id][hit.start:hit.end] == hit.text
        assert -1.0 <= hit.similarity <= 1.0


def test_search_and_ask_limited_to_one_article(two_articles: Assistant):
    paris = bundled_article().doc_id
    hits = search(two_articles, "who chaired the opening ceremony of the harbour?", k=5, article=paris)
    assert hits and {hit.doc_id for hit in hits} == {paris}
    harbour_only = search(two_articles, "Carter defense ministers", k=50, article=HARBOUR.doc_id)
    assert {hit.doc_id for hit in harbour_only} == {HARBOUR.doc_id}
    assert len(harbour_only) == two_articles.index.manifest.sources[1].chunks  # all of it, never more

    anywhere = two_articles.ask("Who chaired the opening ceremony?")
    assert anywhere.found and "Le Goff" in anywhere.answer
    in_paris = two_articles.ask("Who chaired the opening ceremony?", article=paris)
    assert all(citation.doc_id == paris for citation in in_paris.citations)
    assert "Le Goff" not in in_paris.answer
    in_harbour = two_articles.ask("who co-chaired the meeting with Carter?", article=HARBOUR.doc_id)
    assert "Le Drian" not in in_harbour.answer and all(c.doc_id == HARBOUR.doc_id for c in in_harbour.citations)


@pytest.mark.parametrize("call, words", [
    (lambda a: search(a, "", 3), "empty"),
    (lambda a: search(a, "x" * 100_000, 3), "characters long"),
    (lambda a: search(a, "harbour", 0), "k must be"),
    (lambda a: search(a, "harbour", True), "k must be"),  # type: ignore[arg-type]
    (lambda a: search(a, "harbour", 3, article="nope"), "no article with id 'nope'"),
    (lambda a: a.ask("who chaired it?", article="nope"), "no article with id 'nope'"),
    (lambda a: a.ask("who chaired it?", article=""), "no article with id ''"),
])
def test_bad_arguments_are_one_sentence(two_articles: Assistant, call, words: str):
    with pytest.raises(InputError, match=words) as caught:
        call(two_articles)
    assert str(caught.value).endswith(".") and "\n" not in str(caught.value)


def test_article_chunks_of_each_article(two_articles: Assistant):
    index = two_articles.index
    first = index.article_chunks(bundled_article().doc_id)
    second = index.article_chunks(HARBOUR.doc_id)
    assert first[0] == 0 and first[1] == second[0] and second[1] == len(index.chunks)
    assert {index.chunks[n].source for n in range(*second)} == {"harbour.txt"}
    assert index.article_number(HARBOUR.doc_id) == 1 and index.article_number("nope") is None
