"""Ray builds: read, split and embed articles on a Ray cluster (Ray Data), then write them to the database.

``rag build PATHS --db URL --ray auto|ADDRESS`` (``pip install 'rag-news[ray]'``).
The driver lists the files and opens the database build (lock, migration,
the sha256 of every live article); a pool of Ray actors, each with the model
loaded once, reads each file, leaves it alone when the database already holds
that text, else splits its sentences, chunks and embeds it; the driver writes
what comes back into the same one-transaction build as a local ``rag build``.
Files must be readable at the same path on every node (a shared folder).
Nothing here decides what a chunk or a vector is: that is ``build.py``'s.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

from .articles import article_files, display_path, read_article
from .build import prepare_articles
from .errors import ArticleError, InputError
from .settings import Settings
from .snapshot import BuildReport, Say
from .stores.postgres import PostgresStore, Writer

BATCH = 8  # articles per Ray task


class _Prepare:
    """A Ray actor: reads, splits, chunks and embeds batches of article files with one loaded model."""

    def __init__(self, settings: Settings, known: dict[str, str]) -> None:
        from .embedder import Embedder

        self.settings = settings
        self.known = known
        self.embedder = Embedder(settings.model, threads=1)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"source": [], "status": [], "payload": []}
        articles = []
        for path, source, named in zip(batch["path"], batch["source"], batch["named"]):
            try:
                article = read_article(Path(path), str(source), self.settings.max_article_mb)
            except ArticleError as error:
                out["source"].append(str(source))
                out["status"].append("error" if named else "skipped")
                out["payload"].append(str(error).encode("utf-8"))
                continue
            if self.known.get(article.source) == article.digest:
                out["source"].append(article.source)
                out["status"].append("unchanged")
                out["payload"].append(article.digest.encode("ascii"))
            else:
                articles.append(article)
        for article, part in zip(articles, prepare_articles(articles, self.embedder, self.settings)):
            out["source"].append(article.source)
            out["status"].append("embedded")
            out["payload"].append(pickle.dumps((article, part), protocol=pickle.HIGHEST_PROTOCOL))
        return out


def update_on_ray(paths: list[Path], settings: Settings, address: str, force: bool = False,
                  say: Say | None = None) -> BuildReport:
    """Build the articles under ``paths`` into the database at ``settings.database_url``, preparing them on
    the Ray cluster at ``address`` ("auto": the one this machine belongs to)."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise InputError("--ray needs Ray Data; run `pip install 'rag-news[ray]'`.") from None
    from .embedder import Embedder

    files = [(str(path.resolve()), display_path(path), named) for path, named in article_files(paths)]
    files = list({source: (path, source, named) for path, source, named in files}.values())
    model = Embedder(settings.model, threads=1)  # fail here, not on the cluster, when the model is missing
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise InputError(f"Could not join the Ray cluster at {address!r} ({str(error).splitlines()[0]}); "
                         "start one with `ray start --head` or give its address.") from None
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.execution_options.preserve_order = True  # the same article order as a local build
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)))

        def fill(writer: Writer) -> None:
            known = {source: digest for source, (_, digest) in writer.known.items()}
            rows = ray.data.from_items([{"path": p, "source": s, "named": n} for p, s, n in files],
                                       override_num_blocks=max(1, min(len(files), workers * 4)))
            prepared = rows.map_batches(_Prepare, fn_constructor_kwargs={"settings": settings, "known": known},
                                        batch_size=BATCH, concurrency=workers, num_cpus=1)
            for row in prepared.iter_rows():
                status, source, payload = row["status"], row["source"], row["payload"]
                if status == "error":
                    raise ArticleError(payload.decode("utf-8"))
                if status == "skipped":
                    if say:
                        say(f"skipped: {payload.decode('utf-8')}")
                elif status == "unchanged":
                    writer.unchanged(source, payload.decode("ascii"))
                else:
                    writer.add(*pickle.loads(payload))

        store = PostgresStore(settings.database_url)
        return store.update_with(fill, model.model_id, model.dimension, settings, force, say)
    finally:
        ray.shutdown()
