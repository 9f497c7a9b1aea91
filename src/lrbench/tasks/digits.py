"""`digits-mlp`: an MLP on scikit-learn's 8x8 digits (1,797 images that ship with sklearn).

Seconds per trial on a laptop CPU. The train/test split is fixed; the trial's seed sets the
initialisation and the batch order. Final metrics: LRBench's classification metrics plus
`loss` (test) and `train_loss`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import torch

from lrbench.evaluate import classification_metrics
from lrbench.exceptions import ConfigError
from lrbench.store import TaskInfo
from lrbench.tasks._base import BuiltinTask, load_state_dicts, register_task, state_dicts
from lrbench.trial import Trial

OPTIMIZERS = ("sgd", "adam", "adamw")


@cache
def _data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    y = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, test = order[:1400], order[1400:]
    return x[train], y[train], x[test], y[test]


def make_optimizer(name: str, parameters: Any, params: Mapping[str, Any]) -> torch.optim.Optimizer:
    """The optimizer named in the task's params; the LR (0 here) is set by the Monitor."""
    if name == "sgd":
        return torch.optim.SGD(
            parameters,
            lr=0.0,
            momentum=float(params["momentum"]),
            weight_decay=float(params["weight_decay"]),
        )
    if name == "adam":
        return torch.optim.Adam(parameters, lr=0.0, weight_decay=float(params["weight_decay"]))
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=0.0, weight_decay=float(params["weight_decay"]))
    raise ConfigError(f"`optimizer` must be one of {', '.join(OPTIMIZERS)}, got {name!r}")


class DigitsMLP(BuiltinTask):
    """An MLP classifier on the digits data; SGD with momentum unless `optimizer=` says else."""

    name = "digits-mlp"
    description = "MLP on scikit-learn's 8x8 digits; metric accuracy (top-1)"
    metrics = (
        "accuracy",
        "top5",
        "loss",
        "train_loss",
        "loss_gap",
        "confidence_mean",
        "confidence_std",
        "class_confidence_std",
    )
    mode = "max"
    total_steps = 300
    defaults: Mapping[str, Any] = {
        "hidden": 128,
        "optimizer": "sgd",
        "momentum": 0.9,
        "weight_decay": 0.0,
        "batch_size": 64,
        "evaluations": 10,
    }

    def info(self, params: Mapping[str, Any]) -> TaskInfo:
        return TaskInfo(
            name=self.name,
            domain="image-classification",
            model=f"mlp-64-{params['hidden']}-10",
            dataset="sklearn-digits",
            optimizer=str(params["optimizer"]),
            batch_size=int(params["batch_size"]),
        )

    def prepare(self, params: Mapping[str, Any]) -> None:
        _data()

    def train(self, trial: Trial) -> Mapping[str, float]:
        params = trial.params
        torch.manual_seed(trial.seed)
        train_x, train_y, test_x, test_y = _data()
        model = torch.nn.Sequential(
            torch.nn.Linear(64, int(params["hidden"])),
            torch.nn.ReLU(),
            torch.nn.Linear(int(params["hidden"]), 10),
        )
        optimizer = make_optimizer(str(params["optimizer"]), model.parameters(), params)
        generator = torch.Generator().manual_seed(trial.seed)
        state = {"model": model, "optimizer": optimizer, "generator": generator}
        if trial.resume_state is not None:  # a forked phase of a compose study
            load_state_dicts(state, trial.resume_state)
        monitor = trial.monitor(optimizer)
        batch_size = int(params["batch_size"])
        trial.samples_per_step = batch_size
        every = max(1, trial.total_steps // int(params["evaluations"]))
        loss_fn = torch.nn.functional.cross_entropy
        for step in range(trial.start_step, trial.total_steps):
            batch = torch.randint(0, len(train_x), (batch_size,), generator=generator)
            loss = loss_fn(model(train_x[batch]), train_y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            monitor.step(loss=loss)
            if (step + 1) % every == 0 or step + 1 == trial.total_steps:
                with torch.no_grad():
                    logits = model(test_x)
                    test_loss = float(loss_fn(logits, test_y))
                    accuracy = float((logits.argmax(1) == test_y).float().mean())
                trial.report(step + 1, accuracy=accuracy, loss=test_loss)
            if trial.wants_checkpoint(step + 1):
                trial.save_checkpoint(step + 1, state_dicts(state))
        with torch.no_grad():
            logits = model(test_x)
            test_loss = float(loss_fn(logits, test_y))
            train_loss = float(loss_fn(model(train_x), train_y))
        metrics = classification_metrics(
            logits.numpy(), test_y.numpy(), train_loss=train_loss, test_loss=test_loss
        )
        return {**metrics, "loss": test_loss, "train_loss": train_loss}


register_task(DigitsMLP())
