"""The reader network: MiniLM's encoder with one linear layer giving three logits per token.

Logit 0 and 1 score a token as the answer's first and last token ([CLS] for no
answer); logit 2 scores the token's sentence as holding the answer (averaged
over the sentence). ``loss`` is the shared-normalization objective over the
windows of each group.
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import AutoConfig, AutoModel

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the data module needs the runtime's splitter and BM25; a GPU machine may have neither
    from .data import Group

SENTENCE_WEIGHT = 0.5


class ReaderNet(nn.Module):
    """BERT-style encoder plus a (hidden -> 3) head."""

    def __init__(self, base: str, pretrained: bool = True) -> None:
        """``base``: a model folder; without ``pretrained`` only its config.json is read (weights come later)."""
        super().__init__()
        if pretrained:
            self.encoder = AutoModel.from_pretrained(base, add_pooling_layer=False)
        else:
            with torch.random.fork_rng():  # the random start is overwritten; the head's draws stay as they were
                self.encoder = AutoModel.from_config(AutoConfig.from_pretrained(base), add_pooling_layer=False)
        self.head = nn.Linear(self.encoder.config.hidden_size, 3)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state
        return self.head(hidden)


def batch_tensors(groups: list[Group], device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad every window of ``groups`` into (ids, mask, type ids) tensors on ``device``, groups in order."""
    windows = [e.window for g in groups for e in g.examples]
    width = max(len(w.ids) for w in windows)
    ids = torch.zeros((len(windows), width), dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for row, window in enumerate(windows):
        size = len(window.ids)
        ids[row, :size] = torch.from_numpy(window.ids)
        types[row, :size] = torch.from_numpy(window.type_ids)
        mask[row, :size] = 1
    return ids.to(device), mask.to(device), types.to(device)


def loss(logits: torch.Tensor, groups: list[Group]) -> tuple[torch.Tensor, dict[str, float]]:
    """Return the mean span loss (shared over each group's windows) plus the weighted sentence loss."""
    device = logits.device
    logits = logits.float()
    span_losses, sentence_logits, sentence_labels = [], [], []
    row = 0
    for group in groups:
        candidates, start_targets, end_targets = [], [], []
        for example in group.examples:
            stop = example.window.first + len(example.window.offsets)
            positions = torch.cat([torch.zeros(1, dtype=torch.long, device=device),
                                   torch.arange(example.window.first, stop, device=device)])
            base = sum(len(c) for c in candidates)
            candidates.append(positions + row * logits.shape[1])
            if group.answerable:
                start_targets += [base + 1 + p - example.window.first for p in example.starts]
                end_targets += [base + 1 + p - example.window.first for p in example.ends]
            else:
                start_targets.append(base)
                end_targets.append(base)
            for first, stop_, label in example.sentences:
                sentence_logits.append(logits[row, first:stop_, 2].mean())
                sentence_labels.append(float(label))
            row += 1
        flat = torch.cat(candidates)
        for column, targets in ((0, start_targets), (1, end_targets)):
            scores = logits[:, :, column].reshape(-1)[flat]
            chosen = scores[torch.tensor(targets, dtype=torch.long, device=device)]
            span_losses.append(torch.logsumexp(scores, 0) - torch.logsumexp(chosen, 0))
    span = torch.stack(span_losses).sum() / (2 * len(groups))
    sentence = nn.functional.binary_cross_entropy_with_logits(torch.stack(sentence_logits),
                                                              torch.tensor(sentence_labels, device=device))
    total = span + SENTENCE_WEIGHT * sentence
    return total, {"span": float(span.detach()), "sentence": float(sentence.detach())}
