"""`--objective horizon`: short sweeps, the law across them, the full run at its prediction."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrbench import ConfigError
from lrbench.cli.main import main
from lrbench.study import HorizonTransfer, StudyConfig, tune
from lrbench.tasks import load_task
from lrbench.trial import Trial

# A task whose final loss is a parabola in ln LR around 0.5 * T^-0.3 (T: its budget), so the
# law's exponent and the full run's best LR are known exactly.
LAW_TASK = """
import math


def train(trial):
    best = 0.5 * trial.total_steps ** -0.3
    loss = 1.0 + (math.log(trial.policy(0)) - math.log(best)) ** 2
    trial.report(trial.total_steps, loss=loss)
    return {"loss": loss}
"""


@pytest.fixture
def law_task(tmp_path: Path) -> str:
    path = tmp_path / "law_task.py"
    path.write_text(LAW_TASK)
    return f"{path}:train"


def config(task: str, **changes: object) -> StudyConfig:
    fields: dict[str, object] = {
        "task": task,
        "metric": "loss",
        "mode": "min",
        "policies": ("fixed",),
        "lr_min": 1e-3,
        "lr_max": 1.0,
        "trials": 9,
        "total_steps": 1600,
        "objective": "horizon",
    }
    return StudyConfig(**{**fields, **changes})  # type: ignore[arg-type]


def test_the_full_run_trains_at_the_lr_the_short_sweeps_predict(
    tmp_path: Path, law_task: str
) -> None:
    result = tune(config(law_task), name="law", db=f"sqlite:///{tmp_path / 'h.db'}")
    horizons = sorted({t.total_steps for t in result.trials})
    assert horizons == [100, 200, 400, 1600]
    (final,) = [t for t in result.trials if t.total_steps == 1600]
    assert final.lr == pytest.approx(0.5 * 1600**-0.3, rel=0.01)
    assert [s.policy for s in result.leaderboard] == [final.policy]  # short runs not ranked
    law = result.to_json()["horizon"]["fixed"]
    assert law["exponent"] == pytest.approx(0.3, abs=1e-6) and not law["flat"]
    assert result.grid_full_runs == 9


def test_three_final_runs_take_the_ends_of_the_band_and_a_cap_shrinks_the_sweep(
    tmp_path: Path, law_task: str
) -> None:
    three = config(law_task, objective=HorizonTransfer(final_runs=3), max_cost=5.0)
    result = tune(three, name="three", db=f"sqlite:///{tmp_path / 'h.db'}")
    finals = sorted(t.lr for t in result.trials if t.total_steps == 1600)
    best = 0.5 * 1600**-0.3
    assert len(finals) == 3 and finals[0] < best < finals[2]
    # 3 final runs leave 2 runs: 4 configurations at 700/1600 of a run each
    swept = {t.lr for t in result.trials if t.total_steps < 1600}
    assert len(swept) == 4 and result.full_runs <= 5.0


def test_a_cap_below_three_configurations_is_refused_before_any_trial(
    tmp_path: Path, law_task: str
) -> None:
    # each configuration: 1/16 + 1/8 + 1/4 of a run; three of them and the final run: 2.31
    with pytest.raises(
        ConfigError,
        match=r"does not pay for the 3 configurations `--objective horizon` needs: "
        r"that costs 2.31 runs",
    ):
        tune(config(law_task, max_cost=2.0), db=f"sqlite:///{tmp_path / 'h.db'}")


@pytest.mark.parametrize(
    ("objective", "message"),
    [
        (HorizonTransfer(horizons=(0.5, 1.5)), r"fractions of the budget in \(0, 1\)"),
        (HorizonTransfer(horizons=(0.25, 0.25)), "repeats a value"),
        (HorizonTransfer(final_runs=2), "`--final-runs` must be 1 or 3"),
        (HorizonTransfer(branch=True), "give --policies wsd"),
        (HorizonTransfer(horizons=(0.001, 0.25)), r"0.001 of 1600 updates is 2 update\(s\)"),
    ],
)
def test_bad_options_are_refused(
    tmp_path: Path, law_task: str, objective: HorizonTransfer, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        tune(config(law_task, objective=objective), db=f"sqlite:///{tmp_path / 'h.db'}")
    with pytest.raises(ConfigError, match="use --strategy grid, random or topk"):
        tune(config(law_task, strategy="bayes"), db=f"sqlite:///{tmp_path / 'h.db'}")


def test_the_command_line_and_a_study_file_take_fractions(
    tmp_path: Path, law_task: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    study = tmp_path / "study.yaml"
    study.write_text(
        f"task: {law_task}\nmetric: loss\nmode: min\npolicies: [fixed]\nlr_min: 1.0e-3\n"
        "lr_max: 1.0\ntrials: 9\ntotal_steps: 1600\nobjective: horizon\n"
        "horizons: [1/32, 1/16]\n"
    )
    assert main(["tune", "--config", str(study), "--db", db, "--quiet"]) == 0
    shown = capsys.readouterr().out
    assert "Horizon law, fixed: beta = 0.300" in shown
    assert f"predicted LR {0.5 * 1600**-0.3:.3g}" in shown
    assert main(["tune", "--config", str(study), "--horizons", "1/8,x", "--db", db]) == 2
    assert "`--horizons` must be fractions of the budget such as" in capsys.readouterr().err


def test_branching_cools_each_horizon_down_from_one_stable_run(tmp_path: Path) -> None:
    branched = StudyConfig(
        task="digits-mlp",
        policies=("wsd",),
        lr_min=0.05,
        lr_max=0.5,
        trials=2,
        total_steps=160,
        objective=HorizonTransfer(horizons=(1 / 8, 1 / 4), branch=True),
    )
    db = f"sqlite:///{tmp_path / 'branch.db'}"
    result = tune(branched, name="branched", db=db)
    stables = [t for t in result.trials if t.family == "warmup"]
    branches = [t for t in result.trials if t.family == "wsd" and t.total_steps < 160]
    assert [t.total_steps for t in stables] == [32, 32]  # to the last cooldown's start
    assert sorted((t.total_steps, t.cost_steps) for t in branches) == [(20, 4)] * 2 + [(40, 8)] * 2
    (final,) = [t for t in result.trials if t.total_steps == 160]
    assert final.family == "wsd" and "decay_steps=32" in final.policy
    assert result.full_runs == pytest.approx((2 * 32 + 2 * (4 + 8) + 160) / 160)
    # a branch ends where the same schedule trained from step 0 ends
    branch = next(t for t in branches if t.total_steps == 40)
    task = load_task("digits-mlp", {})
    alone = task.function(
        Trial(policy=branch.policy, total_steps=40, seed=branch.seed, params=task.params)
    )
    assert alone["accuracy"] == pytest.approx(branch.metrics["accuracy"])
