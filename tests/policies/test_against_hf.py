"""`from_hf` policies give Hugging Face's LR at every step (warmup and past the horizon too)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from tests.conftest import assert_close

import lrbench

transformers = pytest.importorskip("transformers")

lrs = st.floats(1e-6, 1.0)


def hf_lrs(
    name: str, lr: float, warmup: int, total: int | None, steps: int, **kwargs: object
) -> np.ndarray:
    """The LR `transformers.get_scheduler` applies at updates 0..steps-1."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=lr)
    scheduler = transformers.get_scheduler(
        name,
        optimizer,
        num_warmup_steps=warmup,
        num_training_steps=total,
        scheduler_specific_kwargs=kwargs or None,
    )
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return np.array(out)


def ours(
    name: str, lr: float, warmup: int, total: int | None, steps: int, **kwargs: object
) -> np.ndarray:
    policy = lrbench.from_hf(
        name, lr=lr, num_warmup_steps=warmup, num_training_steps=total, **kwargs
    )
    assert lrbench.parse(str(policy)) == policy
    return policy.values(np.arange(steps))


horizons = st.integers(2, 300).flatmap(
    lambda total: st.tuples(st.just(total), st.integers(0, total - 1))
)


@pytest.mark.parametrize("name", ["linear", "constant_with_warmup"])
@given(lr=lrs, horizon=horizons)
def test_linear_and_constant(name: str, lr: float, horizon: tuple[int, int]) -> None:
    total, warmup = horizon
    steps = total + 30
    assert_close(ours(name, lr, warmup, total, steps), hf_lrs(name, lr, warmup, total, steps))


@given(lr=lrs, horizon=horizons)
def test_constant(lr: float, horizon: tuple[int, int]) -> None:
    total, _ = horizon
    assert_close(ours("constant", lr, 0, None, total), hf_lrs("constant", lr, 0, None, total))


@given(lr=lrs, horizon=horizons, floor=st.floats(0, 0.9), by_rate=st.booleans())
def test_cosine_up_to_and_at_the_horizon(
    lr: float, horizon: tuple[int, int], floor: float, by_rate: bool
) -> None:
    total, warmup = horizon
    kwargs = {"min_lr_rate": floor} if by_rate else {"min_lr": lr * floor}
    expected = hf_lrs("cosine_with_min_lr", lr, warmup, total, total + 1, **kwargs)
    assert_close(ours("cosine_with_min_lr", lr, warmup, total, total + 1, **kwargs), expected)
    assert_close(
        ours("cosine", lr, warmup, total, total + 1),
        hf_lrs("cosine", lr, warmup, total, total + 1),
    )


def test_cosine_past_the_horizon_stays_at_min_lr_where_hf_rises() -> None:
    values = ours("cosine", 1e-3, 10, 100, 300)
    assert np.all(values[100:] == 0.0)
    assert hf_lrs("cosine", 1e-3, 10, 100, 300)[200] > 0  # HF's cosine turns back up


@given(lr=lrs, horizon=horizons, cycles=st.integers(1, 5))
def test_cosine_with_restarts(lr: float, horizon: tuple[int, int], cycles: int) -> None:
    total, warmup = horizon
    steps = total + 30
    assert_close(
        ours("cosine_with_restarts", lr, warmup, total, steps, num_cycles=cycles),
        hf_lrs("cosine_with_restarts", lr, warmup, total, steps, num_cycles=cycles),
    )


@given(lr=st.floats(1e-3, 1.0), horizon=horizons, end=st.floats(0, 0.9), power=st.floats(0.5, 3.0))
def test_polynomial(lr: float, horizon: tuple[int, int], end: float, power: float) -> None:
    total, warmup = horizon
    steps = total + 30
    kwargs = {"lr_end": lr * end, "power": power}
    assume(lr * end < lr)
    assert_close(
        ours("polynomial", lr, warmup, total, steps, **kwargs),
        hf_lrs("polynomial", lr, warmup, total, steps, **kwargs),
    )


@given(lr=lrs, warmup=st.integers(0, 200), timescale=st.none() | st.integers(1, 5000))
def test_inverse_sqrt(lr: float, warmup: int, timescale: int | None) -> None:
    kwargs = {} if timescale is None else {"timescale": timescale}
    assert_close(
        ours("inverse_sqrt", lr, warmup, None, 600, **kwargs),
        hf_lrs("inverse_sqrt", lr, warmup, None, 600, **kwargs),
    )


@given(
    lr=lrs,
    total=st.integers(3, 400),
    split=st.tuples(st.floats(0, 0.5), st.floats(0.01, 0.5)),
    ratio=st.floats(0, 0.9),
    decay=st.sampled_from(["linear", "cosine", "1-sqrt"]),
    warm=st.sampled_from(["linear", "cosine", "1-sqrt"]),
)
def test_warmup_stable_decay(
    lr: float, total: int, split: tuple[float, float], ratio: float, decay: str, warm: str
) -> None:
    warmup = int(split[0] * total)
    decay_steps = max(1, int(split[1] * total))
    assume(warmup + decay_steps <= total and warmup < total)
    kwargs = {
        "num_decay_steps": decay_steps,
        "min_lr_ratio": ratio,
        "decay_type": decay,
        "warmup_type": warm,
    }
    steps = total + 30
    assert_close(
        ours("warmup_stable_decay", lr, warmup, total, steps, **kwargs),
        hf_lrs("warmup_stable_decay", lr, warmup, total, steps, **kwargs),
    )
