"""`--objective schedule`: two short fit runs, the loss law, only the best-ranked trained."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrbench import ConfigError
from lrbench.cli.main import main
from lrbench.study import PredictedSchedules, StudyConfig, tune

# A task whose loss follows the annealing law exactly, reported every 10 updates.
LAW_TASK = """
import numpy as np

from lrbench.scaling import annealing_areas


def train(trial):
    lrs = trial.policy.values(np.arange(trial.total_steps))
    s1, s2 = annealing_areas(lrs)
    loss = 2.0 + 1.5 * np.maximum(s1, 1e-12) ** -0.6 - 0.3 * s2
    for step in range(10, trial.total_steps + 1, 10):
        trial.report(step, loss=float(loss[step - 1]))
    return {"loss": float(loss[-1])}
"""

POLICIES = ("fixed", "cosine", "linear", "step", "wsd")


@pytest.fixture
def law_task(tmp_path: Path) -> str:
    path = tmp_path / "annealing_task.py"
    path.write_text(LAW_TASK)
    return f"{path}:train"


def config(task: str, **changes: object) -> StudyConfig:
    fields: dict[str, object] = {
        "task": task,
        "metric": "loss",
        "mode": "min",
        "policies": POLICIES,
        "lr_min": 0.01,
        "lr_max": 0.02,
        "trials": 5,  # one LR per family: 0.01 (the lowest of the grid)
        "total_steps": 400,
        "objective": PredictedSchedules(fit_fraction=0.25),
    }
    return StudyConfig(**{**fields, **changes})  # type: ignore[arg-type]


def test_the_law_ranks_every_schedule_and_only_the_best_trains_in_full(
    tmp_path: Path, law_task: str
) -> None:
    result = tune(config(law_task), name="law", db=f"sqlite:///{tmp_path / 's.db'}")
    fits = [t for t in result.trials if t.total_steps == 100]
    assert sorted(t.family for t in fits) == ["cosine", "fixed"]
    (trained,) = [t for t in result.trials if t.total_steps == 400]
    summary = result.to_json()["schedule"]
    ranked = [p for p in summary["predictions"] if p["loss"] is not None]
    assert len(summary["predictions"]) == 4 + 9  # four families, and WSD's 3 shapes x 3 lengths
    best = min(ranked, key=lambda p: p["loss"])
    assert trained.policy == best["policy"]
    assert best["measured"] == pytest.approx(best["loss"], rel=1e-5)
    assert summary["mean_absolute_error"] < 1e-4
    assert result.grid_full_runs == 13


def test_schedules_the_law_cannot_judge_are_listed_with_the_reason(
    tmp_path: Path, law_task: str
) -> None:
    idle = "step(lr={lr},step_size=100,gamma=0.0001)"  # 1e-4 of its peak after 100 steps
    result = tune(
        config(law_task, policies=("fixed", idle), trials=2),
        name="refused",
        db=f"sqlite:///{tmp_path / 's.db'}",
    )
    predictions = result.to_json()["schedule"]["predictions"]
    (refused,) = [p for p in predictions if p["refused"]]
    assert refused["policy"].startswith("step(") and refused["loss"] is None
    assert refused["refused"] == "75% of its steps at a near-zero LR"
    (trained,) = [t for t in result.trials if t.total_steps == 400]
    assert trained.family == "fixed"  # the law's favourite, were it trusted, is not trained


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"objective": PredictedSchedules(fit_fraction=0.0)}, r"`--fit-fraction` must be in"),
        ({"objective": PredictedSchedules(train_top=0)}, "`--train-top` must be >= 1"),
        ({"strategy": "bayes"}, "use --strategy grid, random or topk"),
        ({"mode": "max"}, "predicts a loss"),
    ],
)
def test_bad_settings_are_refused_before_any_trial(
    tmp_path: Path, law_task: str, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        tune(config(law_task, **changes), db=f"sqlite:///{tmp_path / 's.db'}")


def test_the_command_line_prints_predicted_against_measured(
    tmp_path: Path, law_task: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "tune",
        "--task",
        law_task,
        "--metric",
        "loss",
        "--mode",
        "min",
        "--policies",
        "fixed,cosine,wsd",
        "--lr-min",
        "0.01",
        "--lr-max",
        "0.02",
        "--trials",
        "3",
        "--total-steps",
        "400",
        "--objective",
        "schedule",
        "--train-top",
        "2",
        "--fit-fraction",
        "0.25",
        "--db",
        f"sqlite:///{tmp_path / 'cli.db'}",
        "--quiet",
    ]
    assert main(args) == 0
    shown = capsys.readouterr().out
    assert shown.count("Predicted ") == 2
    assert "The loss law ranked 11 schedules; 2 trained in full." in shown


def test_where_no_law_fits_the_best_fit_run_trains_in_full(tmp_path: Path) -> None:
    path = tmp_path / "final_only.py"
    path.write_text(  # one report at the end: no curve for the law to fit
        "def train(trial):\n    return {'loss': 1.0 if 'cosine' in str(trial.policy) else 2.0}\n"
    )
    result = tune(
        config(f"{path}:train", policies=("fixed", "cosine"), trials=2),
        name="no-law",
        db=f"sqlite:///{tmp_path / 's.db'}",
    )
    laws = result.to_json()["schedule"]["laws"]
    assert all("error" in law for law in laws.values())
    (trained,) = [t for t in result.trials if t.total_steps == 400]
    assert trained.family == "cosine"  # the fit run of the lower loss, now at full length
