from __future__ import annotations

from pathlib import Path

import pytest

from rag import tokens


def test_encoding_loads_offline_from_an_empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "cache"))
    tokens.encoding.cache_clear()
    try:
        encoding = tokens.encoding()
        assert encoding.encode_ordinary("hello world") == [15339, 1917]
        assert len(list((tmp_path / "cache").iterdir())) == 1
    finally:
        tokens.encoding.cache_clear()


def test_special_token_strings_count_as_plain_text():
    assert tokens.count_tokens("before <|endoftext|> after") > 3
    assert tokens.count_tokens("") == 0
