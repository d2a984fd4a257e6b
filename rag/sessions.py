"""ONNX sessions opened on first use in each process.

onnxruntime is imported, and a session made, only when a model first runs:
importing it starts a thread, and a process forked after that (a gunicorn
worker under ``--preload``) hangs or aborts in onnxruntime's exit handlers,
waiting for a thread it does not have. Both of our models (the query encoder
and the reader) run through this.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np


class LazySession:
    """An onnxruntime session of the model at ``path``, made on the first ``run``."""

    def __init__(self, path: Path, threads: int = 0) -> None:
        self.path = path
        self.threads = threads
        self._session: Any = None
        self._opening = threading.Lock()

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run the model on ``feeds`` and return its outputs."""
        return self._open().run(None, feeds)

    def _open(self) -> Any:
        with self._opening:
            if self._session is None:
                import onnxruntime

                options = onnxruntime.SessionOptions()
                if self.threads > 0:
                    options.intra_op_num_threads = self.threads
                    options.inter_op_num_threads = 1
                options.log_severity_level = 3
                # exact int8 products on x86 CPUs without VNNI (AVX2, AVX-512 before it): onnxruntime's fast
                # U8S8 kernels there saturate pairs of products at 16 bits, which changed the reader's answers
                # (bundled hit@1 0.60 -> 0.56 on an AVX2 EPYC); no effect where VNNI is present
                options.add_session_config_entry("session.x64quantprecision", "1")
                self._session = onnxruntime.InferenceSession(str(self.path), options,
                                                             providers=["CPUExecutionProvider"])
            return self._session
