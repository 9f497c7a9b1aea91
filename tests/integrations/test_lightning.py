"""A real Lightning `Trainer.fit` with the LRBench callback, on the CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import lrbench

pl = pytest.importorskip("lightning.pytorch")
from lrbench.integrations.lightning import LRBenchCallback  # noqa: E402

SPEC = "one_cycle(max_lr=0.05,total_steps=40)"


class Regression(pl.LightningModule):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.used: list[float] = []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        self.used.append(self.trainer.optimizers[0].param_groups[0]["lr"])
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=123.0)


def loader() -> torch.utils.data.DataLoader:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(80, 4, generator=generator)
    data = torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True))
    return torch.utils.data.DataLoader(data, batch_size=8)


def fit(tmp_path: Path, callback: LRBenchCallback, max_steps: int) -> Regression:
    torch.manual_seed(0)
    module = Regression()
    trainer = pl.Trainer(
        max_steps=max_steps,
        accelerator="cpu",
        logger=False,
        callbacks=[callback],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
    )
    trainer.fit(module, loader(), loader())
    return module


def test_fit_uses_the_policy_lr_at_every_update(tmp_path: Path) -> None:
    callback = LRBenchCallback(SPEC)
    module = fit(tmp_path, callback, 40)
    np.testing.assert_array_equal(module.used, lrbench.parse(SPEC).values(np.arange(40)))
    monitor = callback.monitors[0]
    assert monitor.step_count == 39 and monitor.epoch == 4 and not monitor.diverged


def test_plateau_policy_hears_validation_metrics(tmp_path: Path) -> None:
    callback = LRBenchCallback(
        "plateau(lr=1e-6,patience=0,factor=0.5,metric=val_loss,threshold=0.5)"
    )
    module = fit(tmp_path, callback, 50)
    assert module.used[0] == 1e-6 and module.used[-1] < 1e-6  # an LR too small to improve


def test_a_spec_may_leave_the_horizon_to_the_trainer(tmp_path: Path) -> None:
    callback = LRBenchCallback("cosine(lr=0.05,warmup_steps=4)")
    module = fit(tmp_path, callback, 40)
    expected = lrbench.parse("cosine(lr=0.05,warmup_steps=4,total_steps=40)")
    np.testing.assert_array_equal(module.used, expected.values(np.arange(40)))
    assert callback.monitor is callback.monitors[0]
