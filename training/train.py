"""Training loop: AdamW with linear warm-up and decay, checkpoints, dev figures after each.

A run lives in its own folder: ``config.json``, ``log.jsonl`` (loss every few
steps, dev figures at each checkpoint) and ``checkpoint.pt`` (model, optimizer,
schedule, step, random states), so a killed run resumes where it stopped
(``--resume``). Seeds are fixed; batches are drawn from length-sorted pools so
little time goes to padding.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rag.reader import Tokens, Window

from .data import Group, Paragraph, Question
from .evaluate import Figures, best_threshold, predict, score
from .model import ReaderNet, batch_tensors, loss


@dataclass(frozen=True)
class Config:
    """Everything that decides a run."""

    base: str
    epochs: float = 2.0
    windows_per_batch: int = 32
    learning_rate: float = 1e-4
    warmup: float = 0.1
    weight_decay: float = 0.01
    seed: int = 13
    threads: int = 2
    checkpoint_minutes: float = 30.0
    max_steps: int = 0  # 0: from epochs
    dev_questions: int = 0  # 0: all
    init: str = ""  # start from these saved weights (a second stage) instead of the base model
    loosened_share: float = 0.0  # share of answerable questions asked with fewer of their paragraph's words
    cut_share: float = 0.0  # share of answerable questions also trained without their answer's sentence
    swapped_share: float = 0.0  # share of answerable questions also trained with an entity swapped, as no-answer
    adversarial: float = 0.0  # FGM: also train on word embeddings pushed this far along the loss gradient (0: off)
    distractors: int = 1  # the data's settings (``prepare``), recorded so that the commands can repeat them
    dropped_share: float = 0.2
    limit: int = 0  # 0: every training question
    mix: list[str] = dataclasses.field(default_factory=list)  # more training files, "FILE=WEIGHT" (``--mix``)
    no_answer_share: float = 0.0  # the share of no-answer groups the data was made with (0: the shares as given)


class TorchLogits:
    """The network as the runtime's ``logits`` callable (no gradients)."""

    def __init__(self, net: ReaderNet, batch: int = 32, device: str = "cpu") -> None:
        self.net = net
        self.batch = batch
        self.device = device

    def __call__(self, windows: list[Window]) -> list[np.ndarray]:
        result: list[np.ndarray] = [np.zeros((0, 3), np.float32)] * len(windows)
        order = sorted(range(len(windows)), key=lambda n: len(windows[n].ids))
        for at in range(0, len(order), self.batch):
            part = [windows[n] for n in order[at:at + self.batch]]
            width = max(len(w.ids) for w in part)
            ids = torch.zeros((len(part), width), dtype=torch.long)
            types, mask = torch.zeros_like(ids), torch.zeros_like(ids)
            for row, w in enumerate(part):
                ids[row, :len(w.ids)] = torch.from_numpy(w.ids)
                types[row, :len(w.ids)] = torch.from_numpy(w.type_ids)
                mask[row, :len(w.ids)] = 1
            with torch.no_grad(), _autocast(self.device):
                out = self.net(ids.to(self.device), mask.to(self.device), types.to(self.device)).float().cpu().numpy()
            for row, n in enumerate(order[at:at + self.batch]):
                result[n] = out[row, :len(windows[n].ids)]
        return result


def batches(groups: list[Group], windows_per_batch: int, rng: random.Random) -> Iterator[list[Group]]:
    """Yield batches of whole groups, about ``windows_per_batch`` windows each, similar lengths together."""
    order = groups[:]
    rng.shuffle(order)
    pool = 64 * windows_per_batch
    result = []
    at = 0
    while at < len(order):
        chunk, count = [], 0
        while at < len(order) and count < pool:
            chunk.append(order[at])
            count += len(order[at].examples)
            at += 1
        chunk.sort(key=lambda g: g.length)
        batch: list[Group] = []
        size = 0
        for group in chunk:
            batch.append(group)
            size += len(group.examples)
            if size >= windows_per_batch:
                result.append(batch)
                batch, size = [], 0
        if batch:
            result.append(batch)
    rng.shuffle(result)
    yield from result


def _autocast(device: str):  # type: ignore[no-untyped-def]
    """bf16 matrix work on a GPU; nothing changes on the CPU."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.startswith("cuda") else contextlib.nullcontext()


def train(config: Config, groups: list[Group], dev: tuple[list[Paragraph], list[Question], dict[str, list[str]]],
          tokens: Tokens, folder: Path, resume: bool = False, stop_at: int = 0, device: str = "cpu") -> ReaderNet:
    """Train a reader on ``groups``; write checkpoints and dev figures into ``folder``; return the net.

    ``stop_at`` ends the run early at that step (with a checkpoint) without changing its schedule, so a later
    ``resume`` with a shorter ``max_steps`` reproduces a run whose plan was cut short. On a ``device`` other than
    the CPU (``cuda``) the matrix work runs in bf16."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=1), encoding="utf-8")
    net = ReaderNet(config.base, pretrained=not config.init)
    if config.init:
        net.load_state_dict(initial_weights(Path(config.init)))
    net.to(device)
    decay = [p for n, p in net.named_parameters() if not any(k in n for k in ("bias", "LayerNorm"))]
    rest = [p for n, p in net.named_parameters() if any(k in n for k in ("bias", "LayerNorm"))]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": rest, "weight_decay": 0.0}], lr=config.learning_rate)
    windows_total = sum(len(g.examples) for g in groups)
    steps_per_epoch = max(1, round(windows_total / config.windows_per_batch))
    total = config.max_steps or max(1, round(config.epochs * steps_per_epoch))
    warmup = max(1, int(config.warmup * total))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    step, epoch, seconds = 0, 0, 0.0
    checkpoint = folder / "checkpoint.pt"
    if resume and checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False, map_location=device)
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        step, epoch, seconds = state["step"], state["epoch"], state["seconds"]
        torch.set_rng_state(state["torch_rng"].cpu())
    log = open(folder / "log.jsonl", "a", encoding="utf-8")
    _write(log, {"event": "start", "step": step, "total_steps": total, "init": config.init, "groups": len(groups),
                 "windows": windows_total, "steps_per_epoch": steps_per_epoch})
    last_checkpoint = time.monotonic()
    net.train()
    while step < total:
        rng = random.Random(config.seed * 1000 + epoch)
        skip = step - epoch * steps_per_epoch
        for number, batch in enumerate(batches(groups, config.windows_per_batch, rng)):
            if number < skip:
                continue
            if step >= total or (stop_at and step >= stop_at):
                break
            started = time.perf_counter()
            ids, mask, types = batch_tensors(batch, device)
            with _autocast(device):
                logits = net(ids, mask, types)
            value, parts = loss(logits, batch)
            optimizer.zero_grad()
            value.backward()
            if config.adversarial:
                adversarial_backward(net, (ids, mask, types), batch, config.adversarial)
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            seconds += time.perf_counter() - started
            if step % 20 == 0:
                _write(log, {"step": step, "loss": round(float(value.detach()), 4), **{k: round(v, 4) for k, v in parts.items()},
                             "lr": schedule.get_last_lr()[0], "seconds": round(seconds, 1)})
            if (time.monotonic() - last_checkpoint > config.checkpoint_minutes * 60 or step >= total
                    or step == stop_at):
                _save(checkpoint, net, optimizer, schedule, step, epoch, seconds)
                figures = evaluate(net, dev, tokens, config.dev_questions, device)
                _write(log, {"event": "checkpoint", "step": step, "seconds": round(seconds, 1),
                             "epochs": round(step / steps_per_epoch, 3), **figures})
                torch.save(cpu_state(net), folder / f"net-{step:06d}.pt")
                net.train()
                last_checkpoint = time.monotonic()
        else:
            epoch += 1
            continue
        break
    log.close()
    return net


def adversarial_backward(net: ReaderNet, inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
                         batch: list[Group], epsilon: float) -> None:
    """Add the gradients of the loss on word embeddings moved ``epsilon`` along their gradient (FGM,
    Miyato et al. 2017), then put the embeddings back."""
    embeddings = net.encoder.embeddings.word_embeddings.weight
    if embeddings.grad is None:
        return
    norm = embeddings.grad.norm()
    if not torch.isfinite(norm) or norm == 0:
        return
    rows = torch.unique(inputs[0])  # only the words of the batch have a gradient
    kept = embeddings.data[rows].clone()
    embeddings.data[rows] += epsilon * embeddings.grad[rows] / norm
    value, _ = loss(net(*inputs), batch)
    value.backward()
    embeddings.data[rows] = kept


def initial_weights(path: Path) -> dict[str, torch.Tensor]:
    """Return the weights a stage starts from: a saved net-STEP.pt, or a shipped int8 reader (``.onnx``)."""
    if path.suffix == ".onnx":
        from .recover import weights_from_onnx

        return weights_from_onnx(path)
    return torch.load(path, weights_only=False, map_location="cpu")


def evaluate(net: ReaderNet, dev: tuple[list[Paragraph], list[Question], dict[str, list[str]]], tokens: Tokens,
             limit: int = 0, device: str = "cpu") -> dict[str, object]:
    """Return the dev figures at threshold 0 and at the best threshold."""
    net.eval()
    paragraphs, questions, gold = dev
    if limit:
        questions = questions[:limit]
        gold = {q.qid: gold[q.qid] for q in questions}
    from rag.reader import MAX_TOKENS

    predictions = predict(paragraphs, questions, tokens, TorchLogits(net, device=device), MAX_TOKENS)
    at_zero: Figures = score(predictions, gold, 0.0)
    best: Figures = best_threshold(predictions, gold)
    return {"dev": dataclasses.asdict(at_zero), "dev_best": dataclasses.asdict(best)}


def _save(path: Path, net: ReaderNet, optimizer: torch.optim.Optimizer, schedule: object, step: int, epoch: int,
          seconds: float) -> None:
    temporary = path.with_suffix(".tmp")
    torch.save({"net": cpu_state(net), "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(), "step": step, "epoch": epoch,  # type: ignore[attr-defined]
                "seconds": seconds, "torch_rng": torch.get_rng_state()}, temporary)
    os.replace(temporary, path)


def cpu_state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Return the network's weights on the CPU (a run trained on a GPU is exported and resumed anywhere)."""
    return {name: tensor.detach().cpu() for name, tensor in net.state_dict().items()}


def _write(log: object, row: dict[str, object]) -> None:
    row = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), **row}
    log.write(json.dumps(row) + "\n")  # type: ignore[attr-defined]
    log.flush()  # type: ignore[attr-defined]
    print(json.dumps(row), flush=True)
