"""Pipeline: open (building or refreshing if needed) an index, then answer questions with it.

``Assistant`` loads the model and index once and answers many questions;
``ask(question)`` is the one-call convenience over it. The default index
is built from the bundled article on first use.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .answerer import Answer, Policy
from .articles import BUNDLED_NAME, Article, bundled_article, read_article
from .build import stale_reason
from .cleaning import clean_turn
from .compose import compose, reading_plan
from .embedder import Embedder, export_onnx, model_id
from .errors import ArticleError, BrokenIndexError, InputError, OldIndexError
from .followup import Turn, asks_something, check_history, condense
from .kinds import analyse
from .overview import Overviews
from .grounding import written_answer
from .llm import OnText, Writer, writer_from_settings
from .queryencoder import FORMAT as ONNX_FORMAT
from .queryencoder import OnnxEncoder, export_folder, load_onnx_encoder
from .reader import Reader, shared_reader
from .reading import Findings, Plan, read_passages
from .retriever import Retriever
from .settings import DEFAULT_MODEL, Settings
from .stores import Snapshot, open_store

Say = Callable[[str], None]
PASSAGES = 8
MAX_K = 50  # citations or passages a caller may ask for


def valid_k(k: object) -> bool:
    """Return whether ``k`` is a whole number from 1 to MAX_K (a bool is not a number here)."""
    return isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= MAX_K


def check_k(k: object) -> None:
    """Raise InputError unless ``k`` is a whole number from 1 to MAX_K."""
    if not valid_k(k):
        raise InputError(f"k must be a whole number between 1 and {MAX_K}.")


def clean_question(question: str, limit: int) -> str:
    """Return the question with control characters dropped and space collapsed; raise if unusable."""
    if not isinstance(question, str):
        raise InputError("The question must be text.")
    cleaned = clean_turn(question, "question")
    if not cleaned:
        raise InputError("The question is empty; type a question about the article.")
    if len(cleaned) > limit:
        raise InputError(f"The question is {len(cleaned)} characters long; keep it under {limit}.")
    if not any(c.isalnum() for c in cleaned):
        raise InputError("The question has no words in it; type a question about the article.")
    return cleaned


def current_articles(index: Snapshot, max_megabytes: int) -> list[Article]:
    """Return the index's articles as they are now: re-read from their files where those still exist."""
    sources = index.manifest.sources
    return _fresh([index.article(info.source) for info in sources], max_megabytes, [info.path for info in sources])


def _fresh(articles: list[Article], max_megabytes: int, paths: Sequence[str | None] | None = None) -> list[Article]:
    """Return ``articles`` re-read from their files where those still exist (the bundled one from the package)."""
    result = []
    for number, article in enumerate(articles):
        path = paths[number] if paths is not None else article.source
        if path and Path(path).is_file():
            try:
                result.append(read_article(Path(path), article.source, max_megabytes))
                continue
            except ArticleError:
                pass
        if article.source == BUNDLED_NAME and (paths is None or path is None):
            result.append(bundled_article())
        else:
            result.append(article)
    return result


def open_index(settings: Settings, model: str, embedder: Callable[[], Embedder], say: Say | None = None,
               build_missing: bool = True) -> Snapshot:
    """Open the index the settings name (``open_store``), refreshing a local one if stale.

    A shared store (a database) is built only by ``rag build``. A missing local
    index is built from the bundled article when ``build_missing`` (an index of
    an earlier format is rebuilt from its articles); otherwise it is an error
    that says to run ``rag build``. ``embedder`` is called only when something
    must be embedded.
    """
    store = open_store(settings)
    if store.shared:
        return store.open(model=model)
    if not store.exists():
        if not build_missing:
            store.open()  # raises the "no index here; run rag build" error
        if say:
            say(f"Building the index of the bundled article in {store.name} (first use only)...")
        return store.update([bundled_article()], embedder(), settings, say=say).index
    try:
        index = store.open(model=model)
    except OldIndexError as error:
        if not build_missing:
            raise
        try:
            articles = _fresh(store.old_articles(), settings.max_article_mb)
        except BrokenIndexError:
            if error.sources != [BUNDLED_NAME]:
                raise error from None
            articles = [bundled_article()]
        if say:
            say(f"Rebuilding the index in {store.name} for this version ({len(articles)} article(s))...")
        return store.update(articles, embedder(), settings, force=True, say=say).index
    articles = current_articles(index, settings.max_article_mb)
    reason = stale_reason(index, articles, settings, model)
    if reason is None:
        return index
    if say:
        say(f"Updating the index in {store.name}: {reason}...")
    return store.update(articles, embedder(), settings, say=say).index


@dataclass(frozen=True)
class _Loaded:
    """An index and the retriever over it, swapped together."""

    index: Snapshot
    retriever: Retriever


class Assistant:
    """A loaded index and query encoder that answer questions.

    Questions are encoded with the ONNX export of the model when there is one
    (made on first use), so a new process answers without loading torch.
    """

    def __init__(self, settings: Settings | None = None, say: Say | None = None,
                 build_missing: bool = True, policy: Policy = Policy(), embedder: Embedder | None = None,
                 reader: Reader | None = None, plan: Plan = Plan(), writer: Writer | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.say = say
        self.writer = writer or writer_from_settings(self.settings)  # an LLM that writes answers, or None
        self.plan = plan
        self.store = open_store(self.settings)
        if not build_missing:
            self.store.read_manifest()  # fail before any slow load
        self._embedder = embedder
        self.model_id = model_id(self.settings.model)
        if self.model_id != model_id(DEFAULT_MODEL):  # the off-topic floor is a cosine of the default model
            policy = dataclasses.replace(policy, off_topic_below=None)
        self.policy = policy
        index = open_index(self.settings, self.model_id, self.embedder, say, build_missing)
        self.encoder: Embedder | OnnxEncoder = embedder or self._query_encoder()
        self.reader = reader or shared_reader("", self.settings.threads)
        self._loaded = _Loaded(index, Retriever(index))
        self.overviews = Overviews(lambda texts: self.encoder.embed(texts))
        self._reloading = threading.Lock()
        self._checked = time.monotonic()

    @property
    def index(self) -> Snapshot:
        """The index in use (replaced whole when a rebuilt one is picked up)."""
        return self._loaded.index

    @property
    def retriever(self) -> Retriever:
        return self._loaded.retriever

    def reload_if_rebuilt(self, every: float = 1.0) -> bool:
        """Swap in the store's index if a build replaced it since we loaded; check at most every ``every`` s.

        Questions being answered keep the index they started with, so none fails during the swap.
        """
        now = time.monotonic()
        if now - self._checked < every or not self._reloading.acquire(blocking=False):
            return False
        try:
            self._checked = now
            version = self.store.live_version()
            if version is None or version == self._loaded.index.version:
                return False
            index = self.store.open(model=self.model_id)
            self._loaded = _Loaded(index, Retriever(index))
            return True
        finally:
            self._reloading.release()

    def embedder(self) -> Embedder:
        """Return the sentence-transformers model, loading it on first need."""
        if self._embedder is None:
            self._embedder = Embedder(self.settings.model, self.settings.threads)
        return self._embedder

    def _export(self) -> bool:
        """Export the ONNX query encoder; False if the model can't be, or the cache folder can't be written."""
        folder = export_folder(self.model_id)
        try:
            return export_onnx(self.embedder(), folder, ONNX_FORMAT)
        except OSError as error:
            if self.say:
                self.say(f"The fast question encoder could not be saved in {folder.parent} ({error.strerror or error}); "
                         "questions are encoded with the full model (set RAG_CACHE_DIR to a writable folder).")
            return False

    def _query_encoder(self) -> Embedder | OnnxEncoder:
        """Return the ONNX encoder, exporting it first if needed; the Embedder if the model can't be exported."""
        encoder = load_onnx_encoder(self.model_id, self.settings.threads)
        if encoder is None and self._export():
            encoder = load_onnx_encoder(self.model_id, self.settings.threads)
        return encoder or self.embedder()

    def ask(self, question: str, k: int | None = None, history: Sequence[Turn] = (),
            article: str | None = None, on_text: OnText | None = None) -> Answer:
        """Answer ``question`` from the index, citing the sentences it quotes; ``history`` helps follow-ups.

        ``article`` (a ``doc_id``) limits the answer to that one article. With an LLM configured, the model
        writes the answer from the passages and ``on_text`` gets its text as it comes; its citations are checked.

        A question that leans on the conversation ("When will they be deployed?") is looked up twice, alone
        and with the previous question folded into the search; the reader reads the question as asked in the
        passages of both, and the reading that finds the clearer answer wins.
        """
        started = time.perf_counter()
        question = clean_question(question, self.settings.max_question_chars)
        history = check_history(history)
        k = self.settings.k if k is None else k
        check_k(k)
        loaded = self._loaded  # one consistent index + retriever for this question
        within = None if article is None else loaded.index.article_chunks(article)
        asked = analyse(question, history)
        timings = {"embed": 0.0, "retrieve": 0.0, "read": 0.0}
        if asked.kind == "overview":
            doc_id = article or self.overviews.named(question, loaded.index,
                                                     lambda: self._top_article(question, loaded, timings))
            return self._timed(self.overviews.answer(question, loaded.index, doc_id, k), started, timings)
        queries = [q for q in dict.fromkeys([asked.read, condense(asked.read, history)]) if asks_something(q)]
        best: Findings | None = None
        for query in queries:
            findings = self._find(asked.read, query, max(k, PASSAGES), within, loaded, timings,
                                  reading_plan(asked, self.plan))
            if best is None or findings.margin > best.margin:
                best = findings
        best = best or Findings((), 0.0, 0)  # nothing to look for: declined
        answer = compose(asked, best, loaded.index, k, self.policy, article)
        if self.writer is not None:  # an LLM writes the answer; every quote it cites is checked (rag/grounding.py)
            written = time.perf_counter()
            answer = written_answer(self.writer, answer, question, history, best, loaded.index, self.policy, on_text)
            timings["llm"] = (time.perf_counter() - written) * 1000
        return self._timed(answer, started, timings)

    @staticmethod
    def _timed(answer: Answer, started: float, timings: dict[str, float]) -> Answer:
        timings["total"] = (time.perf_counter() - started) * 1000
        return dataclasses.replace(answer, timings_ms={name: round(value, 2) for name, value in timings.items()})

    def _top_article(self, query: str, loaded: _Loaded, timings: dict[str, float]) -> str | None:
        """Return the doc_id of the article whose passage best matches ``query`` (an article a question names)."""
        started = time.perf_counter()
        passages = loaded.retriever.retrieve(query, self.encoder.embed([query])[0], 1)
        timings["retrieve"] += (time.perf_counter() - started) * 1000
        return passages[0].doc_id if passages else None

    def _find(self, question: str, query: str, depth: int, within: tuple[int, int] | None, loaded: _Loaded,
              timings: dict[str, float], plan: Plan) -> Findings:
        """Retrieve passages for ``query`` and read them for ``question``; add each stage's time to ``timings``."""
        started = time.perf_counter()
        vector = self.encoder.embed([query])[0]
        embedded = time.perf_counter()
        passages = loaded.retriever.retrieve(query, vector, depth, within)
        retrieved = time.perf_counter()
        findings = read_passages(self.reader, question, passages, loaded.index, plan)
        done = time.perf_counter()
        timings["embed"] += (embedded - started) * 1000
        timings["retrieve"] += (retrieved - embedded) * 1000
        timings["read"] += (done - retrieved) * 1000
        return findings


_default: Assistant | None = None


def ask(question: str, k: int | None = None, history: Sequence[Turn] = (), article: str | None = None) -> Answer:
    """Answer ``question`` with the default settings, loading everything on the first call."""
    global _default
    if _default is None:
        _default = Assistant()
    return _default.ask(question, k, history, article)
