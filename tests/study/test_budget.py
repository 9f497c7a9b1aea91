"""The cost cap (`max_cost`): planned configurations, trials refused at run time, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrbench import ConfigError
from lrbench.store import Store
from lrbench.study import CostEffective, StudyConfig, tune
from lrbench.study.objectives.cost import halving_cost

DIGITS = StudyConfig(
    task="digits-mlp",
    policies=("fixed", "cosine"),
    lr_min=1e-2,
    lr_max=1.0,
    trials=12,
    total_steps=30,
)


def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'budget.db'}"


def test_a_capped_grid_tries_only_the_configurations_it_can_pay_for(tmp_path: Path) -> None:
    capped = StudyConfig(**{**DIGITS.__dict__, "max_cost": 3.5, "baselines": (("step", 0.1),)})
    result = tune(capped, name="capped", db=db(tmp_path))
    # 3.5 runs: the baseline, then 2 of the 12 configurations (one of each family)
    assert len(result.trials) == 3 and result.full_runs <= 3.5
    assert {t.family for t in result.trials} == {"fixed", "cosine", "step"}


def test_seeds_and_the_range_test_count_against_the_cap(tmp_path: Path) -> None:
    bracketed = StudyConfig(**{**DIGITS.__dict__, "seeds": 2, "bracket": True, "max_cost": 5.0})
    result = tune(bracketed, name="bracketed", db=db(tmp_path))
    # the range test takes half of a 30-step run; 4.5 runs left pay for 2 configurations x 2
    # seeds
    assert result.range_test_steps == 15 and len(result.trials) == 4
    assert result.full_runs == pytest.approx(4.5)


def test_a_cap_that_pays_for_nothing_is_refused_before_any_work(tmp_path: Path) -> None:
    too_small = StudyConfig(**{**DIGITS.__dict__, "bracket": True, "max_cost": 1.4})
    with pytest.raises(ConfigError, match=r"`--max-cost` 1.4 full runs does not pay for one "):
        tune(too_small, name="small", db=db(tmp_path))
    assert Store(db(tmp_path)).studies() == []
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="`--max-cost` must be a number of full runs > 0"):
            tune(StudyConfig(**{**DIGITS.__dict__, "max_cost": bad}), db=db(tmp_path))


def test_halving_under_a_cap_never_exceeds_it_and_drops_what_it_cannot_start(
    tmp_path: Path,
) -> None:
    halving = StudyConfig(
        **{
            **DIGITS.__dict__,
            "total_steps": 90,
            "trials": 9,
            "objective": CostEffective(),
            "target": 0.999,  # out of reach: no trial stops early at the target
            "max_cost": 2.0,
        }
    )
    result = tune(halving, name="halving", db=db(tmp_path), workers=2)
    assert result.full_runs <= 2.0
    assert 2 <= len(result.trials) <= 9
    assert all(t.status.finished for t in result.trials)


def test_the_simulated_cost_of_asynchronous_halving_matches_its_closed_form() -> None:
    assert halving_cost(1, 3, 90) == 1.0  # alone, a trial always goes on
    # two trials: the first always goes on; the second stops at the first rung (10 of 90
    # steps) unless it is the better one, and then goes on to the end
    assert halving_cost(2, 3, 90) == pytest.approx((1 + 0.5 / 9 + 0.5) / 2, abs=0.03)
    assert halving_cost(9, 3, 90) == pytest.approx(0.41, abs=0.02)  # measured: 3.7 runs


def test_a_cap_below_one_configuration_per_family_trains_the_first_families_only(
    tmp_path: Path,
) -> None:
    four = StudyConfig(
        **{**DIGITS.__dict__, "policies": ("cosine", "fixed", "step", "linear"), "max_cost": 2.0}
    )
    result = tune(four, name="first-two", db=db(tmp_path))
    assert [t.family for t in result.trials] == ["cosine", "fixed"]
    assert len(result.study.config["origins"]) == 2  # none proposed only to be dropped
