"""Section 9: the Procfile's server under the load issue 33 names, against the compute limit.

- asks/s at 16 keep-alive connections with the reader, p50/p99, beside the compute limit: cores divided
  by the CPU seconds one ask costs in one process (so 1.0 means every core does nothing but answer);
- worker RSS before and after N adds (the adds run in the builder child, ``web/builder.py``);
- ``/api/health`` p50/p99 while 4 clients drip their headers a byte a second and 2 large adds run.
The clients are Python threads on the same machine as the server, so they take some of its CPU.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

from .soak import percentile, rss_mb, start_procfile_server, wait_up, worker_pids

QUESTION = "Where will the core nations meet next?"


def cpu_seconds_per_ask(index_dir: Path, asks: int) -> float:
    """Return the CPU seconds (all threads) one ask costs in this process, after a warm-up."""
    from rag.pipeline import Assistant
    from rag.settings import Settings

    assistant = Assistant(Settings(index_dir=index_dir), build_missing=False)
    for _ in range(3):
        assistant.ask(QUESTION)
    started = time.process_time()
    for _ in range(asks):
        assistant.ask(QUESTION)
    return (time.process_time() - started) / asks


def _post(connection: http.client.HTTPConnection, path: str, body: dict) -> int:
    connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    return response.status


def ask_load(port: int, connections: int, seconds: float) -> dict:
    """Keep ``connections`` clients asking for ``seconds``; return asks/s, p50, p99 and errors."""
    latencies: list[float] = []
    errors = [0]
    stop = time.monotonic() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                ok = _post(connection, "/api/ask", {"question": QUESTION}) == 200
            except OSError:
                ok = False
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors[0] += 1

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"rate": len(latencies) / seconds, "p50": percentile(latencies, 0.5) * 1000,
            "p99": percentile(latencies, 0.99) * 1000, "errors": errors[0]}


def _drip(port: int, stop: threading.Event) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        for byte in b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"x" * 10_000:
            if stop.wait(1):
                return
            try:
                connection.send(bytes([byte]))
            except OSError:
                return


def health_under_drip(port: int, seconds: float) -> dict:
    """Time /api/health while 4 clients drip headers and 2 large adds (about 240 KB each) run."""
    stop = threading.Event()
    drippers = [threading.Thread(target=_drip, args=(port, stop)) for _ in range(4)]
    text = "The ferry line closes in June, said the harbour master Jonas Berg. " * 3500

    def add(n: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        _post(connection, "/api/documents?wait=1", {"text": f"Story {n}. {text}"})

    adds = [threading.Thread(target=add, args=(n,)) for n in range(2)]
    for thread in drippers + adds:
        thread.start()
    times = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        started = time.perf_counter()
        connection.request("GET", "/api/health")
        connection.getresponse().read()
        times.append(time.perf_counter() - started)
        time.sleep(0.1)
    stop.set()
    for thread in adds:
        thread.join()
    return {"p50": percentile(times, 0.5) * 1000, "p99": percentile(times, 0.99) * 1000, "count": len(times)}


def adds_memory(port: int, workers: list[int], adds: int) -> dict:
    """Return each worker's RSS before ``adds`` small adds and after their builders exit."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    for _ in range(8):
        _post(connection, "/api/ask", {"question": QUESTION})
    before = rss_mb(workers)
    started = time.perf_counter()
    for n in range(adds):
        _post(connection, "/api/documents?wait=1", {"text": f"Ferry {n} leaves at noon from pier {n}, said Ana Lima."})
    spent = time.perf_counter() - started
    for _ in range(8):
        _post(connection, "/api/ask", {"question": QUESTION})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and any(_builders(pid) for pid in workers):
        time.sleep(1)
    return {"before": before, "after": rss_mb(workers), "adds": adds, "seconds": spent}


def _cpu(pids: list[int]) -> float:
    import psutil

    return sum(sum(psutil.Process(pid).cpu_times()[:2]) for pid in pids)


def _builders(worker: int) -> list[str]:
    children = subprocess.run(["pgrep", "-P", str(worker)], capture_output=True, text=True).stdout.split()
    return [pid for pid in children
            if "resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")]


def hardening_section(index_dir: Path, work: Path, smoke: bool) -> list[str]:
    """Measure and return the lines of section 9."""
    per_ask = cpu_seconds_per_ask(index_dir, 5 if smoke else 40)
    cores = os.cpu_count() or 1
    limit = cores / per_ask
    folder = work / "hardening-index"
    subprocess.run(["cp", "-r", str(index_dir), str(folder)], check=True)
    server, port = start_procfile_server({"RAG_INDEX_DIR": str(folder), "RAG_BUILDER_IDLE_SECONDS": "5"},
                                         subprocess.DEVNULL, access_log=False)
    try:
        wait_up(server, port)
        workers = worker_pids(server)
        ask_load(port, 16, 5)  # warm-up: every worker thread has read once
        spent = _cpu(workers)
        load = ask_load(port, 16, 10 if smoke else 60)
        spent = _cpu(workers) - spent
        memory = adds_memory(port, workers, 5 if smoke else 100)
        health = health_under_drip(port, 10 if smoke else 30)
    finally:
        server.terminate()
        server.wait(timeout=60)
    served = load["rate"] * (10 if smoke else 60)
    growth = max(after / before - 1 for before, after in zip(memory["before"], memory["after"])) * 100
    load_now = os.getloadavg()[0]
    return ["## 9. Hardening: the compute limit, adds and slow clients", "",
            f"The Procfile's server (2 gthread workers x 8 threads), {cores} cores, 1-minute load average "
            f"{load_now:.1f} when it ended (other jobs share this machine: read the ratios, not the absolutes).", "",
            "| figure | value |", "| --- | --- |",
            f"| CPU seconds per ask, one process | {per_ask * 1000:.0f} ms |",
            f"| compute limit (cores / CPU seconds per ask) | {limit:.1f} asks/s |",
            f"| asks/s at 16 connections | {load['rate']:.1f} ({load['rate'] / limit:.2f} of the limit), "
            f"p50 {load['p50']:.0f} ms, p99 {load['p99']:.0f} ms, {load['errors']} errors |",
            f"| the workers' CPU seconds per ask under that load | {spent / max(served, 1) * 1000:.0f} ms "
            f"({spent / (10 if smoke else 60) / cores:.2f} of the {cores} cores were theirs) |",
            f"| worker RSS before -> after {memory['adds']} adds (builders exited) | "
            f"{' / '.join(f'{b:.0f} -> {a:.0f}' for b, a in zip(memory['before'], memory['after']))} MB "
            f"(growth {growth:.1f}%), {memory['adds'] / memory['seconds']:.1f} adds/s |",
            f"| `/api/health` while 4 clients drip and 2 adds of ~240 KB run | p50 {health['p50']:.0f} ms, "
            f"p99 {health['p99']:.0f} ms ({health['count']} calls) |", ""]
