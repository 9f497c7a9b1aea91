"""The LR range test: the rules on known curves, and real sweeps on the built-in tasks."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lrbench import ConfigError
from lrbench.policies import parse
from lrbench.rangetest import (
    minimum_tenth,
    range_test,
    range_test_model,
    smooth,
    steepest,
    suggest,
    sweep_spec,
    valley,
)

LRS = np.geomspace(1e-6, 10, 141)  # 20 steps per decade


def loss_curve(lrs: np.ndarray) -> np.ndarray:
    """Flat at 2.3, falls fastest at LR 1e-3 (log scale), lowest at 1e-1, then explodes."""
    x = np.log10(lrs)
    fall = 2.3 - 2.0 / (1 + np.exp(-3 * (x + 3)))
    return np.where(x < -1, fall, fall + 50 * (x + 1) ** 2)


def test_smoothing_is_bias_corrected() -> None:
    constant = smooth(np.full(50, 3.0), beta=0.98)
    np.testing.assert_allclose(constant, 3.0)  # no lag towards zero at the start


def test_rules_on_a_known_curve() -> None:
    smoothed = loss_curve(LRS)
    assert steepest(LRS, smoothed) == pytest.approx(1e-3, rel=0.13)
    assert minimum_tenth(LRS, smoothed) == pytest.approx(1e-1 / 10, rel=0.13)
    assert 1e-5 < (valley(LRS, smoothed) or 0) < 1e-1


def test_steepest_reads_the_slope_against_log_lr_not_lr() -> None:
    # Against linear LR, the slope of a curve falling evenly per decade is largest at the
    # smallest LRs: that is how Lightning ends up decades too low. Against log LR it is flat.
    per_decade = 2.0 - 0.1 * np.log10(LRS / LRS[0])
    dips = per_decade.copy()
    dips[100:] -= 0.5 * (np.arange(41) / 40)  # the real drop is late
    pick = steepest(LRS, dips)
    assert pick is not None and pick > 1e-2
    naive = LRS[
        int(
            np.argmin(
                np.gradient(dips[: int(np.argmin(dips)) + 1], LRS[: int(np.argmin(dips)) + 1])
            )
        )
    ]
    assert naive < 1e-5  # what differentiating against linear LR would have said


def test_suggestion_range_and_a_loss_that_never_falls() -> None:
    rng = np.random.default_rng(0)
    result = suggest(LRS, loss_curve(LRS) + rng.normal(0, 0.02, LRS.size))
    assert result.suggestion is not None and 1e-4 < result.suggestion < 1e-1
    assert result.range is not None and result.range[0] < result.suggestion < result.range[1]
    assert result.spread is not None and result.spread >= 1
    assert result.suggestion == result.candidates["valley"]
    flat = suggest(LRS, 2.3 + rng.normal(0, 0.01, LRS.size))
    assert flat.suggestion is None and flat.range is None and "never fell" in flat.reason
    assert json.loads(json.dumps(flat.to_json()))["suggestion"] is None


def test_without_a_valley_the_suggestion_is_the_median_of_the_other_rules() -> None:
    # Falling at every other step only: no run of two falling steps for valley to read.
    zigzag = loss_curve(LRS) + np.where(np.arange(LRS.size) % 2, 0.3, 0.0)
    result = suggest(LRS, zigzag, beta=0.0)
    assert result.candidates["valley"] is None
    others = [result.candidates["steepest"], result.candidates["minimum/10"]]
    assert all(c is not None for c in others)
    assert result.suggestion == pytest.approx(math.sqrt(others[0] * others[1]))


def test_sweep_specs() -> None:
    exp = parse(sweep_spec(1e-5, 1.0, 101))
    assert exp(0) == pytest.approx(1e-5) and exp(100) == pytest.approx(1.0)
    linear = parse(sweep_spec(1e-3, 1.0, 11, mode="linear"))
    assert linear(0) == pytest.approx(1e-3) and linear(10) == pytest.approx(1.0)
    with pytest.raises(
        ConfigError, match="`--lr-min` and `--lr-max` must be finite, 0 < lr_min < lr_max"
    ):
        sweep_spec(1.0, 0.1, 100)
    with pytest.raises(ConfigError, match="`--mode` must be exp or linear"):
        sweep_spec(1e-3, 1.0, 100, mode="cosine")


def test_range_test_on_digits_brackets_the_tuned_lr() -> None:
    result = range_test("digits-mlp", lr_min=1e-5, lr_max=10, steps=150)
    assert result.diverged_at is not None and len(result.lrs) < 150  # stopped on divergence
    assert result.suggestion is not None and 1e-3 < result.suggestion < 1.0
    assert result.range is not None and result.range[1] > 0.05  # tuned studies pick ~0.1-0.2


def test_range_test_command_json(tmp_path: Path) -> None:
    plot = tmp_path / "rt.png"
    command = [
        str(Path(sys.executable).parent / "lrbench"),
        "range-test",
        "--task",
        "digits-mlp",
        "--steps",
        "100",
        "--lr-min",
        "1e-5",
        "--lr-max",
        "10",
        "--format",
        "json",
        "--quiet",
        "--plot",
        str(plot),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (
        data["suggestion"] > 0 and len(data["range"]) == 2 and data["range"][0] < data["range"][1]
    )
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_range_test_bad_input_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from lrbench.cli.main import main

    assert main(["range-test", "--task", "digits-mlp", "--lr-min", "1", "--lr-max", "0.1"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1] == (
        "lrbench: error: `--lr-min` and `--lr-max` must be finite, 0 < lr_min < lr_max, got "
        "lr_min=1.0, lr_max=0.1"
    )


def test_range_test_on_a_model_restores_everything_exactly() -> None:
    import random

    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 32), torch.nn.BatchNorm1d(32), torch.nn.ReLU(), torch.nn.Linear(32, 1)
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = torch.randn(256, 8)
    y = x[:, :1] * 3 + 0.1 * torch.randn(256, 1)
    for _ in range(5):  # some optimizer state (momentum buffers) to protect
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    momentum = [optimizer.state[p]["momentum_buffer"].clone() for p in model.parameters()]
    random.seed(3)
    rng = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())
    batches = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 256, 32)]  # cycled: 8 < steps

    result = range_test_model(
        model,
        optimizer,
        batches,
        lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]),
        lr_min=1e-5,
        lr_max=10,
        steps=120,
    )

    assert result.suggestion is not None and result.diverged_at is not None
    assert not model.training and optimizer.param_groups[0]["lr"] == 0.05
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key  # weights and BatchNorm statistics
    for p, buffer in zip(model.parameters(), momentum):
        assert torch.equal(optimizer.state[p]["momentum_buffer"], buffer)
    assert torch.equal(torch.get_rng_state(), rng[0]) and random.getstate() == rng[1]
    assert np.array_equal(np.random.get_state()[1], rng[2])


def _regression_model() -> tuple[torch.nn.Module, list[tuple[torch.Tensor, torch.Tensor]]]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    x = torch.randn(128, 8)
    y = x[:, :1] * 3
    return model, [(x[i : i + 32], y[i : i + 32]) for i in range(0, 128, 32)]


def test_a_criterion_sweeps_as_torch_lr_finder_users_pass_it() -> None:
    """`criterion(output, target)` on (inputs, targets) batches: the same sweep as the
    equivalent `loss_fn(model, batch)`."""
    model, batches = _regression_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    settings = {"lr_min": 1e-4, "lr_max": 1.0, "steps": 30}
    by_criterion = range_test_model(
        model, optimizer, batches, criterion=torch.nn.MSELoss(), **settings
    )
    by_function = range_test_model(
        model, optimizer, batches, lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]),
        **settings,
    )  # fmt: skip
    np.testing.assert_array_equal(by_criterion.losses, by_function.losses)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "give one of `loss_fn.*got neither"),
        ({"loss_fn": lambda m, b: m(b).sum(), "criterion": torch.nn.MSELoss()}, "got both"),
        ({"criterion": torch.nn.MSELoss(), "batches": [torch.zeros(4, 8)]}, "inputs, targets"),
    ],
)
def test_range_test_model_names_what_it_needs(arguments: dict, message: str) -> None:
    model, batches = _regression_model()
    arguments = {"batches": batches, **arguments}
    with pytest.raises(ConfigError, match=message):
        range_test_model(model, torch.optim.SGD(model.parameters(), lr=0.1), steps=5, **arguments)


def test_grid_range_is_the_contiguous_stretch_near_the_best() -> None:
    from lrbench.rangetest import grid_range

    lrs = np.array([1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0])
    values = np.array([0.5, 0.9, 0.95, 0.94, 0.6, np.nan])
    assert grid_range(lrs, values, mode="max", tolerance=0.02) == (1e-2, (1e-2, 1e-1))
    assert grid_range(lrs, values, mode="max", tolerance=0.1) == (1e-2, (1e-3, 1e-1))
    losses = np.array([3.0, 1.0, 1.04, 2.0, np.nan, np.nan])
    assert grid_range(lrs, losses, mode="min", tolerance=0.05) == (1e-3, (1e-3, 1e-2))
    assert grid_range(lrs, np.full(6, np.nan), mode="max", tolerance=0.05) == (None, None)


def test_grid_range_test_on_digits_is_a_stored_study(tmp_path: Path) -> None:
    from lrbench.store import Store
    from lrbench.study.grid_range import grid_range_test

    db = f"sqlite:///{tmp_path / 'g.db'}"
    found = grid_range_test("digits-mlp", lr_min=1e-3, lr_max=10, points=5, steps=60, db=db)
    assert found.lrs.tolist() == [0.001, 0.01, 0.1, 1.0, 10.0]
    assert found.suggestion in (0.1, 1.0) and found.range is not None
    assert found.range[0] <= found.suggestion <= found.range[1]
    assert Store(db).require_study(found.study).strategy == "grid"
