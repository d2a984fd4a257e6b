"""Doors for other tools: what /mcp (the MCP SDK's ASGI transport through a2wsgi) and /v1 cost under the Procfile's gunicorn.

One client sends the same requests in turn to each door of one server and times them; the
difference between a door and /api/ for the same work is that door's overhead. Also the
workers' memory and thread count before the first MCP request and after the run. Measures;
asserts nothing.
"""
from __future__ import annotations

import http.client
import json
import os
import random
import statistics
import time
from pathlib import Path

from .soak import percentile, rss_mb, start_procfile_server, wait_up, worker_pids

QUESTION = "who chaired the Paris meeting?"


def _rpc(method: str, params: dict | None = None) -> dict:
    return {"jsonrpc": "2.0", "id": 1, "method": method, **({"params": params} if params else {})}


KINDS = [  # (label, method, path, JSON body or None); each must answer 200 without an error
    ("`GET /api/health` (Flask alone, floor)", "GET", "/api/health", None),
    ("`POST /mcp` ping (Flask + a2wsgi + SDK, no tool)", "POST", "/mcp", _rpc("ping")),
    ("`POST /mcp` tools/list", "POST", "/mcp", _rpc("tools/list")),
    ("`POST /mcp` tools/call list_articles", "POST", "/mcp", _rpc("tools/call", {"name": "list_articles"})),
    ("`POST /api/ask`", "POST", "/api/ask", {"question": QUESTION}),
    ("`POST /mcp` tools/call ask", "POST", "/mcp", _rpc("tools/call", {"name": "ask", "arguments": {"question": QUESTION}})),
    ("`POST /v1/chat/completions`", "POST", "/v1/chat/completions",
     {"model": "rag-news", "messages": [{"role": "user", "content": QUESTION}]}),
]


def _send(port: int, method: str, path: str, body: dict | None) -> float:
    """Send one request on a new connection (gunicorn closes each); return its milliseconds; raise on any error."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"} if data else {}
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    connection.close()
    reply = json.loads(payload)
    failed = "error" in reply or (path == "/mcp" and reply["result"].get("isError"))
    if response.status != 200 or failed:
        raise RuntimeError(f"{method} {path} answered {response.status}: {payload[:200]!r}")
    return elapsed


def _cpu_seconds(pids: list[int]) -> float:
    """Return the user + system CPU time the processes (all their threads) have used so far."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return ticks / os.sysconf("SC_CLK_TCK")


def _threads(pids: list[int]) -> list[int]:
    counts = []
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        counts.append(int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:"))))
    return counts


def measure_doors(index_dir: Path, repeats: int) -> dict:
    """Start the Procfile's command on ``index_dir`` and time every kind ``repeats`` times, interleaved."""
    with open(os.devnull, "wb") as output:
        server, port = start_procfile_server({"RAG_INDEX_DIR": str(index_dir)}, output, access_log=False)
        try:
            wait_up(server, port)
            workers = worker_pids(server)
            for _ in range(6):  # warm every non-MCP path in both workers first
                for label, method, path, body in KINDS:
                    if path != "/mcp":
                        _send(port, method, path, body)
            before = {"rss_mb": [round(mb) for mb in rss_mb(workers)], "threads": _threads(workers)}
            for _ in range(6):  # both workers start their MCP loop thread
                for label, method, path, body in KINDS:
                    _send(port, method, path, body)
            times: dict[str, list[float]] = {label: [] for label, *_ in KINDS}
            order, shuffle = list(KINDS), random.Random(0).shuffle
            for _ in range(repeats):  # interleaved in a new order each round: load elsewhere and order hit all alike
                shuffle(order)
                for label, method, path, body in order:
                    times[label].append(_send(port, method, path, body))
            cpu = {}
            for label, method, path, body in KINDS:  # the workers' CPU time per request: steadier than wall time
                spent = _cpu_seconds(workers)
                for _ in range(repeats):
                    _send(port, method, path, body)
                cpu[label] = (_cpu_seconds(workers) - spent) * 1000 / repeats
            after = {"rss_mb": [round(mb) for mb in rss_mb(workers)], "threads": _threads(workers)}
        finally:
            server.terminate()
            server.wait(timeout=60)
    return {"repeats": repeats, "before": before, "after": after, "load": os.getloadavg(),
            "ms": {label: {"p50": statistics.median(values), "p95": percentile(values, 0.95), "cpu": cpu[label]}
                   for label, values in times.items()}}


def doors_section(figures: dict) -> list[str]:
    """Return the RESULTS.md section for one run."""
    ms = figures["ms"]
    labels = [label for label, *_ in KINDS]

    def extra(door: str, base: str, figure: str = "p50") -> str:
        return f"{ms[door][figure] - ms[base][figure]:+.1f}"

    lines = [
        "## 7. Doors for other tools",
        "",
        f"The Procfile's gunicorn (2 sync workers) on the bundled article; one client, {figures['repeats']} rounds of "
        "every request, in a new random order each round, each on a new connection. `/mcp` is the MCP SDK's stateless JSON-response "
        "Streamable HTTP transport (ASGI) run through a2wsgi on one event-loop thread per worker. "
        f"Load average during the run: {', '.join(f'{x:.1f}' for x in figures['load'])}.",
        "",
        "| request | p50 ms | p95 ms | worker CPU ms per request |",
        "| --- | --- | --- | --- |",
        *[f"| {label} | {ms[label]['p50']:.1f} | {ms[label]['p95']:.1f} | {ms[label]['cpu']:.1f} |"
          for label in labels],
        "",
        f"- **Overhead of `/mcp`**, worker CPU: ping {extra(labels[1], labels[0], 'cpu')} ms over `/api/health`, "
        f"ask {extra(labels[5], labels[4], 'cpu')} ms over `/api/ask`; wall time (median against median): ping "
        f"{extra(labels[1], labels[0])} ms, ask {extra(labels[5], labels[4])} ms.",
        f"- Overhead of `/v1/chat/completions` over `/api/ask`: {extra(labels[6], labels[4], 'cpu')} ms worker CPU, "
        f"{extra(labels[6], labels[4])} ms wall.",
        "- CPU time is counted in clock ticks (10 ms) over a block of requests of one kind, so it is steadier than "
        "wall time on a shared machine; the worker CPU includes the MCP loop thread and the SDK's tool thread.",
        "- `/mcp` hands each request between threads (the gunicorn worker's, the loop thread and, for a tool, the "
        "SDK's worker thread): when the CPU is busy each hand-off waits for a core, so its wall-time overhead grows "
        "with the load average while its CPU overhead does not.",
        f"- Workers before the first MCP request: {figures['before']['rss_mb']} MB, "
        f"{figures['before']['threads']} threads; after the run: {figures['after']['rss_mb']} MB, "
        f"{figures['after']['threads']} threads.",
        "",
    ]
    return lines


def run_doors(index_dir: Path, repeats: int) -> list[str]:
    return doors_section(measure_doors(index_dir, repeats))

