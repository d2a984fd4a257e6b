"""The training command's options, and the checks that run before any work.

Each check returns one sentence saying what is wrong and what to do, so a typo costs a second instead of a
training run, and no step replaces a run's saved weights unless asked to (``--resume``). It does not look inside
the data files; reading them reports their own errors.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "training" / "squad"
SAMPLE = HERE.parent / "tests" / "data" / "squad-sample"
SHIPPED = HERE.parent / "rag" / "models" / "reader"
RUNS = HERE / "runs"
SMOKE = RUNS / "smoke"  # smoke's own scratch folder, started over by each smoke run


def parser(description: str) -> argparse.ArgumentParser:
    """Return the parser of ``python -m training``."""
    parser = argparse.ArgumentParser(prog="python -m training", description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["prepare", "train", "export", "all", "smoke", "pack"])
    parser.add_argument("--data", type=Path, help="folder with train.jsonl and dev.json (default "
                        "../shared/training/squad; smoke: tests/data/squad-sample)")
    parser.add_argument("--run", type=Path, help=f"run folder (default {RUNS.name}/reader; smoke: {RUNS.name}/smoke, "
                        "which each smoke run starts over)")
    parser.add_argument("--packed", type=Path, help="pack: where to write the prepared data packed small (for a GPU "
                        "machine); train/export: read the data from such a pack instead of --data")
    parser.add_argument("--device", default="cpu", help="train on this torch device (cuda: a GPU, in bf16)")
    parser.add_argument("--out", type=Path, default=SHIPPED, help="where export writes the shipped model")
    parser.add_argument("--cache", type=Path, default=HERE / "cache", help="where prepared data is kept")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--windows-per-batch", type=int, default=32)
    parser.add_argument("--distractors", type=int, default=1)
    parser.add_argument("--dropped-share", type=float, default=0.2,
                        help="share of answerable questions also trained as no-answer groups without their paragraph")
    parser.add_argument("--mix", action="append", default=[], metavar="FILE=WEIGHT",
                        help="also train on this jsonl file (train.jsonl's layout), its questions weighted: 0.5 takes "
                        "a seeded half of them, 2 each twice (repeat for several files)")
    parser.add_argument("--no-answer-share", type=float, default=0.0,
                        help="make about this share of the groups no-answer ones, scaling the --dropped-share, "
                        "--cut-share and --swapped-share of the answerable questions (0: use those shares as given)")
    parser.add_argument("--loosened-share", type=float, default=0.0,
                        help="share of answerable questions asked with about half of the words they share with their "
                        "paragraph left out (a stand-in for paraphrases)")
    parser.add_argument("--cut-share", type=float, default=0.0,
                        help="share of answerable questions also trained as no-answer groups with the sentence that "
                        "holds their answer cut out of their paragraph")
    parser.add_argument("--swapped-share", type=float, default=0.0,
                        help="share of answerable questions also trained as no-answer groups with a name or number "
                        "of the question swapped for another of the article's that their paragraph never mentions")
    parser.add_argument("--adversarial", type=float, default=0.0,
                        help="FGM: also train on word embeddings moved this far along the loss gradient (about "
                        "twice the time a step)")
    parser.add_argument("--max-steps", type=int, default=0)
    parser.add_argument("--stop-at", type=int, default=0,
                        help="stop at this step (with a checkpoint) without changing the schedule")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint-minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N training questions")
    parser.add_argument("--dev-limit", type=int, default=0, help="evaluate on the first N dev questions")
    parser.add_argument("--resume", action="store_true", help="continue the run folder's saved run")
    parser.add_argument("--init", type=Path, help="train on from these saved weights (net-STEP.pt of an earlier run, "
                        "or an exported reader's model.onnx, dequantized) "
                        "with a fresh optimizer and schedule")
    parser.add_argument("--weights", type=Path, nargs="+", help="export these saved weights (net-STEP.pt of the run, "
                        "or a folder of the weights-NN.pt parts that training/gpu.sh brings back) instead of the run's "
                        "last; several are averaged")
    return parser


def problem(args: argparse.Namespace) -> str | None:
    """Return what is wrong with ``args`` in one sentence, or None; fills in the defaults of ``--run`` and ``--data``."""
    if args.run is None:
        args.run = SMOKE if args.step == "smoke" else RUNS / "reader"
    if args.data is None:
        args.data = SAMPLE if args.step == "smoke" else DATA
    return _numbers(args) or _files(args) or _run_folder(args)


def _numbers(args: argparse.Namespace) -> str | None:
    for name in ("dropped_share", "loosened_share", "cut_share", "swapped_share", "no_answer_share"):
        if not 0.0 <= getattr(args, name) <= 1.0:  # also false for nan
            return f"--{_flag(name)} is a share of the questions: give a number from 0 to 1."
    for name in ("learning_rate", "epochs", "checkpoint_minutes"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            return f"--{_flag(name)} must be a positive number, not {value:g}."
    if not (math.isfinite(args.adversarial) and args.adversarial >= 0):
        return f"--adversarial must be 0 (off) or a positive number, not {args.adversarial:g}."
    if args.no_answer_share >= 1.0:
        return "--no-answer-share must be below 1: some groups have to hold an answer."
    if args.no_answer_share and not (args.dropped_share or args.cut_share or args.swapped_share):
        return ("--no-answer-share scales --dropped-share, --cut-share and --swapped-share: give one of them a "
                "share above 0.")
    for name in ("windows_per_batch", "threads"):
        if getattr(args, name) < 1:
            return f"--{_flag(name)} must be at least 1, not {getattr(args, name)}."
    for name in ("distractors", "max_steps", "stop_at", "limit", "dev_limit"):
        if getattr(args, name) < 0:
            return f"--{_flag(name)} cannot be negative (0 means {_ZERO[name]})."
    return None


_ZERO = {"distractors": "none", "max_steps": "from --epochs", "stop_at": "no stop", "limit": "all questions",
         "dev_limit": "all dev questions"}


def _files(args: argparse.Namespace) -> str | None:
    if args.step == "pack" and args.packed is None:
        return "pack writes the prepared data to --packed DIR; name that folder."
    if args.packed is not None and args.step in ("train", "export"):
        if not (args.packed / "groups.npz.xz").is_file():
            return f"{args.packed} holds no packed data (groups.npz.xz); run `python -m training pack --packed DIR`."
        return None
    for name in ("train.jsonl", "dev.json"):
        if not (args.data / name).is_file():
            return f"{args.data} has no {name}; point --data at the folder with train.jsonl and dev.json."
    for item in args.mix:
        path, weight = mixed(item)
        if weight is None or not (math.isfinite(weight) and weight >= 0):
            return f"--mix takes FILE=WEIGHT with a weight of 0 or more, not {item!r}."
        if not path.is_file():
            return f"--mix {path} does not exist."
    if args.init is not None:
        if args.init.suffix not in (".pt", ".onnx"):
            return f"--init takes a run's net-STEP.pt or an exported model.onnx, not {args.init}."
        if not args.init.is_file():
            return f"--init {args.init} does not exist."
    for path in args.weights or ():
        if not (path.is_file() or (path / "weights-00.pt").is_file()):
            return f"--weights {path} does not exist."
    if args.weights and args.step not in ("export", "all"):
        return "--weights chooses what export writes; use it with export."
    return None


def _run_folder(args: argparse.Namespace) -> str | None:
    """A fresh run must not overwrite a saved one, and --resume needs one; export needs a trained run."""
    run = args.run
    checkpoint = (run / "checkpoint.pt").is_file()
    saved = checkpoint or any(run.glob("net-*.pt"))
    if args.step == "smoke" and args.resume:
        return "a smoke run always starts over; leave out --resume."
    if args.step in ("train", "all") and args.resume:
        if not checkpoint:
            return f"{run} holds no checkpoint.pt to resume; leave out --resume to start the run there."
        return _changed(args)
    if args.step in ("train", "all") and saved:
        return (f"{run} already holds a trained run; add --resume to continue it, or pick another --run "
                "(starting over would overwrite its weights).")
    if args.step == "smoke" and saved and run != SMOKE:
        return f"{run} already holds a trained run; give smoke a new --run folder."
    if args.step == "export" and not args.weights and not checkpoint:
        return f"{run} holds no trained run (no checkpoint.pt); train it first or pick its --run."
    if args.step == "export" and not (run / "config.json").is_file():
        return f"{run} holds no config.json of a run; export needs the run that trained the weights (--run)."
    return None


# the options besides --init that decide a run's weights, and their defaults; a resumed run keeps them (a shorter
# --max-steps is how a plan is cut short)
KEPT = ("windows_per_batch", "learning_rate", "seed", "loosened_share", "cut_share", "swapped_share", "adversarial",
        "distractors", "dropped_share", "limit", "mix", "no_answer_share")
DEFAULTS = {name: parser("").get_default(name) for name in KEPT}


def _changed(args: argparse.Namespace) -> str | None:
    path = args.run / "config.json"
    if not path.is_file():
        return None
    saved = json.loads(path.read_text(encoding="utf-8"))
    for name in KEPT:
        if saved.get(name, DEFAULTS[name]) != getattr(args, name):
            return (f"{args.run} was trained with --{_flag(name)} {saved.get(name, DEFAULTS[name])}; resume it with "
                    "the same (or start a new --run).")
    was, now = (str(Path(init).resolve()) if init else "" for init in (saved.get("init", ""), str(args.init or "")))
    if was != now:
        return f"{args.run} was trained with --init {was or '(none)'}; resume it with the same (or start a new --run)."
    return None


def flags(config: dict[str, object], names: tuple[str, ...]) -> str:
    """Return the command-line flags of a run's ``config`` that differ from their defaults, in ``names``' order.

    Example: {"seed": 14, "cut_share": 0.5, "limit": 0} -> " --seed 14 --cut-share 0.5"."""
    return "".join(_format(name, config[name]) for name in names if config.get(name, DEFAULTS[name]) != DEFAULTS[name])


def _format(name: str, value: object) -> str:
    if isinstance(value, list):
        return "".join(f" --{_flag(name)} {item}" for item in value)
    return f" --{_flag(name)} {value:g}"


def mixed(item: str) -> tuple[Path, float | None]:
    """Return the file and weight of one ``--mix FILE=WEIGHT`` (weight None when it is not a number).

    Example: "../qa/tydi.jsonl=0.5" -> (Path("../qa/tydi.jsonl"), 0.5)."""
    path, _, weight = item.rpartition("=")
    try:
        return Path(path), float(weight)
    except ValueError:
        return Path(item), None


def _flag(name: str) -> str:
    return name.replace("_", "-")
