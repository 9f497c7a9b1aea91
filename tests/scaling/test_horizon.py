"""The horizon law against closed forms: parabolas in ln LR and power laws with known beta."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrbench import ConfigError
from lrbench.scaling import PRIOR_EXPONENT, fit_horizon_law, fit_optimum

GRID = list(np.geomspace(1e-4, 1e-1, 10))


def bowl(lrs: list[float], centre: float, floor: float = 2.0) -> list[float]:
    return [floor + (math.log(lr) - math.log(centre)) ** 2 for lr in lrs]


def test_the_optimum_is_the_parabola_vertex_and_the_band_its_tolerance() -> None:
    found = fit_optimum(1000, GRID, bowl(GRID, 3e-3), tolerance=0.01)
    assert found.fitted and found.edge == ""
    assert found.lr == pytest.approx(3e-3, rel=1e-9)
    assert found.value == pytest.approx(2.0)
    half_width = math.sqrt(0.01 * 2.0)  # 2 + u^2 <= 2 * 1.01
    assert found.low == pytest.approx(3e-3 * math.exp(-half_width))
    assert found.high == pytest.approx(3e-3 * math.exp(half_width))


def test_higher_is_better_metrics_and_repeated_seeds() -> None:
    accuracy = [1.0 - v for v in bowl(GRID, 1e-2, floor=0.1)]
    found = fit_optimum(50, GRID + GRID, accuracy + accuracy, mode="max")
    assert found.lr == pytest.approx(1e-2, rel=1e-9) and found.value == pytest.approx(0.9)


def test_an_optimum_at_the_edge_of_the_sweep_is_the_best_point_flagged() -> None:
    found = fit_optimum(100, GRID, bowl(GRID, 1.0))
    assert (found.fitted, found.edge) == (False, "top")
    assert found.lr == pytest.approx(GRID[-1])
    diverged = bowl(GRID, 3e-3)[:-3] + [math.nan] * 3
    assert fit_optimum(100, GRID, diverged).lr == pytest.approx(3e-3, rel=1e-9)


def test_beta_and_the_prediction_come_back_from_a_known_power_law() -> None:
    rng = np.random.default_rng(1)
    sweeps = {
        horizon: (GRID, [v + rng.normal(0, 0.002) for v in bowl(GRID, 0.5 * horizon**-0.3)])
        for horizon in (250, 500, 1000)
    }
    law = fit_horizon_law(sweeps, draws=300)
    assert not law.prior and not law.flat
    assert law.exponent == pytest.approx(0.3, abs=0.02)
    assert law.exponent_low <= 0.3 <= law.exponent_high
    predicted = law.predict(4000)
    assert predicted.lr == pytest.approx(0.5 * 4000**-0.3, rel=0.05)
    assert predicted.low <= 0.5 * 4000**-0.3 <= predicted.high
    assert predicted.band_low < predicted.lr < predicted.band_high
    assert "beta = 0.3" in law.describe()


def test_an_optimum_that_does_not_move_is_reported_flat() -> None:
    rng = np.random.default_rng(2)
    sweeps = {
        horizon: (GRID, [v + rng.normal(0, 0.01) for v in bowl(GRID, 4e-3)])
        for horizon in (250, 500, 1000, 2000)
    }
    law = fit_horizon_law(sweeps, draws=300)
    assert law.flat and abs(law.exponent) < 0.05
    assert law.predict(8000).lr == pytest.approx(4e-3, rel=0.15)
    assert "flat" in law.describe()


def test_one_horizon_applies_the_stated_prior() -> None:
    law = fit_horizon_law({100: (GRID, bowl(GRID, 1e-2))})
    assert law.prior and law.exponent == PRIOR_EXPONENT and not law.flat
    predicted = law.predict(1600)
    assert predicted.lr == pytest.approx(1e-2 * 16**-PRIOR_EXPONENT)
    assert predicted.high == pytest.approx(1e-2)  # beta = 0: the optimum stays put
    assert predicted.low == pytest.approx(1e-2 * 16**-0.5)
    assert "prior" in law.describe()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: fit_optimum(10, [1e-3], [1.0]), r"2 or more distinct LRs.*got 1"),
        (lambda: fit_optimum(10, [1e-3, 1e-2], [1.0, math.nan]), r"got 1"),
        (lambda: fit_optimum(-5, GRID, bowl(GRID, 1e-2)), r"`horizon` must be a positive"),
        (lambda: fit_optimum(10, [0.0, 1e-2], [1.0, 2.0]), r"every LR must be > 0, got 0.0"),
        (lambda: fit_optimum(10, GRID, [1.0]), r"differ in length: 10 and 1"),
        (lambda: fit_horizon_law({}), r"no sweeps given"),
        (lambda: fit_horizon_law({10: (GRID, bowl(GRID, 1e-2))}, confidence=1.5), r"confidence"),
    ],
)
def test_bad_input_names_what_is_wrong(call: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        call()  # type: ignore[operator]
