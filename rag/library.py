"""Library: add articles to an index, remove them and list them; nothing indexed is dropped unless asked.

Each change runs under the index's build lock: it reads the live index, changes its list of
articles, embeds only what is new (``build.py``) and saves a new version atomically. So
concurrent adds all land, and an add that fails leaves the index as it was. An existing index
keeps its own model and chunk settings. This module does not read files or fetch pages.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

import numpy as np

from .articles import Article, make_article
from .build import build_index
from .cleaning import TITLE_CHARS, check_article_text, clean_title
from .embedder import Embedder
from .errors import InputError, MissingArticleError
from .index import Index, Manifest, SourceInfo, build_lock, index_exists, load_index, read_manifest, save_index
from .progress import Progress
from .settings import Settings

Say = Callable[[str], None]
TITLE_WORDS = 10


@dataclass(frozen=True)
class Entry:
    """One article of an index as a list shows it."""

    doc_id: str
    source: str
    title: str
    characters: int
    added: str
    chunks: int


@dataclass(frozen=True)
class Change:
    """What an add or a remove did, and the index it left."""

    index: Index
    added: tuple[Entry, ...] = ()
    updated: tuple[Entry, ...] = ()
    unchanged: tuple[Entry, ...] = ()
    removed: tuple[Entry, ...] = ()
    seconds: float = 0.0


def entries(manifest: Manifest) -> list[Entry]:
    """Return the articles a manifest lists, in index order."""
    return [Entry(info.doc_id, info.source, info.title, info.characters, info.added, info.chunks)
            for info in manifest.sources]


def list_articles(folder: Path) -> list[Entry]:
    """Return the articles of the index in ``folder`` (reads only its manifest)."""
    return entries(read_manifest(folder))


def _folder_only(settings: Settings) -> None:
    """Refuse a one-article change to a database index: there ``rag build`` names the whole article set."""
    if settings.database_url:
        raise InputError("Articles are added to and removed from an index in a database by `rag build PATH... "
                         "--db URL` with the whole article set; adding or removing one is for index folders.")


def article_from_text(text: str, title: str | None = None) -> Article:
    """Return an article of pasted text; its title is ``title``, else its heading, else its first words."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("The article text is empty; paste the text of an article.")
    check_article_text(text)
    if title is not None and (not isinstance(title, str) or len(title) > TITLE_CHARS):
        raise InputError(f"The title must be text of at most {TITLE_CHARS} characters.")
    guessed = make_article(text, "pasted")
    name = clean_title(title or "") or (guessed.title if guessed.title != "Pasted" else clean_title(_first_words(text)))
    return dataclasses.replace(guessed, source=f"pasted:{name}", title=name)


def add_articles(articles: Sequence[Article], folder: Path, embedder: Callable[[], Embedder], settings: Settings,
                 keep_both: bool = False, say: Say | None = None, progress: Progress | None = None) -> Change:
    """Add ``articles`` to the index in ``folder`` (made if missing), keeping every article already there.

    An article whose source is already indexed replaces it when its text changed, unless
    ``keep_both``: then it is added under a new name ("story.txt (2)"), and one whose text is
    already indexed under any name is left as it is.
    """
    started = time.perf_counter()
    _folder_only(settings)
    with build_lock(folder, on_wait=say):
        previous = load_index(folder) if index_exists(folder) else None  # a damaged index is refused, not replaced
        indexed = list(previous.articles) if previous else []
        merged, added, updated, unchanged = _merge(indexed, list(articles), keep_both)
        if previous is not None and not added and not updated:
            return Change(previous, unchanged=_of(previous.manifest, unchanged))
        model = embedder()
        if previous is not None and previous.manifest.model != model.model_id:
            raise InputError(f"The index at {folder} was built with {previous.manifest.model}; add articles with "
                             "that model, or rebuild the index with `rag build`.")
        index = _save(folder, merged, model, _index_settings(previous, settings), previous, progress)
    manifest = index.manifest
    return Change(index, _of(manifest, added), _of(manifest, updated), _of(manifest, unchanged),
                  seconds=time.perf_counter() - started)


def remove_articles(keys: Sequence[str], folder: Path, embedder: Callable[[], Embedder], settings: Settings,
                    say: Say | None = None) -> Change:
    """Remove the articles named by id, source or file path from the index in ``folder``; keep all others.

    Nothing is removed unless every key names an indexed article. No model is loaded: the
    articles that stay are reused as they are.
    """
    started = time.perf_counter()
    _folder_only(settings)
    with build_lock(folder, on_wait=say):
        previous = load_index(folder)
        gone = find_articles(previous.manifest, keys)
        sources = {info.source for info in gone}
        kept = [article for article in previous.articles if article.source not in sources]
        chosen = _index_settings(previous, settings)
        try:
            index = _save(folder, kept, _ReuseOnly(previous.manifest), chosen, previous, None)  # type: ignore[arg-type]
        except _NeedsModel:  # the smaller index stores sentence vectors the bigger one did not: compute them
            index = _save(folder, kept, embedder(), chosen, previous, None)
    return Change(index, removed=tuple(entries(dataclasses.replace(previous.manifest, sources=gone))),
                  seconds=time.perf_counter() - started)


def find_articles(manifest: Manifest, keys: Sequence[str]) -> list[SourceInfo]:
    """Return the indexed articles named by ``keys`` (doc id, source name or file path), in index order."""
    found: set[str] = set()
    for key in keys:
        absolute = str(Path(key).absolute()) if key else ""
        matches = [info.source for info in manifest.sources
                   if key in (info.doc_id, info.source) or (info.path and info.path == absolute)]
        if not matches and key:  # a bare file name, if it names one article
            matches = [info.source for info in manifest.sources if PurePath(info.source).name == key]
            if len(matches) > 1:
                raise InputError(f"{key[:200]!r} is the name of {len(matches)} articles; name one by its id "
                                 "or path (see `rag list`).")
        if not matches:
            raise MissingArticleError(f"No indexed article has the id, name or path {key[:200]!r}; "
                                      "see `rag list` or GET /api/documents.")
        found.update(matches)
    return [info for info in manifest.sources if info.source in found]


def _merge(indexed: list[Article], new: list[Article], keep_both: bool
           ) -> tuple[list[Article], list[str], list[str], list[str]]:
    """Return the merged article list and the sources added, updated and left unchanged."""
    merged = list(indexed)
    position = {article.source: n for n, article in enumerate(merged)}
    digests = {article.digest: article.source for article in merged}
    added: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    for article in new:
        at = position.get(article.source)
        if keep_both and article.digest in digests:
            unchanged.append(digests[article.digest])
            continue
        if at is not None and merged[at].digest == article.digest:
            unchanged.append(article.source)
            continue
        if at is not None and keep_both:
            article = dataclasses.replace(article, source=_free_name(article.source, position))
            at = None
        if at is None:
            position[article.source] = len(merged)
            merged.append(article)
            added.append(article.source)
        else:
            merged[at] = article
            updated.append(article.source)
        digests[article.digest] = article.source
    return merged, added, updated, unchanged


def _free_name(source: str, taken: dict[str, int]) -> str:
    """Example: 'upload:story.txt' with that name taken -> 'upload:story.txt (2)'."""
    number = 2
    while f"{source} ({number})" in taken:
        number += 1
    return f"{source} ({number})"


def _first_words(text: str) -> str:
    words = text.split()
    return " ".join(words[:TITLE_WORDS]) + ("\u2026" if len(words) > TITLE_WORDS else "")


def _of(manifest: Manifest, sources: Sequence[str]) -> tuple[Entry, ...]:
    wanted = set(sources)
    return tuple(entry for entry in entries(manifest) if entry.source in wanted)


def _index_settings(previous: Index | None, settings: Settings) -> Settings:
    """Return ``settings`` with the chunk settings the index was built with, so its articles are reused."""
    if previous is None:
        return settings
    chunker = previous.manifest.chunker
    tokens, overlap = chunker.get("max_tokens"), chunker.get("overlap")
    if isinstance(tokens, int) and isinstance(overlap, int):
        return settings.replace(chunk_tokens=tokens, chunk_overlap=overlap)
    return settings


def _save(folder: Path, articles: list[Article], embedder: Embedder, settings: Settings, previous: Index | None,
          progress: Progress | None) -> Index:
    report = build_index(articles, embedder, settings, previous, progress)
    save_index(report.index, folder)
    return load_index(folder)


class _NeedsModel(Exception):
    """Raised by ``_ReuseOnly`` when something would have to be embedded after all."""


class _ReuseOnly:
    """Stands in for the Embedder when every article is reused: it knows the model's id and size, and embeds nothing."""

    def __init__(self, manifest: Manifest) -> None:
        self.model_id = manifest.model
        self.dimension = manifest.dimension

    def embed(self, texts: list[str], progress: bool = False, on_batch: object = None) -> np.ndarray:
        self._nothing(texts)
        return np.zeros((0, self.dimension), np.float32)

    @staticmethod
    def _nothing(texts: list[str]) -> None:
        if texts:
            raise _NeedsModel()
