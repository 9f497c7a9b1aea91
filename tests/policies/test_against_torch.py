"""Every policy torch also defines gives torch's LR at every step, to 1e-9 relative."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import assert_close
from torch.optim import lr_scheduler

import lrbench

lrs = st.floats(1e-5, 1.0)
gammas = st.floats(0.5, 0.999)


def torch_lrs(
    make: Callable[[torch.optim.Optimizer], object], steps: int, lr: float, momentum: float = 0.0
) -> np.ndarray:
    """The LR torch's scheduler applies at updates 0..steps-1 (read before each update)."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=lr, momentum=momentum)
    scheduler = make(optimizer)
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()  # type: ignore[attr-defined]
    return np.array(out)


@given(lr=lrs, gamma=gammas, step_size=st.integers(1, 50), steps=st.integers(1, 400))
def test_step_matches_steplr(lr: float, gamma: float, step_size: int, steps: int) -> None:
    policy = lrbench.parse(f"step(lr={lr!r},gamma={gamma!r},step_size={step_size})")
    expected = torch_lrs(lambda o: lr_scheduler.StepLR(o, step_size, gamma), steps, lr)
    assert_close(policy.values(np.arange(steps)), expected)


@given(
    lr=lrs,
    gamma=gammas,
    milestones=st.lists(st.integers(1, 300), min_size=1, max_size=5, unique=True),
)
def test_multistep_matches_multisteplr(lr: float, gamma: float, milestones: list[int]) -> None:
    milestones = sorted(milestones)
    policy = lrbench.parse(f"multistep(lr={lr!r},gamma={gamma!r},milestones={milestones})")
    expected = torch_lrs(lambda o: lr_scheduler.MultiStepLR(o, milestones, gamma), 350, lr)
    assert_close(policy.values(np.arange(350)), expected)


@given(lr=lrs, gamma=gammas)
def test_exp_matches_exponentiallr(lr: float, gamma: float) -> None:
    policy = lrbench.parse(f"exp(lr={lr!r},gamma={gamma!r})")
    expected = torch_lrs(lambda o: lr_scheduler.ExponentialLR(o, gamma), 300, lr)
    assert_close(policy.values(np.arange(300)), expected)


@given(lr=lrs, total=st.integers(1, 300), power=st.floats(0.5, 3.0))
def test_poly_matches_polynomiallr(lr: float, total: int, power: float) -> None:
    policy = lrbench.parse(f"poly(lr={lr!r},total_steps={total},power={power!r})")
    steps = total + 50  # past the horizon too: both stay at 0
    expected = torch_lrs(lambda o: lr_scheduler.PolynomialLR(o, total, power), steps, lr)
    assert_close(policy.values(np.arange(steps)), expected, rtol=1e-9)


@given(lr=lrs, floor=st.floats(0.0, 0.9), total=st.integers(1, 400))
def test_cosine_matches_cosineannealinglr(lr: float, floor: float, total: int) -> None:
    min_lr = lr * floor
    policy = lrbench.parse(f"cosine(lr={lr!r},min_lr={min_lr!r},total_steps={total})")
    expected = torch_lrs(lambda o: lr_scheduler.CosineAnnealingLR(o, total, min_lr), total + 1, lr)
    assert_close(policy.values(np.arange(total + 1)), expected)


def test_cosine_stays_at_min_lr_past_the_horizon_where_torch_rises_again() -> None:
    policy = lrbench.parse("cosine(lr=0.1,min_lr=0.001,total_steps=100)")
    assert np.all(policy.values(np.arange(100, 400)) == 0.001)


@given(lr=lrs, floor=st.floats(0.0, 0.9), period=st.integers(1, 60), mult=st.integers(1, 3))
def test_cosine_restarts_matches_cosineannealingwarmrestarts(
    lr: float, floor: float, period: int, mult: int
) -> None:
    min_lr = lr * floor
    policy = lrbench.parse(
        f"cosine_restarts(lr={lr!r},min_lr={min_lr!r},period={period},period_mult={mult})"
    )
    expected = torch_lrs(
        lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, period, mult, min_lr), 500, lr
    )
    assert_close(policy.values(np.arange(500)), expected)


@given(
    max_lr=lrs,
    total=st.integers(20, 400),
    pct=st.floats(0.1, 0.45),
    div=st.floats(2, 100),
    final_div=st.floats(1, 1e5),
    three_phase=st.booleans(),
    shape=st.sampled_from(["cos", "linear"]),
)
def test_one_cycle_matches_onecyclelr(
    max_lr: float,
    total: int,
    pct: float,
    div: float,
    final_div: float,
    three_phase: bool,
    shape: str,
) -> None:
    spec = (
        f"one_cycle(max_lr={max_lr!r},total_steps={total},pct_start={pct!r},"
        f"div_factor={div!r},final_div_factor={final_div!r},"
        f"three_phase={str(three_phase).lower()},anneal_shape={shape})"
    )
    policy = lrbench.parse(spec)
    expected = torch_lrs(
        lambda o: lr_scheduler.OneCycleLR(
            o,
            max_lr,
            total_steps=total,
            pct_start=pct,
            div_factor=div,
            final_div_factor=final_div,
            three_phase=three_phase,
            anneal_strategy=shape,
            cycle_momentum=False,
        ),
        total,
        max_lr,
    )
    assert_close(policy.values(np.arange(total)), expected)
    assert policy(total + 100) == policy(total - 1)


@given(
    base=st.floats(1e-5, 0.1),
    spread=st.floats(1.0, 100.0),
    half=st.integers(1, 60),
    gamma=st.floats(0.99, 0.99999),
    mode=st.sampled_from(["triangle", "triangle2", "triangle_exp"]),
)
def test_triangles_match_cycliclr(
    base: float, spread: float, half: int, gamma: float, mode: str
) -> None:
    max_lr = base * spread
    torch_mode = {
        "triangle": "triangular",
        "triangle2": "triangular2",
        "triangle_exp": "exp_range",
    }[mode]
    extra = f",gamma={gamma!r}" if mode == "triangle_exp" else ""
    policy = lrbench.parse(f"{mode}(min_lr={base!r},max_lr={max_lr!r},half_cycle={half}{extra})")
    expected = torch_lrs(
        lambda o: lr_scheduler.CyclicLR(
            o, base, max_lr, step_size_up=half, mode=torch_mode, gamma=gamma, cycle_momentum=False
        ),
        500,
        base,
    )
    assert_close(policy.values(np.arange(500)), expected)
