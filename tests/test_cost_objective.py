"""Cost-effective tuning: successive halving through Optuna's pruner, stop at the target,
range-test bracketing, and what the result says about cost."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import lrbench
from lrbench import ConfigError
from lrbench.execution.halving import Halving
from lrbench.search.bracket import bracket_steps, lowest_raw_loss_lr
from lrbench.store import Store, TrialStatus
from lrbench.study import CostEffective, MultiPolicy, StudyConfig, default_study_name, tune

COST = StudyConfig(
    task="digits-mlp",
    policies=("fixed", "cosine"),
    lr_min=1e-3,
    lr_max=1.0,
    trials=12,
    objective="cost",
    target=0.95,
)


@pytest.fixture(scope="module")
def cost_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, object]:
    db = f"sqlite:///{tmp_path_factory.mktemp('cost') / 'cost.db'}"
    return db, tune(COST, name="cost", db=db)


def test_rungs_sit_at_budget_over_powers_of_the_rate() -> None:
    spec = Halving.for_budget("j", "max", total_steps=300, rate=3, rungs=2)
    assert spec.min_resource == 34  # ceil(300 / 9)
    assert spec.rung_steps(300) == [34, 102]


def test_halving_prunes_weak_trials_and_costs_less_than_the_grid(cost_study) -> None:
    _, result = cost_study
    counts = result.counts
    assert counts["pruned"] >= 4
    assert counts["complete"] + counts["pruned"] + counts["diverged"] == 12
    assert result.grid_full_runs == 12
    assert result.full_runs < result.grid_full_runs / 2
    assert result.full_runs == pytest.approx(result.cost_steps / 300)
    for trial in result.trials:
        if trial.status is TrialStatus.pruned:
            assert trial.cost_steps < 300


def test_trials_stop_at_the_target_and_the_cheapest_is_reported(cost_study) -> None:
    _, result = cost_study
    reached = [t for t in result.trials if "steps_to_target" in t.metrics]
    assert reached
    for trial in reached:
        assert trial.status is TrialStatus.complete
        assert trial.metrics["accuracy"] >= 0.95
        assert trial.cost_steps == trial.metrics["steps_to_target"]  # no step after the target
    cheapest = result.cheapest_to_target()
    assert cheapest.mean == min(t.metrics["steps_to_target"] for t in reached)
    summary = result.to_json()
    assert summary["objective"] == "cost"
    assert summary["target"]["reached"] is True
    assert summary["target"]["cheapest"]["steps"] == cheapest.mean
    assert summary["cost"]["grid_full_runs"] == 12


def test_a_cost_study_resumes_without_running_anything_again(cost_study) -> None:
    db, first = cost_study
    again = tune(COST, name="cost", db=db)
    assert [t.status for t in again.trials] == [t.status for t in first.trials]
    assert again.cost_steps == first.cost_steps
    assert (Path(db.removeprefix("sqlite:///") + ".artifacts") / "cost").is_dir()


def test_an_unreachable_target_reports_the_best_and_the_cost_spent(tmp_path: Path) -> None:
    config = StudyConfig(
        task="digits-mlp",
        policies=("cosine",),
        lr_min=0.01,
        lr_max=0.5,
        trials=3,
        objective="cost",
        target=1.5,  # accuracy never exceeds 1
    )
    result = tune(config, db=f"sqlite:///{tmp_path / 'x.db'}")
    summary = result.to_json()
    assert summary["target"] == {"value": 1.5, "reached": False, "cheapest": None}
    assert summary["best"] is not None
    assert summary["cost"]["steps"] == result.cost_steps > 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"objective": "cost"}, "`--target` is required with --objective cost"),
        (
            {"objective": CostEffective(halving_rate=1), "target": 0.9},
            "`--halving-rate` must be >= 2",
        ),
        ({"objective": MultiPolicy(phases=1)}, "`--phases` must be >= 2"),
        ({"objective": "speed"}, "`--objective` must be one of single, cost, compose"),
    ],
)
def test_bad_objective_options_are_refused(tmp_path: Path, changes: dict, message: str) -> None:
    config = StudyConfig(task="digits-mlp", trials=2, **changes)
    with pytest.raises(ConfigError, match=message):
        tune(config, db=f"sqlite:///{tmp_path / 'x.db'}")


def test_bracket_searches_the_range_test_range(tmp_path: Path) -> None:
    config = StudyConfig(
        task="digits-mlp",
        policies=("fixed",),
        lr_min=1e-5,
        lr_max=100.0,
        trials=4,
        strategy="random",
        bracket=True,
    )
    result = tune(config, db=f"sqlite:///{tmp_path / 'b.db'}")
    bracket = result.study.config["bracket"]
    # a quarter of the 300-step run (fewer where the sweep diverged before its end)
    assert 30 < result.range_test_steps == bracket["steps"] <= 75
    sweep = lrbench.range_test("digits-mlp", lr_min=1e-5, lr_max=100.0, steps=75)
    lowest = sweep.range[1]
    assert bracket["lowest_loss_lr"] == pytest.approx(lowest)
    assert bracket["lr_min"] == pytest.approx(lowest / 3)
    assert bracket["lr_max"] == pytest.approx(lowest * 3)
    assert all(bracket["lr_min"] <= t.lr <= bracket["lr_max"] for t in result.trials)
    assert result.full_runs == pytest.approx((result.cost_steps + bracket["steps"]) / 300)


@pytest.mark.parametrize(("trials", "ratios"), [(1, [1.0]), (2, [3**-0.5, 3**0.5])])
def test_a_bracketed_grid_sits_at_the_centres_of_the_brackets_bins(
    tmp_path: Path, trials: int, ratios: list[float]
) -> None:
    config = StudyConfig(
        task="digits-mlp",
        policies=("fixed",),
        lr_min=1e-4,
        lr_max=100.0,  # wide enough that the bracket is not cut at either end
        trials=trials,
        total_steps=40,
        bracket=True,
    )
    result = tune(config, db=f"sqlite:///{tmp_path / 'grid.db'}")
    lowest = result.study.config["bracket"]["lowest_loss_lr"]
    assert sorted(t.lr for t in result.trials) == pytest.approx(
        [lowest * r for r in ratios],
        rel=5e-3,  # LRs are kept to 3 significant digits
    )


@pytest.mark.parametrize(
    ("total_steps", "steps"), [(3, 5), (20, 10), (60, 30), (120, 30), (300, 75), (1000, 100)]
)
def test_the_range_test_takes_a_quarter_of_a_run_within_readable_bounds(
    total_steps: int, steps: int
) -> None:
    assert bracket_steps(total_steps) == steps


@pytest.mark.parametrize(
    ("losses", "lowest_index"),
    [
        ([3.2, 3.3, 3.5, 3.1, 4.2, 2.7, 2.6], 6),  # noisy, falling at the end only
        ([3.2, 3.3, 2.0, math.nan, 2.5], 2),  # a NaN point is skipped
        ([3.0, 3.0, 2.99, 3.1], None),  # under 2% below the first point: no fall
        ([1.0, 5.0, 9.0, 50.0], None),  # rising from the start
    ],
)
def test_a_sweep_without_a_smoothed_fall_is_read_off_its_raw_points(
    losses: list[float], lowest_index: int | None
) -> None:
    lrs = [1e-5 * 10**index for index in range(len(losses))]
    expected = None if lowest_index is None else lrs[lowest_index]
    assert lowest_raw_loss_lr(lrs, losses) == expected


def test_bracket_on_a_budget_shorter_than_a_sweep_still_sweeps(tmp_path: Path) -> None:
    config = StudyConfig(
        task="digits-mlp", policies=("fixed",), trials=2, total_steps=3, bracket=True
    )
    result = tune(config, db=f"sqlite:///{tmp_path / 'short.db'}")
    assert result.range_test_steps == 5 and result.counts["complete"] == 2


def test_studies_stored_before_the_objective_options_keep_their_name_and_resume(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'old.db'}"
    config = StudyConfig(task="digits-mlp", policies=("fixed",), trials=2, total_steps=30)
    name = default_study_name(config)
    assert "-grid-" in name and "cost" not in name
    tune(config, db=db, name=name)
    store = Store(db)
    study = store.require_study(name)
    old_config = {
        k: v
        for k, v in study.config["config"].items()
        if k not in ("objective", "halving_rate", "bracket", "phases", "keep")
    }
    with store.session() as session:  # rewrite it as an older version stored it
        from lrbench.store._models import StudyRow

        row = session.get(StudyRow, study.id)
        row.config = {**study.config, "config": old_config}
    result = tune(config, db=db, name=name)
    assert result.counts["complete"] == 2
    assert not math.isnan(result.best.mean)
