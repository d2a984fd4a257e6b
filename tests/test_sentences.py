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


def test_a_closing_quote_stays_with_its_sentence():
    article = make_article('"We agreed to review the plan."\n\nA military drive is needed.', "q.txt")
    texts = [article.text[s.start:s.end] for s in split_sentences(article)]
    assert texts == ['"We agreed to review the plan."', "A military drive is needed."]


def test_abbreviations_and_initials_do_not_end_a_sentence():
    article = make_article("Gen. Joseph Dunford spoke on Nov. 13 in Washington, D.C. He left at noon.", "a.txt")
    texts = [article.text[s.start:s.end] for s in split_sentences(article)]
    assert texts[0].startswith("Gen. Joseph Dunford spoke on Nov. 13") and texts[-1] == "He left at noon."


def test_a_text_over_spacys_default_max_length_is_split_in_pieces_with_exact_offsets():
    code = "Q" + "x" * 1000  # long tokens keep spaCy's work (and this test) short for a 1 MB text
    paragraphs = [f"Report {n} came from Zo\u00eb in Paris.\u00a0It cited {code} as its source! Did it?"
                  for n in range(960)]
    run_on = " ".join(f"Line {n} of the run-on cites {code} again." for n in range(30))  # one 30 KB paragraph
    text = "Huge file\r\n\r\n" + "\r\n\r\n".join(paragraphs[:480] + [run_on] + paragraphs[480:]) + "\n"
    assert len(text) > 1_000_000  # spaCy refuses a single text longer than this by default
    article = make_article(text, "huge.txt")
    sentences = split_sentences(article)
    texts = [text[s.start:s.end] for s in sentences]
    assert all(t and t == t.strip() for t in texts)
    assert all(a.end <= b.start for a, b in zip(sentences, sentences[1:]))
    assert {f"Report {n} came from Zo\u00eb in Paris." for n in range(960)} <= set(texts)
    assert texts[-1] == "Did it?" and sum(t.startswith("Line ") for t in texts) >= 29


def test_amounts_and_initialisms_stay_inside_their_sentence():
    text = ("Gazprom agreed to pay $27bn for the stake, or 260.75bn roubles ($3.37bn; £2.7bn), the U.S. firm said. "
            "Analysts called the price high.")
    article = make_article(text, "amounts.txt")
    texts = [article.text[s.start:s.end] for s in split_sentences(article)]
    assert texts == [text[:text.index(" Analysts")], "Analysts called the price high."]


def test_an_opening_quote_left_at_a_sentence_end_moves_to_the_next_sentence():
    text = "'We are second,' forward Pedro told reporters. 'We have a very clear idea of our style.' He left."
    article = make_article(text, "quotes.txt")
    texts = [article.text[s.start:s.end] for s in split_sentences(article)]
    assert texts == ["'We are second,' forward Pedro told reporters.", "'We have a very clear idea of our style.'",
                     "He left."]


def test_a_split_that_leaves_a_bracket_or_a_lower_case_word_to_start_a_sentence_is_mended():
    text = "It was about 33 degrees [Fahrenheit], he added. Lt. Col. Menichini said: \"Stop!\" and left. Then rain."
    article = make_article(text, "mend.txt")
    texts = [article.text[s.start:s.end] for s in split_sentences(article)]
    assert all(t[0].isupper() or t[0] in "\"'" for t in texts)
    assert "It was about 33 degrees [Fahrenheit], he added." in texts and texts[-1] == "Then rain."


def test_a_match_reports_short_lines_are_sentences_of_their_own():
    text = ("United beat Chelsea 2-1 on Saturday.\n\nScorers: Ronaldo 12, Giggs 80.\n"
            "Att: 47,111 Ref: Anthony Taylor")
    article = make_article(text, "match.txt")
    texts = [article.text[s.start:s.end] for s in split_sentences(article)]
    assert texts[-1] == "Att: 47,111 Ref: Anthony Taylor" and "Scorers: Ronaldo 12, Giggs 80." in texts


def test_a_text_in_lower_case_keeps_its_sentences():
    article = make_article("the council met on monday. it voted to close the bridge. repairs start in june.", "lc.txt")
    assert len(split_sentences(article)) == 3
