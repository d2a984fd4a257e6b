"""Soak: the Procfile's gunicorn under many clients sending a mix of valid and invalid requests.

Every request kind has one expected status; the run counts statuses, 5xx,
connection errors and unexpected statuses, latency percentiles and the
workers' memory before and after. The server runs with an API key (sent by
the clients; one kind sends a wrong one) and its log is kept, so a caller can
check that neither the key nor any question reached it. Measures; asserts nothing.
"""
from __future__ import annotations

import http.client
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "tests" / "data" / "paris_questions.jsonl"
WORKERS = 2  # WEB_CONCURRENCY for the servers the benchmarks start
WARM_ROUNDS = 6  # at most this many warm-up rounds ...
SETTLED = 0.01  # ... each until no worker's memory grows by more than this share in a round
HISTORY = [{"role": "user", "content": "Where will the 27 defense ministers meet?"},
           {"role": "assistant", "content": "Brussels"}]


def request_kinds(questions: list[str], doc_id: str) -> list[tuple[str, int, int, object]]:
    """Return (name, weight, expected status, request maker); valid kinds carry most of the weight."""
    def ask(body: object, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
        if callable(body):
            return lambda rng: ("POST", "/api/ask", body(rng), content_type)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return lambda rng: ("POST", "/api/ask", data, content_type)

    def get(path: str):  # type: ignore[no-untyped-def]
        return lambda rng: ("GET", path, None, None)

    def post(path: str, body):  # type: ignore[no-untyped-def]
        return lambda rng: ("POST", path, json.dumps(body(rng) if callable(body) else body).encode(), "application/json")

    def mcp_ask(rng: random.Random) -> dict:
        return {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "ask", "arguments": {"question": rng.choice(questions)}}}

    def chat(rng: random.Random) -> dict:
        return {"model": "rag-news", "messages": [{"role": "user", "content": rng.choice(questions)}]}

    def question(rng: random.Random) -> bytes:
        return json.dumps({"question": rng.choice(questions)}).encode()

    def follow_up(rng: random.Random) -> bytes:
        return json.dumps({"question": rng.choice(["When?", "Who else?", "Where?"]), "history": HISTORY}).encode()

    def stream(rng: random.Random) -> bytes:
        return json.dumps({"question": rng.choice(questions), "stream": True}).encode()

    return [
        ("ask", 30, 200, ask(question)),
        ("follow-up with history", 10, 200, ask(follow_up)),
        ("streamed ask", 6, 200, ask(stream)),
        ("document", 8, 200, get(f"/api/documents/{doc_id}")),
        ("health", 4, 200, get("/api/health")),
        ("chat page", 3, 200, get("/")),
        ("malformed JSON", 4, 400, ask(b'{"question": "who met?"')),
        ("wrong types", 4, 400, ask({"question": 42, "k": "three"})),
        ("array body", 2, 400, ask([{"question": "who met?"}])),
        ("huge k", 3, 400, ask({"question": "who met?", "k": 10 ** 12})),
        ("deep history", 2, 400, ask({"question": "when?", "history": HISTORY * 40})),
        ("question over 2,000 characters", 2, 400, ask({"question": "who met " * 400})),
        ("oversized body (100 KB)", 2, 413, ask({"question": "x" * 100_000})),
        ("wrong content type", 2, 415, ask(b"question=who", "application/x-www-form-urlencoded")),
        ("path traversal", 3, 404, get("/api/documents/..%2F..%2Fetc%2Fpasswd")),
        ("unknown document", 2, 404, get("/api/documents/000000000000")),
        ("unknown route", 2, 404, get("/api/nothing-here")),
        ("wrong method", 2, 405, get("/api/ask")),
        ("wrong API key", 2, 401, get(f"/api/documents/{doc_id}")),
        ("MCP ask (/mcp)", 8, 200, post("/mcp", mcp_ask)),
        ("OpenAI-compatible chat (/v1)", 8, 200, post("/v1/chat/completions", chat)),
        ("MCP tool call with wrong types (a tool error)", 2, 200, post("/mcp", {
            "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "ask", "arguments": {"k": "x"}}})),
        ("OpenAI-compatible chat, unknown model", 2, 404, post("/v1/chat/completions", {
            "model": "gpt-4o", "messages": [{"role": "user", "content": "who met?"}]})),
    ]


def rss_mb(pids: list[int]) -> list[float]:
    """Return the resident memory of each process in MB."""
    sizes = []
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0


class _Tally:
    """Counts shared by the client threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.unexpected: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.latencies: list[float] = []


def _client(port: int, key: str, kinds: list, stop: threading.Event, tally: _Tally, seed: int) -> None:
    rng = random.Random(seed)
    weights = [weight for _, weight, _, _ in kinds]
    while not stop.is_set():
        name, _, expected, make = rng.choices(kinds, weights)[0]
        method, path, body, content_type = make(rng)
        headers = {"X-API-Key": "wrong-" + key if name == "wrong API key" else key}
        if content_type:
            headers["Content-Type"] = content_type
        started = time.perf_counter()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            connection.close()
        except (OSError, http.client.HTTPException) as error:
            with tally.lock:
                tally.errors[f"{name}: {type(error).__name__}"] += 1
            continue
        elapsed = (time.perf_counter() - started) * 1000
        with tally.lock:
            tally.statuses[response.status] += 1
            tally.latencies.append(elapsed)
            if response.status != expected:
                tally.unexpected[f"{name}: {response.status} (expected {expected})"] += 1


def _hammer(port: int, key: str, kinds: list, clients: int, seconds: float) -> _Tally:
    tally, stop = _Tally(), threading.Event()
    threads = [threading.Thread(target=_client, args=(port, key, kinds, stop, tally, n), daemon=True)
               for n in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    return tally


def wait_up(server: subprocess.Popen, port: int, key: str = "") -> dict:
    """Return /api/health once the server answers (with ``key``: the whole of it); raise if it exits or takes over
    three minutes."""
    deadline = time.monotonic() + 180
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/api/health", headers={"X-API-Key": key} if key else {})
            return json.loads(connection.getresponse().read())
        except (OSError, http.client.HTTPException, ValueError):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not come up") from None
            time.sleep(0.5)


def start_procfile_server(env: dict[str, str], output: object, access_log: bool = True) -> tuple[subprocess.Popen, int]:
    """Start the Procfile's web command on a free port with ``env`` added; return the process and port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = (ROOT / "Procfile").read_text(encoding="utf-8").strip().removeprefix("web: ")
    if not access_log:
        command = command.replace("--access-logfile -", "")
    env = {**os.environ, "PORT": str(port), "WEB_CONCURRENCY": str(WORKERS),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **env}
    server = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=ROOT, env=env, stdout=output,  # type: ignore[arg-type]
                              stderr=subprocess.STDOUT)
    return server, port


def worker_pids(server: subprocess.Popen, count: int = WORKERS) -> list[int]:
    """Return the gunicorn master's worker processes once ``count`` of them run (the first may answer before the
    last is forked); after 60 s return those found."""
    deadline = time.monotonic() + 60
    while True:
        found = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        if len(found) >= count or time.monotonic() > deadline or server.poll() is not None:
            return sorted(int(pid) for pid in found)
        time.sleep(0.2)


def warm_up(port: int, key: str, kinds: list, clients: int, seconds: float,
            workers: list[int]) -> tuple[float, list[float]]:
    """Send the request mix for ``seconds`` at a time until no worker's memory grows by more than
    ``SETTLED`` over one such round (at most ``WARM_ROUNDS`` rounds); return the time taken and the memory then.

    A fixed warm-up is not enough on a busy machine: one worker may not yet have served a kind of request that
    loads something (the reader's session, a longer window) and then seems to grow during the soak. A leak
    still shows: it keeps growing after the warm-up ends.
    """
    started = time.perf_counter()
    _hammer(port, key, kinds, clients, seconds)
    before = rss_mb(workers)
    for _ in range(WARM_ROUNDS - 1):
        _hammer(port, key, kinds, clients, seconds)
        after = rss_mb(workers)
        settled = all(a - b <= SETTLED * b for b, a in zip(before, after))
        before = after
        if settled:
            break
    return time.perf_counter() - started, before


def run_soak(index_dir: Path, seconds: float, clients: int, log: Path, warmup: float) -> dict:
    """Start the Procfile's command on ``index_dir``, warm it up, soak it, stop it; return the figures."""
    key = secrets.token_hex(16)
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line]
    with log.open("wb") as output:
        server, port = start_procfile_server({"RAG_INDEX_DIR": str(index_dir), "RAG_API_KEY": key}, output)
        try:
            health = wait_up(server, port, key)
            kinds = request_kinds(questions, health["sources"][0]["id"])
            workers = worker_pids(server)
            warmed, before = warm_up(port, key, kinds, clients, warmup, workers)
            started = time.perf_counter()
            tally = _hammer(port, key, kinds, clients, seconds)
            elapsed = time.perf_counter() - started
            after = rss_mb(workers)
            alive = worker_pids(server)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    requests = sum(tally.statuses.values()) + sum(tally.errors.values())
    return {
        "seconds": round(elapsed, 1), "clients": clients, "warmup_seconds": round(warmed, 1), "requests": requests,
        "requests_per_second": round(requests / elapsed, 1),
        "statuses": {str(status): count for status, count in sorted(tally.statuses.items())},
        "server_errors": sum(count for status, count in tally.statuses.items() if status >= 500),
        "connection_errors": sum(tally.errors.values()), "error_kinds": dict(tally.errors),
        "unexpected_statuses": dict(tally.unexpected),
        "p50_ms": round(statistics.median(tally.latencies), 1) if tally.latencies else 0.0,
        "p99_ms": round(percentile(tally.latencies, 0.99), 1),
        "rss_before_mb": [round(size, 1) for size in before], "rss_after_mb": [round(size, 1) for size in after],
        "rss_growth_percent": round(max((a - b) / b * 100 for b, a in zip(before, after)), 1),
        "workers_replaced": alive != workers, "exit_code": server.returncode, "api_key": key,
        "kinds": [(name, weight, expected) for name, weight, expected, _ in kinds],
    }


def soak_section(figures: dict) -> list[str]:
    """Return the RESULTS.md section for one soak run."""
    statuses = ", ".join(f"{status}: {count:,}" for status, count in figures["statuses"].items())
    kinds = "; ".join(f"{name} ({expected})" for name, _, expected in figures["kinds"])
    rss = " / ".join(f"{b:.0f} -> {a:.0f}" for b, a in zip(figures["rss_before_mb"], figures["rss_after_mb"]))
    return [
        "## 6. Soak",
        "",
        f"`python -m benchmarks --soak --seconds {figures['seconds']:.0f}` on {time.strftime('%Y-%m-%d %H:%M %Z')}: "
        f"the Procfile's command (gunicorn, 2 sync workers, `--preload`, `RAG_API_KEY` set), {figures['clients']} "
        f"client threads on the same 2 cores, a new connection per request, after {figures['warmup_seconds']:.0f} s "
        f"of warm-up (until no worker's memory grew by more than {SETTLED:.0%} in a round). Request kinds and their "
        f"expected status, weighted towards valid asks: {kinds}.",
        "",
        "| what | value |",
        "| --- | --- |",
        f"| seconds | {figures['seconds']} |",
        f"| requests | {figures['requests']:,} |",
        f"| requests/s | {figures['requests_per_second']} |",
        f"| status codes | {statuses} |",
        f"| **5xx** | **{figures['server_errors']}** |",
        f"| **connection errors** | **{figures['connection_errors']}** |",
        f"| unexpected statuses | {sum(figures['unexpected_statuses'].values())} |",
        f"| latency p50 / p99 ms (all kinds) | {figures['p50_ms']} / {figures['p99_ms']} |",
        f"| worker RSS before -> after MB | {rss} |",
        f"| **worker RSS growth** (target under 10%) | **{figures['rss_growth_percent']}%** |",
        f"| workers replaced during the run | {'yes' if figures['workers_replaced'] else 'no'} |",
        f"| clean exit on SIGTERM | {'yes' if figures['exit_code'] == 0 else figures['exit_code']} |",
        "",
    ]
