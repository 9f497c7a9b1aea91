"""The Ray executor on a real local Ray (two CPUs): same results as the local executor,
ASHA under `--objective cost`, resume from the store, and the errors a cluster user meets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lrbench import ConfigError
from lrbench.execution.raytune import RayOptions, check_store_for_cluster
from lrbench.store import Store, TrialStatus
from lrbench.study import StudyConfig, tune

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install -e '.[ray]'")

STUDY = StudyConfig(
    task="digits-mlp",
    policies=("fixed", "cosine"),
    lr_min=0.01,
    lr_max=0.3,
    trials=4,
    total_steps=60,
)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _scores(result) -> list[tuple[str, float, dict[str, int]]]:
    return [(s.policy, round(s.mean, 6), s.statuses) for s in result.leaderboard]


# Before any test starts Ray in this process: `connect` keeps a Ray that is already running.
def test_an_unreachable_cluster_is_one_clear_error_before_any_work(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(ConfigError, match=r"cannot reach the Ray cluster at '127.0.0.1:1'"):
        tune(STUDY, db=db, executor=RayOptions(address="127.0.0.1:1"))
    assert Store(db).studies() == []


def test_a_sqlite_store_is_refused_on_a_cluster_of_several_machines(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    check_store_for_cluster(store, nodes=1)
    with pytest.raises(
        ConfigError, match=r"2 machines but the store is a SQLite file.*PostgreSQL"
    ):
        check_store_for_cluster(store, nodes=2)


def test_a_study_gives_the_same_leaderboard_on_ray_and_locally(
    local_ray: None, tmp_path: Path
) -> None:
    import torch

    db = f"sqlite:///{tmp_path / 'same.db'}"
    on_ray = tune(STUDY, name="on-ray", db=db, executor="ray", workers=2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a Ray worker with one CPU
    try:
        local = tune(STUDY, name="local", db=db)
    finally:
        torch.set_num_threads(threads)
    assert on_ray.counts["complete"] == 4
    assert _scores(on_ray) == _scores(local)
    store = Store(db)
    trial = on_ray.trials[0]
    assert [s for s, name, _ in store.points(trial.id) if name == "accuracy"] == [
        6 * i for i in range(1, 11)
    ]


def test_cost_objective_runs_asha_and_a_study_resumes_on_ray(
    local_ray: None, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'cost.db'}"
    config = StudyConfig(
        task="digits-mlp",
        policies=("fixed", "cosine"),
        lr_min=1e-3,
        lr_max=1.0,
        trials=9,
        total_steps=90,
        objective="cost",
        target=0.99,
    )
    result = tune(config, name="asha", db=db, executor=RayOptions(max_concurrent=2))
    assert not any(t.status in (TrialStatus.queued, TrialStatus.running) for t in result.trials)
    pruned = [t for t in result.trials if t.status is TrialStatus.pruned]
    # Tune's results arrive asynchronously: a trial may run on a little before its stop lands
    assert pruned and min(t.cost_steps for t in pruned) < 90
    assert result.full_runs < result.grid_full_runs

    store = Store(db)  # an interrupted study: two trials never finished
    with store.session() as session:
        from lrbench.store._models import TrialRow

        for trial in result.trials[:2]:
            row = session.get(TrialRow, trial.id)
            row.status = TrialStatus.running.value
    resumed = tune(config, name="asha", db=db, executor="ray")
    attempts = {t.number: t.attempt for t in resumed.trials}
    assert attempts[result.trials[0].number] == attempts[result.trials[1].number] == 2
    assert all(attempts[t.number] == 1 for t in result.trials[2:])
    assert not any(t.status is TrialStatus.running for t in resumed.trials)


DIES_ONCE = '''
import os
from pathlib import Path

import torch


def train(trial):
    """Kills its own worker process on the first attempt of each trial, then trains."""
    marker = Path(trial.params["markers"]) / f"{trial.policy}-{trial.seed}"
    if not marker.exists():
        marker.touch()
        os._exit(1)
    w = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([w], lr=0.0)
    monitor = trial.monitor(optimizer)
    for step in range(trial.total_steps):
        loss = ((w - 3.0) ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        monitor.step(loss=loss)
    return {"score": -loss.item()}
'''


def test_a_trial_whose_worker_dies_is_retried_by_ray(local_ray: None, tmp_path: Path) -> None:
    task = tmp_path / "dies_once.py"
    task.write_text(DIES_ONCE)
    (tmp_path / "markers").mkdir()
    config = StudyConfig(
        task=f"{task}:train",
        params={"markers": str(tmp_path / "markers")},
        metric="score",
        policies=("fixed",),
        lr_min=0.01,
        lr_max=0.1,
        trials=2,
        total_steps=20,
    )
    result = tune(config, db=f"sqlite:///{tmp_path / 'd.db'}", executor=RayOptions(max_failures=2))
    assert [t.status for t in result.trials] == [TrialStatus.complete] * 2
    assert [t.attempt for t in result.trials] == [2, 2]  # died once each, then ran again
