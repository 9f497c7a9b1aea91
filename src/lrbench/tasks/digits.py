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
from lrbench.tasks._base import BuiltinTask, register_task
from lrbench.tasks._info import TaskInfo
from lrbench.tasks._loop import make_optimizer, train_loop
from lrbench.trial import Trial


@cache
def _data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    y = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, test = order[:1400], order[1400:]
    return x[train], y[train], x[test], y[test]


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
        batch_size = int(params["batch_size"])
        trial.samples_per_step = batch_size
        loss_fn = torch.nn.functional.cross_entropy

        def batch_loss() -> torch.Tensor:
            batch = torch.randint(0, len(train_x), (batch_size,), generator=generator)
            return loss_fn(model(train_x[batch]), train_y[batch])

        def evaluate(train_loss: float) -> dict[str, float]:
            with torch.no_grad():
                logits = model(test_x)
                test_loss = float(loss_fn(logits, test_y))
                accuracy = float((logits.argmax(1) == test_y).float().mean())
            return {"accuracy": accuracy, "loss": test_loss}

        train_loop(
            trial,
            model=model,
            optimizer=optimizer,
            generator=generator,
            batch_loss=batch_loss,
            evaluate=evaluate,
            evaluations=int(params["evaluations"]),
        )
        with torch.no_grad():
            logits = model(test_x)
            test_loss = float(loss_fn(logits, test_y))
            train_loss = float(loss_fn(model(train_x), train_y))
        metrics = classification_metrics(
            logits.numpy(), test_y.numpy(), train_loss=train_loss, test_loss=test_loss
        )
        return {**metrics, "loss": test_loss, "train_loss": train_loss}


register_task(DigitsMLP())
