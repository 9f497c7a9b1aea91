"""`charlm`: LLM fine-tuning in miniature, on text installed with Python itself.

A small causal transformer over bytes is "pretrained" once on Python's help topics
(`pydoc_data.topics`, ~460 KB of technical English) and cached; each trial fine-tunes that
checkpoint on a different body of text, Python's license (`LICENSE.txt` in the standard
library, legal English), for an iteration budget, and reports the validation loss (nats per
byte) on a held-out tail of it. Pretrained start, few passes over small data, budget in
steps: the regime of LLM fine-tuning, in seconds per trial on a CPU.
"""

from __future__ import annotations

import hashlib
import json
import sysconfig
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional

from lrbench._files import atomic_write, cache_dir
from lrbench.tasks._base import BuiltinTask, register_task
from lrbench.tasks._info import TaskInfo
from lrbench.tasks._loop import make_optimizer, train_loop
from lrbench.trial import Trial

PRETRAIN_STEPS = 1200
PRETRAIN_LR = 3e-3


class TinyGPT(nn.Module):
    """A byte-level causal transformer (pre-norm blocks, learned positions, tied embedding)."""

    def __init__(self, width: int, layers: int, heads: int, context: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(256, width)
        self.position = nn.Parameter(torch.zeros(context, width))
        self.blocks = nn.ModuleList(_Block(width, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(width)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        hidden = self.embed(tokens) + self.position[: tokens.shape[1]]
        for block in self.blocks:
            hidden = block(hidden)
        return self.norm(hidden) @ self.embed.weight.T


class _Block(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(width, dim=2)
        shape = (batch, length, self.heads, width // self.heads)
        q, k, v = (t.view(shape).transpose(1, 2) for t in (q, k, v))
        attended = functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.out(attended.transpose(1, 2).reshape(batch, length, width))
        return x + self.mlp(self.norm2(x))


@cache
def pretraining_text() -> bytes:
    """Python's interactive help topics: the pretraining corpus."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics)).encode("utf-8")


@cache
def finetuning_text() -> bytes:
    """Python's license text (falls back to standard-library docstrings if it is absent)."""
    license_file = Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt"
    if license_file.is_file():
        return license_file.read_bytes()
    import argparse
    import collections
    import json as json_module
    import textwrap

    docs = [m.__doc__ or "" for m in (argparse, collections, json_module, textwrap)]
    return "\n\n".join(docs).encode("utf-8")


def _windows(
    data: torch.Tensor, starts: torch.Tensor, context: int
) -> tuple[torch.Tensor, torch.Tensor]:
    rows = torch.stack([data[s : s + context + 1] for s in starts.tolist()])
    return rows[:, :-1], rows[:, 1:]


def _lm_loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = model(inputs)
    return functional.cross_entropy(logits.reshape(-1, 256), targets.reshape(-1))


class CharLM(BuiltinTask):
    """Fine-tune a pretrained byte-level transformer; metric `val_loss` (nats per byte)."""

    name = "charlm"
    description = "byte-level transformer pretrained on Python's docs, fine-tuned on its license"
    metrics = ("val_loss", "train_loss")
    mode = "min"
    total_steps = 120
    defaults: Mapping[str, Any] = {
        "width": 64,
        "layers": 2,
        "heads": 4,
        "context": 64,
        "batch_size": 16,
        "optimizer": "adamw",
        "weight_decay": 0.0,
        "momentum": 0.9,
        "evaluations": 6,
    }

    def info(self, params: Mapping[str, Any]) -> TaskInfo:
        return TaskInfo(
            name=self.name,
            domain="llm-finetune",
            model=f"tinygpt-{params['width']}x{params['layers']}-ctx{params['context']}",
            dataset="python-license",
            optimizer=str(params["optimizer"]),
            batch_size=int(params["batch_size"]),
        )

    def _model(self, params: Mapping[str, Any]) -> TinyGPT:
        return TinyGPT(
            int(params["width"]),
            int(params["layers"]),
            int(params["heads"]),
            int(params["context"]),
        )

    def _checkpoint(self, params: Mapping[str, Any]) -> Path:
        keys = ("width", "layers", "heads", "context")
        config = {k: params[k] for k in keys} | {
            "steps": PRETRAIN_STEPS,
            "lr": PRETRAIN_LR,
            "torch": torch.__version__.split("+")[0],
        }
        digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
        return cache_dir() / f"charlm-{digest}.pt"

    def prepare(self, params: Mapping[str, Any]) -> None:
        """Pretrain once and cache the checkpoint (about half a minute on a CPU)."""
        path = self._checkpoint(params)
        if path.exists():
            return
        torch.manual_seed(0)
        model = self._model(params)
        context = int(params["context"])
        data = torch.tensor(list(pretraining_text()), dtype=torch.long)
        optimizer = torch.optim.AdamW(model.parameters(), lr=PRETRAIN_LR)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, PRETRAIN_LR, total_steps=PRETRAIN_STEPS
        )
        generator = torch.Generator().manual_seed(0)
        for _ in range(PRETRAIN_STEPS):
            starts = torch.randint(0, len(data) - context - 1, (32,), generator=generator)
            loss = _lm_loss(model, *_windows(data, starts, context))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
        weights = model.state_dict()
        atomic_write(path, lambda partial: torch.save(weights, partial))  # workers read it

    def train(self, trial: Trial) -> Mapping[str, float]:
        params = trial.params
        self.prepare(params)
        model = self._model(params)
        model.load_state_dict(torch.load(self._checkpoint(params), weights_only=True))
        context, batch_size = int(params["context"]), int(params["batch_size"])
        text = torch.tensor(list(finetuning_text()), dtype=torch.long)
        split = int(len(text) * 0.9)
        train, valid = text[:split], text[split:]
        valid_starts = torch.arange(0, len(valid) - context - 1, context)[:64]
        valid_inputs, valid_targets = _windows(valid, valid_starts, context)

        torch.manual_seed(trial.seed)
        optimizer = make_optimizer(str(params["optimizer"]), model.parameters(), params)
        generator = torch.Generator().manual_seed(trial.seed)
        trial.samples_per_step = batch_size
        trial.tokens_per_step = batch_size * context

        def batch_loss() -> torch.Tensor:
            starts = torch.randint(0, len(train) - context - 1, (batch_size,), generator=generator)
            return _lm_loss(model, *_windows(train, starts, context))

        def validation_loss() -> float:
            with torch.no_grad():
                return float(_lm_loss(model, valid_inputs, valid_targets))

        train_loss = train_loop(
            trial,
            model=model,
            optimizer=optimizer,
            generator=generator,
            batch_loss=batch_loss,
            evaluate=lambda loss: {"val_loss": validation_loss(), "train_loss": loss},
            evaluations=int(params["evaluations"]),
        )
        return {"val_loss": validation_loss(), "train_loss": train_loss}


register_task(CharLM())
