"""Grounded question answering over news articles, offline: ``rag.ask("who chaired the Paris meeting?")``.

Names are imported on first use, so ``ask --help`` does not load the model stack.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"Answer": "answerer", "Citation": "answerer", "RagError": "errors", "Settings": "settings",
            "Assistant": "pipeline", "ask": "pipeline", "Turn": "followup"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
