"""A running server picks up a rebuilt index while it keeps answering: no request fails during the swap."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from werkzeug.serving import make_server


def post(base: str, question: str) -> tuple[int, dict]:
    request = urllib.request.Request(base + "/api/ask", data=json.dumps({"question": question}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.load(response)


def test_rebuild_while_serving(tmp_path: Path):
    from web import create_app

    story = tmp_path / "bridge.txt"
    story.write_text("The bridge opened in March. It cost 4 million dollars.", encoding="utf-8")
    rag = str(Path(sys.executable).parent / "rag")
    subprocess.run([rag, "build", str(story), "--index", str(tmp_path / "idx")], check=True, capture_output=True)
    app = create_app({"INDEX_DIR": str(tmp_path / "idx")})
    http = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{http.server_port}"
    statuses: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            statuses.append(post(base, "When did the bridge open?")[0])

    workers = [threading.Thread(target=hammer) for _ in range(3)]
    try:
        assert "March" in post(base, "When did the bridge open?")[1]["answer"]
        for worker in workers:
            worker.start()
        story.write_text("The bridge opened in October. It cost 4 million dollars.", encoding="utf-8")
        subprocess.run([rag, "build", str(story), "--index", str(tmp_path / "idx")], check=True, capture_output=True)
        deadline = time.monotonic() + 30
        while "October" not in post(base, "When did the bridge open?")[1]["answer"]:
            assert time.monotonic() < deadline, "the rebuilt index was not picked up"
            time.sleep(0.3)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
        http.shutdown()
    assert statuses and set(statuses) == {200}
