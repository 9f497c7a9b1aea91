"""The annealing law: its areas by hand, a fit that recovers a known law, and its guards."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from lrbench import ConfigError
from lrbench.policies import parse
from lrbench.scaling import MeasuredCurve, annealing_areas, fit_annealing_law, rank_schedules
from lrbench.scaling.schedule_law import AnnealingLaw

STEPS = 400
PEAK = 0.01
TRUE = {"floor": 2.0, "scale": 1.5, "exponent": 0.6, "annealing": 0.3}


def test_areas_by_hand() -> None:
    s1, s2 = annealing_areas([1.0, 1.0, 0.5, 0.5], decay=0.5)
    # drops 0, 0, 0.5, 0; momenta 0, 0, 0.5, 0.25
    np.testing.assert_allclose(s1, [1.0, 2.0, 2.5, 3.0])
    np.testing.assert_allclose(s2, [0.0, 0.0, 0.5, 0.75])
    _, warmed = annealing_areas([0.25, 0.5, 1.0, 1.0], decay=0.5)
    np.testing.assert_allclose(warmed, [0.0, 0.0, 0.0, 0.0])  # a warmup is not annealing


def true_curve(spec: str) -> MeasuredCurve:
    """A run whose loss follows the law exactly, measured every 10 steps."""
    lrs = parse(spec).values(np.arange(STEPS))
    s1, s2 = annealing_areas(lrs)
    loss = TRUE["floor"] + TRUE["scale"] * s1 ** -TRUE["exponent"] - TRUE["annealing"] * s2
    steps = np.arange(10, STEPS + 1, 10)
    return MeasuredCurve(lrs=lrs, steps=steps, losses=loss[steps - 1])


CANDIDATES = [
    f"fixed(lr={PEAK})",
    f"cosine(lr={PEAK},total_steps={STEPS})",
    f"linear(lr={PEAK},total_steps={STEPS})",
    f"wsd(lr={PEAK},total_steps={STEPS},decay_steps=80)",
    f"wsd(lr={PEAK},total_steps={STEPS},decay_steps=160,decay_shape=sqrt)",
    f"step(lr={PEAK},step_size=150,gamma=0.3)",
]


def test_a_fit_on_two_runs_recovers_the_law_and_predicts_unseen_schedules() -> None:
    law = fit_annealing_law([true_curve(CANDIDATES[0]), true_curve(CANDIDATES[1])])
    assert law.rmse < 1e-6 and (law.peak_lr, law.horizon) == (PEAK, STEPS)
    assert law.exponent == pytest.approx(TRUE["exponent"], rel=1e-3)
    assert law.annealing == pytest.approx(TRUE["annealing"], rel=1e-3)
    ranked = rank_schedules(law, CANDIDATES[2:])
    measured = {str(parse(s)): true_curve(s).losses[-1] for s in CANDIDATES[2:]}
    for prediction in ranked:
        assert prediction.loss == pytest.approx(measured[prediction.policy], rel=1e-5)
    assert [p.policy for p in ranked] == sorted(measured, key=measured.__getitem__)


def test_the_law_is_not_trusted_where_it_is_known_to_fail() -> None:
    law = AnnealingLaw(2.0, 1.5, 0.6, 0.3, 0.999, peak_lr=PEAK, horizon=STEPS, rmse=0.0)
    ranked = rank_schedules(
        law,
        [
            f"cosine(lr={PEAK},total_steps={STEPS})",
            f"cosine(lr={PEAK * 3},total_steps={STEPS})",  # more LR always looks better
            f"cosine(lr={PEAK},total_steps={STEPS // 2})",  # then idle: more annealing area
        ],
    )
    assert ranked[0].refused == "" and np.isfinite(ranked[0].loss)
    reasons = sorted(p.refused for p in ranked[1:])
    assert re.fullmatch(r"5\d% of its steps at a near-zero LR", reasons[0])
    assert reasons[1] == "peak LR 0.03 above the fitted runs' 0.01"


def test_a_prediction_below_the_laws_floor_is_refused() -> None:
    # a long decay credits more annealing area than the loss has left above its floor
    law = AnnealingLaw(0.0, 0.5, 0.3, 2.0, 0.999, peak_lr=PEAK, horizon=STEPS, rmse=0.0)
    (cosine,) = rank_schedules(law, [f"cosine(lr={PEAK},total_steps={STEPS})"])
    assert re.fullmatch(r"predicted -\d.*, below the law's own floor 0", cosine.refused)
    assert math.isnan(cosine.loss)


def test_curves_it_cannot_fit_are_refused() -> None:
    good = true_curve(CANDIDATES[0])
    short = MeasuredCurve(lrs=good.lrs[:100], steps=good.steps[:5], losses=good.losses[:5])
    with pytest.raises(ConfigError, match=r"share one length, got \[100, 400\]"):
        fit_annealing_law([good, short])
    with pytest.raises(ConfigError, match="one or more measured training curves"):
        fit_annealing_law([])
    with pytest.raises(ConfigError, match="5 or more measured loss points"):
        fit_annealing_law([MeasuredCurve(good.lrs, good.steps[:3], good.losses[:3])])
    broken = good.losses.copy()
    broken[4] = np.nan
    with pytest.raises(ConfigError, match="NaN or infinity"):
        fit_annealing_law([MeasuredCurve(good.lrs, good.steps, broken)])
