from __future__ import annotations

from rag.articles import bundled_article, make_article
from rag.sentences import split_sentences


def test_sentences_are_trimmed_spans_that_never_cross_paragraphs():
    article = bundled_article()
    sentences = split_sentences(article)
    assert len(sentences) > 25
    for sentence in sentences:
        text = article.text[sentence.start:sentence.end]
        assert text == text.strip() and text
        assert "\n\n" not in text
        for mention in sentence.mentions:
            assert sentence.start <= mention.start < mention.end <= sentence.end


def test_a_closing_quote_stays_with_its_sentence():
    article = make_article('"We agreed to review the plan."\n\nA military drive is needed.', "q.txt")
    texts = [article.text[s.start:s.end] for s in split_sentences(article)]
    assert texts == ['"We agreed to review the plan."', "A military drive is needed."]


def test_names_are_not_cut_short():
    article = bundled_article()
    names = {article.text[m.start:m.end] for s in split_sentences(article) for m in s.mentions if m.label == "PERSON"}
    assert "Jean-Yves Le Drian" in names
