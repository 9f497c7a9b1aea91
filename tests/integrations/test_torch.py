"""`LRBenchScheduler` in a real torch training loop, and its exact resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import lrbench
from lrbench.integrations.torch import LRBenchScheduler

SPEC = "cosine(lr=0.05,min_lr=0.001,total_steps=200,warmup_steps=20)"


def run(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: LRBenchScheduler,
    steps: int,
) -> list[float]:
    used = []
    for _ in range(steps):
        x = torch.randn(32, 4)
        loss = ((model(x) - x[:, :1]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return used


def build(seed: int = 0) -> tuple[torch.nn.Module, torch.optim.Optimizer, LRBenchScheduler]:
    torch.manual_seed(seed)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=123.0)  # ignored: the policy rules
    return model, optimizer, LRBenchScheduler(optimizer, SPEC)


def test_training_uses_the_policy_lr_at_every_update() -> None:
    model, optimizer, scheduler = build()
    used = run(model, optimizer, scheduler, 250)
    np.testing.assert_array_equal(used, lrbench.parse(SPEC).values(np.arange(250)))
    assert scheduler.get_last_lr() == [lrbench.parse(SPEC)(250)]


def test_state_dict_is_json_and_resumes_exactly() -> None:
    torch.manual_seed(1)
    model, optimizer, scheduler = build()
    reference = run(model, optimizer, scheduler, 120)
    reference_weights = model.weight.detach().clone()

    torch.manual_seed(1)
    model, optimizer, scheduler = build()
    first = run(model, optimizer, scheduler, 70)
    saved = (model.state_dict(), optimizer.state_dict(), json.dumps(scheduler.state_dict()))
    rng = torch.get_rng_state()

    model, optimizer, scheduler = build(seed=5)
    model.load_state_dict(saved[0])
    optimizer.load_state_dict(saved[1])
    scheduler.load_state_dict(json.loads(saved[2]))
    torch.set_rng_state(rng)
    assert first + run(model, optimizer, scheduler, 50) == reference
    torch.testing.assert_close(model.weight, reference_weights, rtol=0, atol=0)


def test_adaptive_policy_through_report() -> None:
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = LRBenchScheduler(optimizer, "plateau(lr=0.1,patience=0,metric=val_loss)")
    for value in (1.0, 1.0):
        optimizer.step()
        scheduler.step()
        scheduler.report(val_loss=value)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01)
    assert scheduler.get_last_lr() == [pytest.approx(0.01)]


def test_group_multipliers_and_bad_input() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 1))
    optimizer = torch.optim.SGD(
        [{"params": model[0].parameters()}, {"params": model[1].parameters()}], lr=1.0
    )
    LRBenchScheduler(optimizer, "fixed(lr=0.1)", lr_multipliers=[0.5, 2])
    assert [g["lr"] for g in optimizer.param_groups] == [0.05, 0.2]
    with pytest.raises(lrbench.ConfigError, match="`lr_multipliers` must be 2 numbers"):
        LRBenchScheduler(optimizer, "fixed(lr=0.1)", lr_multipliers=[1.0])
    scheduler = LRBenchScheduler(optimizer, "fixed(lr=0.1)")
    with pytest.raises(lrbench.ConfigError, match="saved state is for policy"):
        scheduler.load_state_dict(LRBenchScheduler(optimizer, "fixed(lr=0.2)").state_dict())
