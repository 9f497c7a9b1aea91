"""Multi-policy composition: phases, forking from checkpoints, and the comparison with the
best single policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lrbench
from lrbench import ConfigError
from lrbench.search import Candidate
from lrbench.search.compose import fork_rows, parent_policy, phase_ends, select_parents
from lrbench.store import TrialStatus
from lrbench.study import MultiPolicy, StudyConfig, tune
from lrbench.tasks import load_task
from lrbench.trial import Trial

COMPOSE = StudyConfig(
    task="digits-mlp",
    policies=("fixed", "cosine"),
    lr_min=0.01,
    lr_max=1.0,
    trials=4,
    total_steps=60,
    objective=MultiPolicy(phases=2, keep=2),
)

NO_CHECKPOINTS = '''
import torch


def train(trial):
    """Minimise (w - 3)^2; knows nothing of checkpoints."""
    w = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([w], lr=0.0)
    monitor = trial.monitor(optimizer)
    for step in range(trial.total_steps):
        loss = ((w - 3.0) ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        monitor.step(loss=loss)
    return {"score": -((w - 3.0) ** 2).sum().item()}
'''


@pytest.fixture(scope="module")
def composed(tmp_path_factory: pytest.TempPathFactory):
    db = f"sqlite:///{tmp_path_factory.mktemp('compose') / 'c.db'}"
    return db, tune(COMPOSE, name="compose", db=db)


def test_phases_split_the_budget_and_forks_name_their_parent() -> None:
    assert phase_ends(300, 2) == [150, 300]
    assert phase_ends(100, 3) == [33, 67, 100]
    ends = [50, 100]
    child = "sequence(stages=[fixed(lr=0.1),cosine(lr=0.05,total_steps=50)],boundaries=[50])"
    assert parent_policy(child, ends) == "fixed(lr=0.1)"
    assert parent_policy("fixed(lr=0.1)", ends) is None


def test_the_best_parents_are_forked_into_every_candidate(composed) -> None:
    _, result = composed
    phase_one = [t for t in result.trials if t.total_steps == 30]
    parents = select_parents(result.trials, 30, "accuracy", "max", keep=2)
    best_two = sorted(phase_one, key=lambda t: t.metrics["accuracy"], reverse=True)[:2]
    assert {p.policy for p in parents} == {t.policy for t in best_two}
    candidates = [Candidate("fixed", 0.1, "grid"), Candidate("cosine", 0.1, "grid")]
    rows = fork_rows(parents, candidates, [30, 60])
    assert len(rows) == 4
    assert all(r["total_steps"] == 60 and r["family"] == "sequence" for r in rows)
    assert all(parent_policy(r["policy"], [30, 60]) in {p.policy for p in parents} for r in rows)


def test_forked_trials_go_on_from_the_checkpoint_and_match_training_from_scratch(
    composed,
) -> None:
    _, result = composed
    forked = [t for t in result.trials if t.family == "sequence"]
    candidates = [t for t in result.trials if t.total_steps == 30]
    assert len(forked) == 2 * len(candidates)  # keep=2 parents x every candidate
    finished = [t for t in forked if t.status is not TrialStatus.diverged]
    assert all(t.status is TrialStatus.complete and t.cost_steps == 30 for t in finished)
    best = max(finished, key=lambda t: t.metrics["accuracy"])
    spec = load_task("digits-mlp")
    scratch = spec.function(Trial(policy=best.policy, total_steps=60, params=spec.params))
    assert scratch["accuracy"] == pytest.approx(best.metrics["accuracy"], abs=1e-9)
    assert scratch["loss"] == pytest.approx(best.metrics["loss"], rel=1e-5)


def test_the_result_compares_the_best_sequence_with_the_best_single_policy(composed) -> None:
    db, result = composed
    assert all(score.total_steps == 60 for score in result.leaderboard)
    summary = result.to_json()["compose"]
    singles = [t for t in result.trials if t.total_steps == 60 and t.family != "sequence"]
    assert summary["single"]["mean"] == max(t.metrics["accuracy"] for t in singles)
    assert summary["sequence"]["policy"].startswith("sequence(stages=[")
    assert result.best.mean == max(summary["single"]["mean"], summary["sequence"]["mean"])
    again = tune(COMPOSE, name="compose", db=db)
    assert [t.attempt for t in again.trials] == [1] * len(result.trials)


def test_a_task_without_checkpoints_is_composed_by_training_each_sequence_whole(
    tmp_path: Path,
) -> None:
    path = tmp_path / "plain.py"
    path.write_text(NO_CHECKPOINTS)
    config = StudyConfig(
        task=f"{path}:train",
        metric="score",
        policies=("fixed",),
        lr_min=0.01,
        lr_max=0.1,
        trials=2,
        total_steps=20,
        objective=MultiPolicy(keep=1),
    )
    result = tune(config, db=f"sqlite:///{tmp_path / 'p.db'}")
    forked = [t for t in result.trials if t.family == "sequence"]
    assert len(forked) == 2
    assert all(t.status is TrialStatus.complete and t.cost_steps == 20 for t in forked)


def test_compose_with_bayes_is_refused(tmp_path: Path) -> None:
    config = StudyConfig(task="digits-mlp", objective="compose", strategy="bayes", trials=2)
    with pytest.raises(ConfigError, match="use --strategy grid, random or topk"):
        tune(config, db=f"sqlite:///{tmp_path / 'x.db'}")


def test_three_phases_fork_twice_and_every_fork_trains_only_its_phase(tmp_path: Path) -> None:
    config = StudyConfig(
        task="digits-mlp",
        policies=("fixed", "cosine"),
        lr_min=0.05,
        lr_max=0.5,
        trials=2,
        total_steps=60,
        objective=MultiPolicy(phases=3, keep=1),
    )
    result = tune(config, db=f"sqlite:///{tmp_path / 't.db'}")
    by_stages: dict[int, list] = {}
    for trial in result.trials:
        if trial.family == "sequence":
            stages = len(lrbench.parse(trial.policy).stages)
            by_stages.setdefault(stages, []).append(trial)
    assert sorted(by_stages) == [2, 3]
    assert all(t.total_steps == 40 and t.cost_steps == 20 for t in by_stages[2])
    assert all(t.total_steps == 60 and t.cost_steps == 20 for t in by_stages[3])
    best_of_phase_two = max(by_stages[2], key=lambda t: t.metrics["accuracy"])
    assert all(
        parent_policy(t.policy, [20, 40, 60]) == best_of_phase_two.policy for t in by_stages[3]
    )


def test_every_view_of_a_compose_study_ranks_only_full_budget_runs(composed, capsys) -> None:
    # The full-budget ranking lived only in `tune()`: `db show`, `db ls` and the report ranked
    # the half-budget phase-1 trials beside the full runs, one configuration twice.
    from lrbench.cli.main import main

    db, result = composed
    capsys.readouterr()
    assert main(["db", "show", "compose", "--db", db, "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [s["policy"] for s in shown["leaderboard"]] == [s.policy for s in result.leaderboard]
    assert main(["db", "ls", "--db", db, "--format", "json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["best_policy"] == result.best.policy


def test_top_k_after_a_compose_study_starts_from_families_not_sequences(composed) -> None:
    # The best known "family" of a compose study can be `sequence`, which no template makes.
    db, _ = composed
    config = StudyConfig(task="digits-mlp", strategy="topk", trials=9, total_steps=60)
    result = tune(config, db=db)  # k = 3: every family known, the sequence one too
    assert {t.family for t in result.trials} == {"fixed", "cosine"}
    assert result.counts["failed"] == 0
