"""The Monitor: LRs per group, divergence, bounded history, and exact resume."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch

import lrbench
from lrbench import ConfigError, Diverged, Monitor


def make_model(seed: int = 0) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    optimizer = torch.optim.SGD(
        [{"params": model[0].parameters()}, {"params": model[2].parameters()}],
        lr=1.0,
        momentum=0.9,
    )
    return model, optimizer


def train(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    monitor: Monitor,
    steps: int,
    seed: int = 1,
) -> list[list[float]]:
    """Run `steps` updates; return the LR of every group used at each update."""
    generator = torch.Generator().manual_seed(seed + monitor.step_count)
    used = []
    for _ in range(steps):
        x = torch.randn(16, 8, generator=generator)
        loss = ((model(x) - x.sum(dim=1, keepdim=True)) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        used.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        monitor.step(loss=loss)
    return used


SPECS = [
    "cosine(lr=0.01,min_lr=0.001,total_steps=3000,warmup_steps=100)",
    "sequence(stages=[triangle(min_lr=0.001,max_lr=0.01,half_cycle=700),fixed(lr=0.001)],"
    "boundaries=[2500])",
]


@pytest.mark.parametrize("spec", SPECS)
def test_monitor_applies_the_policy_before_every_update_with_multipliers(spec: str) -> None:
    model, optimizer = make_model()
    monitor = Monitor(spec, optimizer, lr_multipliers=[1.0, 0.1])
    used = np.array(train(model, optimizer, monitor, 3000))
    expected = lrbench.parse(spec).values(np.arange(3000))
    np.testing.assert_array_equal(used[:, 0], expected)
    np.testing.assert_allclose(used[:, 1], expected * 0.1, rtol=1e-15)
    assert monitor.step_count == 3000 and not monitor.diverged


@pytest.mark.parametrize(
    "spec",
    [
        *SPECS,
        "switch_on_plateau(policies=[fixed(lr=0.01),cosine(lr=0.005,total_steps=500)],patience=1)",
    ],
)
def test_resume_from_state_dict_gives_the_same_lrs_and_weights(spec: str) -> None:
    model, optimizer = make_model()
    monitor = Monitor(spec, optimizer)
    uninterrupted = []
    for _ in range(6):
        uninterrupted += train(model, optimizer, monitor, 250)
        monitor.report(loss=monitor.last_loss or 0.0)
    reference_weights = [p.detach().clone() for p in model.parameters()]

    model, optimizer = make_model()
    monitor = Monitor(spec, optimizer)
    resumed = []
    for _ in range(3):
        resumed += train(model, optimizer, monitor, 250)
        monitor.report(loss=monitor.last_loss or 0.0)
    saved = pickle.dumps((model.state_dict(), optimizer.state_dict(), monitor.state_dict()))

    model, optimizer = make_model(seed=99)  # a fresh process: different initial weights
    model_state, optimizer_state, monitor_state = pickle.loads(saved)
    model.load_state_dict(model_state)
    optimizer.load_state_dict(optimizer_state)
    monitor = Monitor(spec, optimizer)
    monitor.load_state_dict(monitor_state)
    for _ in range(3):
        resumed += train(model, optimizer, monitor, 250)
        monitor.report(loss=monitor.last_loss or 0.0)
    assert resumed == uninterrupted
    for a, b in zip(model.parameters(), reference_weights):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_load_state_dict_refuses_another_policy() -> None:
    _, optimizer = make_model()
    state = Monitor("fixed(lr=0.1)", optimizer).state_dict()
    with pytest.raises(ConfigError, match="saved state is for policy 'fixed"):
        Monitor("fixed(lr=0.2)", optimizer).load_state_dict(state)


def test_plateau_policy_reacts_to_reports() -> None:
    _, optimizer = make_model()
    monitor = Monitor("plateau(lr=0.1,patience=1,metric=val_loss)", optimizer)
    for value in (1.0, 1.0, 1.0):
        monitor.step(loss=0.5)
        monitor.report(val_loss=value)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nan_and_inf_losses_flag_divergence(bad: float) -> None:
    _, optimizer = make_model()
    monitor = Monitor("fixed(lr=0.1)", optimizer)
    for loss in (1.0, 0.9, bad, 0.8):
        monitor.step(loss=loss)
    assert monitor.diverged and monitor.diverged_at == 2
    assert f"loss is {bad}" in (monitor.divergence_reason or "")


def test_exploding_loss_raises_when_asked() -> None:
    _, optimizer = make_model()
    monitor = Monitor("fixed(lr=0.1)", optimizer, on_divergence="raise", divergence_factor=4)
    for loss in [1.0] * 20:
        monitor.step(loss=loss)
    with pytest.raises(Diverged) as error:
        for loss in [10.0 * 2**i for i in range(20)]:
            monitor.step(loss=loss)
    assert error.value.step >= 20 and "over 4x its minimum" in str(error.value)


def test_noisy_but_stable_loss_does_not_diverge() -> None:
    _, optimizer = make_model()
    monitor = Monitor("fixed(lr=0.1)", optimizer)
    rng = np.random.default_rng(0)
    for loss in 1.0 + 0.5 * rng.random(5000):
        monitor.step(loss=float(loss))
    assert not monitor.diverged


def test_history_stays_bounded_and_evenly_sampled_over_a_million_steps() -> None:
    _, optimizer = make_model()
    monitor = Monitor("exp(lr=0.1,gamma=0.999999)", optimizer, history_size=1024)
    for step in range(1024 * 1000):
        monitor.step(loss=float(step % 8))
    history = monitor.history
    assert len(history.step) <= 1024 and history.stride == 1024
    assert np.all(np.diff(history.step) == history.stride)
    np.testing.assert_allclose(history.loss, 3.5)  # the mean over whole buckets
    np.testing.assert_allclose(history.lr, 0.1 * 0.999999**history.step)
    assert len(monitor._history.step) == 1024  # the buffer never grows


def test_bad_monitor_arguments() -> None:
    _, optimizer = make_model()
    with pytest.raises(ConfigError, match="`lr_multipliers` must be 2 numbers"):
        Monitor("fixed(lr=0.1)", optimizer, lr_multipliers=[1.0])
    with pytest.raises(ConfigError, match="`optimizer` must have param_groups"):
        Monitor("fixed(lr=0.1)", object())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="`on_divergence` must be flag or raise"):
        Monitor("fixed(lr=0.1)", optimizer, on_divergence="ignore")
