"""Pack prepared training data small enough to carry to a GPU machine, and carry the trained weights back.

A prepared cache holds every window's tokens and offsets (1.4 GB for the ~150,000 groups of the v2 mix). Training
needs only the tokens and the targets, and most windows repeat a paragraph that other questions read too, so
a pack keeps each distinct window context once (uint16 word pieces), each group's question once, and the targets
as small integer arrays, xz-compressed: 9.2 MB for the v2 mix's 1.4 GB cache. ``unpack`` gives back groups that train
exactly like the prepared ones (offsets are zeros of the right length: the loss reads only their count). The pack
folder also holds the dev data and the base model's config and tokenizer, so ``train --packed DIR`` needs neither
``../shared`` nor the installed base model. Weights come back from such a machine in parts of at most 15 MB
(``split``, ``join``), the size its file transfer takes.
"""
from __future__ import annotations

import io
import lzma
import pickle
import shutil
from pathlib import Path

import numpy as np

from rag.reader import Window

from .data import Example, Group, Paragraph, Question

FORMAT = "reader-pack v1"
PART_BYTES = 15_000_000


def pack(groups: list[Group], dev: tuple[list[Paragraph], list[Question], dict[str, list[str]]], base: Path,
         folder: Path) -> int:
    """Write ``groups``, ``dev`` and the base model's config and tokenizer into ``folder``; return its bytes."""
    contexts: dict[bytes, int] = {}
    context_tokens: list[np.ndarray] = []
    questions: list[np.ndarray] = []
    answerable, group_windows, window_context, window_first, targets, sentence_count, sentences = ([] for _ in range(7))
    for group in groups:
        first = group.examples[0].window
        questions.append(first.ids[1:first.first - 1].astype(np.uint16))
        answerable.append(group.answerable)
        group_windows.append(len(group.examples))
        for example in group.examples:
            window = example.window
            context = window.ids[window.first:-1].astype(np.uint16)
            key = context.tobytes()
            if key not in contexts:
                contexts[key] = len(context_tokens)
                context_tokens.append(context)
            window_context.append(contexts[key])
            window_first.append(window.first)
            targets.append((example.starts[0] if example.starts else -1, example.ends[0] if example.ends else -1))
            sentence_count.append(len(example.sentences))
            sentences.extend(example.sentences)
    arrays = {"context_tokens": np.concatenate(context_tokens), "context_sizes": _sizes(context_tokens),
              "question_tokens": np.concatenate(questions), "question_sizes": _sizes(questions),
              "answerable": np.array(answerable, dtype=bool), "group_windows": np.array(group_windows, np.int32),
              "window_context": np.array(window_context, np.int32), "window_first": np.array(window_first, np.int16),
              "targets": np.array(targets, np.int16).reshape(-1, 2),
              "sentence_count": np.array(sentence_count, np.int16),
              "sentences": np.array(sentences, np.int16).reshape(-1, 3)}
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    (folder / "groups.npz.xz").write_bytes(lzma.compress(buffer.getvalue(), preset=6))
    (folder / "dev.pkl.xz").write_bytes(lzma.compress(pickle.dumps((FORMAT, dev), protocol=pickle.HIGHEST_PROTOCOL)))
    (folder / "base").mkdir(exist_ok=True)
    for name in ("config.json", "tokenizer.json"):
        shutil.copyfile(base / name, folder / "base" / name)
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _sizes(parts: list[np.ndarray]) -> np.ndarray:
    return np.array([len(part) for part in parts], dtype=np.int32)


def unpack(folder: Path, cls: int = 101, sep: int = 102
           ) -> tuple[list[Group], tuple[list[Paragraph], list[Question], dict[str, list[str]]]]:
    """Read a pack written by ``pack``: the groups (windows rebuilt as [CLS] question [SEP] context [SEP]) and dev."""
    found, dev = pickle.loads(lzma.decompress((folder / "dev.pkl.xz").read_bytes()))
    if found != FORMAT:
        raise ValueError(f"{folder} holds {found!r}, not {FORMAT!r}; pack the data again")
    data = np.load(io.BytesIO(lzma.decompress((folder / "groups.npz.xz").read_bytes())))
    contexts = _split(data["context_tokens"], data["context_sizes"])
    questions = _split(data["question_tokens"], data["question_sizes"])
    sentence_at = np.concatenate([[0], np.cumsum(data["sentence_count"])])
    groups, window = [], 0
    for number, (count, answerable) in enumerate(zip(data["group_windows"], data["answerable"])):
        examples = []
        for _ in range(int(count)):
            context = contexts[int(data["window_context"][window])]
            first = int(data["window_first"][window])
            ids = np.concatenate([[cls], questions[number], [sep], context, [sep]]).astype(np.int64)
            type_ids = np.zeros(len(ids), dtype=np.int64)
            type_ids[first:] = 1
            start, end = (int(x) for x in data["targets"][window])
            rows = data["sentences"][sentence_at[window]:sentence_at[window + 1]]
            examples.append(Example(Window(ids, type_ids, first, np.zeros((len(context), 2), np.int64)),
                                    (start,) if start >= 0 else (), (end,) if end >= 0 else (),
                                    tuple((int(a), int(b), int(c)) for a, b, c in rows)))
            window += 1
        groups.append(Group(f"g{number}", bool(answerable), tuple(examples)))
    return groups, dev


def _split(tokens: np.ndarray, sizes: np.ndarray) -> list[np.ndarray]:
    return np.split(tokens.astype(np.int64), np.cumsum(sizes)[:-1])


def split(weights: dict[str, object], folder: Path) -> list[Path]:
    """Save a state dict as float16 parts of at most ``PART_BYTES`` each in ``folder`` (a larger tensor in row
    slices, named ``NAME#N``); return their paths."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    pieces = []
    for name, tensor in weights.items():
        value = tensor.detach().cpu()  # type: ignore[attr-defined]
        value = value.half() if value.is_floating_point() else value
        rows = max(1, PART_BYTES // max(1, value[0].numel() * value.element_size())) if value.dim() else 1
        if value.dim() and value.numel() * value.element_size() > PART_BYTES:
            # clone: a saved view would carry its whole tensor
            pieces += [(f"{name}#{n}", part.clone()) for n, part in enumerate(torch.split(value, rows))]
        else:
            pieces.append((name, value))
    parts: list[dict[str, object]] = [{}]
    size = 0
    for name, value in pieces:
        if size and size + value.numel() * value.element_size() > PART_BYTES:
            parts.append({})
            size = 0
        parts[-1][name] = value
        size += value.numel() * value.element_size()
    paths = []
    for number, part in enumerate(parts):
        paths.append(folder / f"weights-{number:02d}.pt")
        torch.save(part, paths[-1])
    return paths


def join(folder: Path) -> dict[str, object]:
    """Return the float32 state dict saved by ``split`` in ``folder``."""
    import torch

    found: dict[str, list[object]] = {}
    for path in sorted(folder.glob("weights-*.pt")):
        for name, tensor in torch.load(path, map_location="cpu").items():
            found.setdefault(name.split("#")[0], []).append(tensor.float() if tensor.is_floating_point() else tensor)
    return {name: torch.cat(parts) if len(parts) > 1 else parts[0] for name, parts in found.items()}
