"""What a task may report, and what is stored of it: the same on SQLite and PostgreSQL.

Finite numbers at whole steps 0..2^63-1 are stored as reported; a NaN or infinite value ends
the trial as diverged after the report's finite values are stored; a negative, fractional or
too large step fails the trial with a message that says what was wrong.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lrbench.exceptions import ConfigError, Diverged
from lrbench.store import Store, TrialStatus
from lrbench.study import StudyConfig, tune
from lrbench.trial import Trial

TASK = """
def train(trial):
    value = float(trial.params["value"])
    step = trial.params.get("step", 1)
    trial.report(0, score=1.0)
    trial.report(int(step) if float(step).is_integer() else float(step), score=value, seen=2.0)
    return {"score": value}
"""


def _trial() -> Trial:
    stored: list[tuple[int, dict[str, float]]] = []
    trial = Trial(
        policy="fixed(lr=0.1)", total_steps=10, reporter=lambda s, m: stored.append((s, dict(m)))
    )
    trial.stored = stored  # type: ignore[attr-defined]
    return trial


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_value_ends_the_trial_as_diverged_after_the_finite_ones(
    value: float,
) -> None:
    trial = _trial()
    with pytest.raises(Diverged, match=rf"at step 3: the task reported loss={value}"):
        trial.report(3, loss=value, accuracy=0.5)
    assert trial.stored == [(3, {"accuracy": 0.5})]  # type: ignore[attr-defined]
    assert trial.history == {"accuracy": [(3, 0.5)]}


@pytest.mark.parametrize("step", [-1, 2**63, 1.5, "3", float("nan"), None])
def test_a_step_that_is_not_a_whole_number_in_range_is_refused_by_name(step: object) -> None:
    with pytest.raises(ConfigError, match=r"trial.report\(step=...\) must be a whole number"):
        _trial().report(step, loss=1.0)  # type: ignore[arg-type]


def test_the_largest_steps_and_values_are_taken_as_they_are() -> None:
    trial = _trial()
    trial.report(2**63 - 1, loss=1e308, tiny=-1e-308)
    assert trial.stored == [(2**63 - 1, {"loss": 1e308, "tiny": -1e-308})]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("params", "status", "points", "error"),
    [
        ({"value": "nan"}, TrialStatus.diverged, {0: 1.0}, "the task reported score=nan"),
        ({"value": "inf"}, TrialStatus.diverged, {0: 1.0}, "the task reported score=inf"),
        (
            {"value": "1e308", "step": str(2**62)},
            TrialStatus.complete,
            {0: 1.0, 2**62: 1e308},
            None,
        ),
        ({"value": "0.5", "step": "-4"}, TrialStatus.failed, {0: 1.0}, "got -4"),
        ({"value": "0.5", "step": "2.5"}, TrialStatus.failed, {0: 1.0}, "got 2.5"),
    ],
)
def test_every_report_is_stored_alike_on_both_databases(
    params: dict[str, str],
    status: TrialStatus,
    points: dict[int, float],
    error: str | None,
    db_url: str,
    tmp_path: Path,
) -> None:
    task = tmp_path / "reports.py"
    task.write_text(TASK)
    config = StudyConfig(
        task=f"{task}:train", metric="score", mode="max", policies=("fixed",), trials=1,
        total_steps=5, params=params,
    )  # fmt: skip
    tune(config, name="reports", db=db_url)
    store = Store(db_url)
    (trial,) = store.trials(store.require_study("reports").id)
    assert trial.status is status, trial.error
    assert {
        step: value for step, name, value in store.points(trial.id) if name == "score"
    } == points
    assert error is None if trial.error is None else error in trial.error


def test_a_task_that_calls_sys_exit_fails_its_trial_and_the_study_goes_on(
    tmp_path: Path,
) -> None:
    task = tmp_path / "exits.py"
    task.write_text("import sys\n\ndef train(trial):\n    sys.exit(3)\n")
    config = StudyConfig(
        task=f"{task}:train", metric="score", mode="max", policies=("fixed",), trials=2,
        total_steps=5,
    )  # fmt: skip
    db = f"sqlite:///{tmp_path / 'x.db'}"
    tune(config, name="exits", db=db)
    store = Store(db)
    trials = store.trials(store.require_study("exits").id)
    assert [t.status for t in trials] == [TrialStatus.failed] * 2
    assert all("the task called sys.exit(3)" in (t.error or "") for t in trials)
