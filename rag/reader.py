"""Reader: an extractive question-answering model that reads windows of article text.

For each window it gives, per sentence, the best answer span inside that
sentence (character offsets into the article), how likely the sentence is to
hold the answer, and the window's no-answer score (the [CLS] position, as in
SQuAD 2.0 systems). The model is our own (``training/``): MiniLM-L6 with a span
head and a sentence head, shipped quantized as ONNX in ``rag/models/reader``
with its tokenizer and a manifest checked on load. Runs on onnxruntime, its
session opened on first use in each process (``sessions.py``); this module
never imports torch. Windowing (``windows``) is shared with training so
both sides cut text the same way. It reads; choosing what to answer is the
answerer's job.
"""
from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import ModelError
from .sessions import LazySession
from .spans import tidy, whole_list

FORMAT = "rag-reader v2"  # v2: the graph takes no attention mask (windows are never padded)
MASKED_FORMAT = "rag-reader v1"  # a reader exported before v2 (its graph takes an attention mask): still read
MAX_TOKENS = 192        # a window: [CLS] question [SEP] context [SEP]
MAX_QUESTION_TOKENS = 48
STRIDE = 48             # context tokens shared by consecutive windows of one long text
MAX_ANSWER_TOKENS = 30


@dataclass(frozen=True)
class Window:
    """One model input: ``ids`` is [CLS] question [SEP] context [SEP]; context token ``n`` (position
    ``first + n``) covers ``text[offsets[n, 0]:offsets[n, 1]]``."""

    ids: np.ndarray
    type_ids: np.ndarray
    first: int
    offsets: np.ndarray


@dataclass(frozen=True)
class Text:
    """A stretch of an article to read, ``text[start:end]``, cut into sentences (spans in ``text``)."""

    text: str
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class SentenceReading:
    """What the reader found in one sentence: its best span, that span's score, the sentence score."""

    start: int
    end: int
    span_start: int
    span_end: int
    span: float
    relevance: float


@dataclass(frozen=True)
class Reading:
    """The reader's view of one Text: its sentences, best first by span score, and its no-answer score."""

    sentences: tuple[SentenceReading, ...]
    no_answer: float

    @property
    def best(self) -> SentenceReading | None:
        return self.sentences[0] if self.sentences else None

    @property
    def margin(self) -> float:
        """Best span score minus the no-answer score: above 0 the reader would rather answer."""
        return self.sentences[0].span - self.no_answer if self.sentences else -np.inf


class Tokens:
    """The reader's word-piece tokenizer (``tokenizers``, no padding or truncation), with offsets."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.cls = self.tokenizer.token_to_id("[CLS]")
        self.sep = self.tokenizer.token_to_id("[SEP]")

    def question(self, question: str) -> list[int]:
        """Return the question's word-piece ids, the last ``MAX_QUESTION_TOKENS`` kept."""
        return self.tokenizer.encode(question, add_special_tokens=False).ids[-MAX_QUESTION_TOKENS:]

    def context(self, text: str, start: int = 0, end: int | None = None) -> tuple[list[int], np.ndarray]:
        """Return the word-piece ids of ``text[start:end]`` and their (start, end) offsets in ``text``."""
        end = len(text) if end is None else end
        encoding = self.tokenizer.encode(text[start:end], add_special_tokens=False)
        offsets = np.array(encoding.offsets, dtype=np.int64).reshape(-1, 2) + start
        return encoding.ids, offsets


def windows(question_ids: list[int], context_ids: list[int], offsets: np.ndarray, cls: int, sep: int,
            max_tokens: int = MAX_TOKENS, stride: int = STRIDE) -> list[Window]:
    """Cut one context into windows of at most ``max_tokens``, consecutive ones sharing ``stride`` tokens.

    Example: a 300-token context with a 12-token question -> windows over context tokens 0-176 and 128-300.
    """
    room = max_tokens - len(question_ids) - 3
    if room < 16:
        raise ValueError("the question leaves no room for context")
    head = [cls, *question_ids, sep]
    result, at = [], 0
    while True:
        stop = min(at + room, len(context_ids))
        ids = np.array(head + context_ids[at:stop] + [sep], dtype=np.int64)
        type_ids = np.zeros(len(ids), dtype=np.int64)
        type_ids[len(head):] = 1
        result.append(Window(ids, type_ids, len(head), offsets[at:stop]))
        if stop >= len(context_ids):
            return result
        at = stop - min(stride, room // 2)


def best_spans(start_logits: np.ndarray, end_logits: np.ndarray, sentence_of: np.ndarray,
               max_tokens: int = MAX_ANSWER_TOKENS) -> dict[int, tuple[float, int, int]]:
    """Return, per sentence number, the best (score, first token, last token) span that stays inside it.

    ``sentence_of[n]`` is the sentence of context token ``n`` (-1 outside any sentence); a span's score is
    its start logit plus its end logit, with start <= end < start + ``max_tokens``.
    """
    count = len(start_logits)
    best: dict[int, tuple[float, int, int]] = {}
    if not count:
        return best
    width = min(max_tokens, count)
    first = np.arange(count)[:, None]
    last = first + np.arange(width)[None, :]
    inside = last < count
    last_clipped = np.minimum(last, count - 1)
    scores = start_logits[:, None] + end_logits[last_clipped]
    valid = inside & (sentence_of[first] == sentence_of[last_clipped]) & (sentence_of[first] >= 0)
    scores = np.where(valid, scores, -np.inf)
    row_best = scores.argmax(axis=1)
    row_score = scores[np.arange(count), row_best]
    for token in np.flatnonzero(np.isfinite(row_score)):
        sentence = int(sentence_of[token])
        score = float(row_score[token])
        if sentence not in best or score > best[sentence][0]:
            best[sentence] = (score, int(token), int(token + row_best[token]))
    return best


_JOINERS = "-'\u2019.,:/"


def word_edges(text: str, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return which tokens may start and which may end an answer: not inside a word ("co" of "co-chaired",
    "2" of "2.4", "Carter" of "Carter's" never end one)."""
    def inside(at: int) -> bool:
        if at <= 0 or at >= len(text):
            return False
        before, after = text[at - 1], text[at]
        if before.isalnum() and after.isalnum():
            return True
        if after in _JOINERS and before.isalnum() and at + 1 < len(text) and text[at + 1].isalnum():
            return True
        return before in _JOINERS and after.isalnum() and at >= 2 and text[at - 2].isalnum()

    starts = np.array([not inside(int(at)) for at in offsets[:, 0]], dtype=bool)
    ends = np.array([not inside(int(at)) for at in offsets[:, 1]], dtype=bool)
    return starts, ends


def sentence_of_tokens(offsets: np.ndarray, sentences: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Return the number of the sentence each token lies in (by its first character), -1 for none."""
    if not len(offsets) or not sentences:
        return np.full(len(offsets), -1, dtype=np.int64)
    starts = np.array([s for s, _ in sentences], dtype=np.int64)
    ends = np.array([e for _, e in sentences], dtype=np.int64)
    number = np.searchsorted(starts, offsets[:, 0], side="right") - 1
    inside = (number >= 0) & (offsets[:, 0] < ends[np.maximum(number, 0)])
    return np.where(inside, number, -1)


def cut(question: str, texts: list[Text], tokens: Tokens, max_tokens: int = MAX_TOKENS) -> list[tuple[int, Window]]:
    """Return the windows to read for ``question``, each with the number of the Text it comes from."""
    question_ids = tokens.question(question)
    pieces: list[tuple[int, Window]] = []
    for number, text in enumerate(texts):
        ids, offsets = tokens.context(text.text, text.start, text.end)
        for window in windows(question_ids, ids, offsets, tokens.cls, tokens.sep, max_tokens):
            pieces.append((number, window))
    return pieces


LIST_WITHIN = 3.0  # a whole list of names is the answer when its ends score this close to the best span's


def edges(text: str, offsets: np.ndarray, starts: np.ndarray, ends: np.ndarray, first: int, last: int,
          low: int, high: int) -> tuple[int, int]:
    """Return the character span of tokens ``first``-``last``, widened to the whole list of names it is one item of
    when the reader scores that list's first and last tokens within ``LIST_WITHIN`` of the span's own, and tidied
    (``spans.tidy``: no open bracket or quote left unclosed, no dangling "and")."""
    start, end = int(offsets[first, 0]), int(offsets[last, 1])
    listed = whole_list(text, start, end, low, high)
    if listed is not None:
        new_first = np.flatnonzero(offsets[:, 0] == listed[0])
        new_last = np.flatnonzero(offsets[:, 1] == listed[1])
        if (len(new_first) and len(new_last) and starts[new_first[0]] >= starts[first] - LIST_WITHIN
                and ends[new_last[-1]] >= ends[last] - LIST_WITHIN):
            start, end = listed
    return tidy(text, start, end, low, high)


def decode(texts: list[Text], pieces: list[tuple[int, Window]], outputs: list[np.ndarray]) -> list[Reading]:
    """Turn the model's logits for ``pieces`` (from ``cut``) into one Reading per Text."""
    found: list[dict[int, SentenceReading]] = [{} for _ in texts]
    no_answer = [-np.inf] * len(texts)
    for (number, window), rows in zip(pieces, outputs):
        text = texts[number]
        context = rows[window.first:window.first + len(window.offsets)]
        no_answer[number] = max(no_answer[number], float(rows[0, 0] + rows[0, 1]))
        owner = sentence_of_tokens(window.offsets, text.sentences)
        can_start, can_end = word_edges(text.text, window.offsets)
        starts = np.where(can_start, context[:, 0], -np.inf)
        ends = np.where(can_end, context[:, 1], -np.inf)
        for sentence, (score, first, last) in best_spans(starts, ends, owner).items():
            relevance = float(context[owner == sentence, 2].mean())
            old = found[number].get(sentence)
            if old is None or score > old.span:
                start, end = text.sentences[sentence]
                span_start, span_end = edges(text.text, window.offsets, starts, ends, first, last, start, end)
                found[number][sentence] = SentenceReading(
                    start, end, span_start, span_end, score, max(relevance, old.relevance) if old else relevance)
    return [Reading(tuple(sorted(f.values(), key=lambda s: (-s.span, s.start))), n)
            for f, n in zip(found, no_answer)]


def read_texts(question: str, texts: list[Text], tokens: Tokens,
               logits: Callable[[list[Window]], list[np.ndarray]], max_tokens: int = MAX_TOKENS) -> list[Reading]:
    """Cut ``texts`` into windows, run ``logits`` (a model) on them and decode one Reading per Text."""
    pieces = cut(question, texts, tokens, max_tokens)
    return decode(texts, pieces, logits([window for _, window in pieces]))


@dataclass(frozen=True)
class ReaderInfo:
    """The manifest shipped next to a reader model."""

    format: str
    sha256: str
    max_tokens: int
    figures: dict[str, object]


class Reader:
    """A loaded reader model: ``read(question, texts)`` gives one Reading per Text."""

    def __init__(self, folder: Path | None = None, threads: int = 0) -> None:
        folder = folder or default_folder()
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            if manifest.get("format") not in (FORMAT, MASKED_FORMAT):
                raise ValueError(f"format {manifest.get('format')!r}")
            if _sha256(folder / "model.onnx") != manifest["sha256"]:
                raise ValueError("its sha256 does not match the manifest")
            self.info = ReaderInfo(manifest["format"], manifest["sha256"], int(manifest["max_tokens"]),
                                   dict(manifest.get("figures", {})))
            self.tokens = Tokens(folder / "tokenizer.json")
        except Exception as error:  # a missing or damaged file, or the tokenizers library's own error
            raise ModelError(f"The reader model in {folder} could not be loaded ({error}); reinstall rag-news.") from None
        self.session = LazySession(folder / "model.onnx", threads)

    def read(self, question: str, texts: list[Text]) -> list[Reading]:
        """Read every Text for ``question``; a Text longer than one window is read in several."""
        return read_texts(question, texts, self.tokens, self.logits, self.info.max_tokens)

    def logits(self, windows: list[Window]) -> list[np.ndarray]:
        """Return the model's (tokens, 3) logits per window: start, end and sentence relevance.

        One window per model run: int8 activations are scaled per run, so in a batch one window's scores
        would depend on its neighbours (by up to 0.8 logits); one at a time is faster too (no padding, so
        the model takes no attention mask).
        """
        masked = self.info.format == MASKED_FORMAT
        return [self.session.run({"input_ids": w.ids[None], "token_type_ids": w.type_ids[None],
                                  **({"attention_mask": np.ones_like(w.ids)[None]} if masked else {})})[0][0]
                .astype(np.float32) for w in windows]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_folder() -> Path:
    """Return the folder of the reader model shipped inside the package."""
    return Path(str(resources.files("rag").joinpath("models", "reader")))


@functools.cache
def shared_reader(folder: str = "", threads: int = 0) -> Reader:
    """Return one Reader per (folder, threads) for the whole process."""
    return Reader(Path(folder) if folder else None, threads)
