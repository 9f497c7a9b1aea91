"""Tuning studies end to end: ranking, resume (also after kill -9), user tasks, bad input."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

import lrbench
from lrbench import ConfigError
from lrbench.store import Store, TrialStatus
from lrbench.study import StudyConfig, tune
from lrbench.tasks import load_task

LRBENCH = str(Path(sys.executable).parent / "lrbench")

USER_TASK = '''
import math
import time

import torch


def train(trial):
    """Minimise (w - 3)^2 with SGD; reports `score` (higher is better) every 5 steps."""
    torch.manual_seed(trial.seed)
    w = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([w], lr=0.0)
    monitor = trial.monitor(optimizer)
    for step in range(trial.total_steps):
        time.sleep(float(trial.params.get("sleep", 0.0)))
        loss = ((w - 3.0) ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        monitor.step(loss=loss)
        if (step + 1) % 5 == 0:
            trial.report(step + 1, score=-loss.item())
    return {"score": -((w - 3.0) ** 2).sum().item()}


def broken(trial):
    raise RuntimeError("the data loader exploded")


def silent(trial):
    return {"something_else": 1.0}


def chatty(trial):
    """Reports how loud a library's logger and warnings would be in this process."""
    import logging
    import warnings

    with warnings.catch_warnings(record=True) as shown:
        warnings.warn("a chatty library's warning", UserWarning)
    return {"warnings_shown": len(shown), "log_level": logging.getLogger("chatty").level}
'''


@pytest.fixture
def task_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_task.py"
    path.write_text(USER_TASK)
    return path


def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'lrbench.db'}"


def test_grid_study_on_digits_ranks_resumes_and_stores_everything(tmp_path: Path) -> None:
    config = StudyConfig(
        task="digits-mlp",
        policies=("fixed", "cosine"),
        lr_min=0.01,
        lr_max=10.0,
        trials=6,
        total_steps=40,
        seeds=2,
        baselines=(("step", 0.1),),
    )
    result = tune(config, name="digits", db=db(tmp_path))
    assert len(result.trials) == (6 + 1) * 2
    assert result.counts["complete"] + result.counts["diverged"] == 14
    assert result.counts["diverged"] >= 2  # lr=10 with momentum 0.9 blows up
    best = result.best
    assert best is not None and best.seeds == 2 and best.mean > 0.6
    assert best.mean == max(s.mean for s in result.leaderboard if s.seeds)
    diverged = [t for t in result.trials if t.status is TrialStatus.diverged]
    assert all(0 < t.cost_steps < 40 and "diverged" in (t.error or "") for t in diverged)
    store = Store(db(tmp_path))
    first = result.trials[0]
    assert [s for s, n, _ in store.points(first.id) if n == "accuracy"] == [
        4 * i for i in range(1, 11)
    ]
    assert {
        "accuracy",
        "top5",
        "loss_gap",
        "confidence_mean",
        "best_accuracy",
        "auc_accuracy",
    } <= set(first.metrics)
    again = tune(config, name="digits", db=db(tmp_path))  # resume: nothing left to run
    assert [t.attempt for t in again.trials] == [1] * 14
    assert again.leaderboard == result.leaderboard


def test_same_name_with_another_configuration_is_refused(tmp_path: Path) -> None:
    config = StudyConfig(
        task="digits-mlp", policies=("fixed",), lr_min=0.01, lr_max=0.1, trials=1, total_steps=10
    )
    tune(config, name="s", db=db(tmp_path))
    changed = StudyConfig(
        task="digits-mlp", policies=("fixed",), lr_min=0.01, lr_max=0.5, trials=1, total_steps=10
    )
    with pytest.raises(
        ConfigError,
        match=r"study 's' exists with a different configuration "
        r"\(lr_max: 0.1 -> 0.5\)",
    ):
        tune(changed, name="s", db=db(tmp_path))


def test_user_task_file_tunes_and_failures_are_stored(tmp_path: Path, task_file: Path) -> None:
    config = StudyConfig(
        task=f"{task_file}:train",
        metric="score",
        policies=("fixed", "cosine"),
        lr_min=0.01,
        lr_max=3.0,
        trials=6,
        total_steps=30,
    )
    result = tune(config, name="user", db=db(tmp_path), workers=2)
    assert result.study.task.name == "my_task.py:train"
    assert result.best is not None and result.best.mean > -0.5
    assert result.counts["diverged"] >= 1  # lr=3 on a quadratic of curvature 2 diverges
    broken = tune(
        StudyConfig(
            task=f"{task_file}:broken",
            metric="score",
            policies=("fixed",),
            trials=2,
            total_steps=5,
        ),
        name="broken",
        db=db(tmp_path),
    )
    assert broken.counts["failed"] == 2 and broken.best is None
    assert "RuntimeError: the data loader exploded" in (broken.trials[0].error or "")


def test_worker_processes_stay_as_quiet_as_the_application_set(
    tmp_path: Path, task_file: Path
) -> None:
    config = StudyConfig(
        task=f"{task_file}:chatty",
        metric="warnings_shown",
        mode="min",
        policies=("fixed",),
        trials=2,
        total_steps=1,
    )
    logger = logging.getLogger("chatty")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="a chatty library")
        logger.setLevel(logging.ERROR)
        try:
            result = tune(config, name="quiet", db=db(tmp_path), workers=2)
        finally:
            logger.setLevel(logging.NOTSET)
    assert [t.metrics for t in result.trials] == [
        {"warnings_shown": 0.0, "log_level": float(logging.ERROR)}
    ] * 2


def test_a_metric_the_task_never_reports(tmp_path: Path, task_file: Path) -> None:
    with pytest.raises(ConfigError, match="never reported metric 'score'.*something_else"):
        tune(
            StudyConfig(
                task=f"{task_file}:silent",
                metric="score",
                policies=("fixed",),
                trials=1,
                total_steps=5,
            ),
            db=db(tmp_path),
        )
    with pytest.raises(ConfigError, match="task digits-mlp never reports metric 'acc'"):
        tune(StudyConfig(task="digits-mlp", metric="acc"), db=db(tmp_path))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lr_min": 1.0, "lr_max": 0.1}, "`--lr-min` must be < `--lr-max`"),
        ({"lr_min": 0.0}, "`--lr-min` and `--lr-max` must be > 0"),
        ({"strategy": "hyperband"}, "`--strategy` must be one of grid, random, topk, bayes"),
        ({"policies": ("cosin",)}, "unknown policy family 'cosin'"),
        ({"task": "digits"}, "unknown task 'digits'; did you mean digits-mlp"),
        ({"params": {"hiden": 3}}, "unknown parameter `hiden` for task digits-mlp"),
    ],
)
def test_bad_study_options(tmp_path: Path, kwargs: dict, message: str) -> None:
    config = StudyConfig(**{"task": "digits-mlp", "total_steps": 5, **kwargs})
    with pytest.raises(ConfigError, match=message):
        tune(config, db=db(tmp_path))
    assert not Path(tmp_path / "lrbench.db").exists() or Store(db(tmp_path)).studies() == []


def test_random_and_topk_strategies(tmp_path: Path) -> None:
    random_config = StudyConfig(
        task="digits-mlp",
        policies=("fixed", "cosine", "step"),
        strategy="random",
        trials=5,
        total_steps=20,
        seed=7,
    )
    first = tune(random_config, name="r1", db=db(tmp_path))
    second = tune(random_config, name="r2", db=db(tmp_path))
    assert [t.policy for t in first.trials] == [t.policy for t in second.trials]
    assert all(1e-4 <= t.lr <= 1.0 for t in first.trials)
    topk = tune(
        StudyConfig(task="digits-mlp", strategy="topk", trials=3, total_steps=20),
        name="t",
        db=db(tmp_path),
    )
    best_known = Store(db(tmp_path)).top_k(topk.study.task, 1, metric="accuracy")[0]
    assert len(topk.trials) >= 3
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    prior = tune(
        StudyConfig(task="digits-mlp", strategy="topk", trials=3, total_steps=20),
        name="t",
        db=db(fresh),
    )
    assert sorted(t.lr for t in prior.trials) == [0.05, 0.1, 0.2]  # the SGD recipe prior
    assert best_known.lr > 0


def test_kill_9_then_resume_loses_and_doubles_nothing(tmp_path: Path, task_file: Path) -> None:
    url = db(tmp_path)
    command = [
        LRBENCH,
        "tune",
        "--task",
        f"{task_file}:train",
        "--metric",
        "score",
        "--policies",
        "fixed",
        "--lr-min",
        "0.01",
        "--lr-max",
        "0.3",
        "--trials",
        "4",
        "--total-steps",
        "50",
        "--param",
        "sleep=0.01",
        "--db",
        url,
        "--study",
        "k9",
        "--quiet",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    interrupted = None
    while time.time() < deadline and interrupted is None:
        time.sleep(0.2)
        try:
            store = Store(url)
            study = store.study("k9")
        except lrbench.LRBenchError:
            continue
        if study is None:
            continue
        trials = store.trials(study.id)
        running = [t for t in trials if t.status is TrialStatus.running]
        if (
            any(t.status is TrialStatus.complete for t in trials)
            and running
            and store.points(running[0].id)
        ):
            interrupted = running[0].number
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert interrupted is not None, "the study never reached a running trial"

    resumed = subprocess.run(
        [*command[:-1], "--format", "json"], capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["trials"]["complete"] == 4
    store = Store(url)
    trials = store.trials(store.require_study("k9").id)
    assert [t.attempt for t in trials] == [2 if t.number == interrupted else 1 for t in trials]
    for trial in trials:
        assert [s for s, _, _ in store.points(trial.id)] == list(range(5, 55, 5))


def test_bayes_strategy_proposes_round_by_round_and_resumes(tmp_path: Path) -> None:
    config = StudyConfig(
        task="digits-mlp",
        policies=("fixed", "cosine"),
        strategy="bayes",
        lr_min=1e-3,
        lr_max=1.0,
        trials=6,
        total_steps=30,
        seeds=1,
        baselines=(("step", 0.1),),
    )
    result = tune(config, name="bayes", db=db(tmp_path), workers=1)
    searched = [t for t in result.trials if t.family != "step"]
    assert len(searched) == 6 and len(result.trials) == 7
    assert len({(t.family, t.lr) for t in searched}) == 6  # no configuration twice
    assert all(1e-3 <= t.lr <= 1.0 and t.family in ("fixed", "cosine") for t in searched)
    assert [t.number for t in result.trials] == list(range(7))
    again = tune(config, name="bayes", db=db(tmp_path))
    assert len(again.trials) == 7 and all(t.attempt == 1 for t in again.trials)


def test_adaptive_policies_as_candidates_react_to_reported_metrics(
    tmp_path: Path, task_file: Path
) -> None:
    # The quadratic's score stops improving once w is near 3: with patience 0 the plateau
    # policy cuts its LR there, and the stored LR curve shows it.
    template = (
        "plateau(lr={lr},metric=score,mode=max,patience=0,factor=0.1,threshold=0.01,"
        "threshold_mode=abs)"
    )
    config = StudyConfig(
        task=f"{task_file}:train",
        metric="score",
        policies=(template,),
        lr_min=0.1,
        lr_max=0.2,
        trials=1,
        total_steps=40,
    )
    result = tune(config, name="adaptive", db=db(tmp_path))
    trial = result.trials[0]
    assert trial.family == "plateau" and trial.status is TrialStatus.complete
    replay = lrbench.Trial(policy=trial.policy, total_steps=40)  # the same run, by hand
    load_task(f"{task_file}:train").function(replay)
    lrs = replay.active_monitor.history.lr  # type: ignore[union-attr]
    assert lrs[0] == pytest.approx(0.141) and lrs[-1] < lrs[0] / 5


def test_bayes_searches_the_shape_of_the_schedule_too(tmp_path: Path) -> None:
    config = StudyConfig(
        task="digits-mlp",
        policies=("cosine", "wsd"),
        strategy="bayes",
        lr_min=1e-2,
        lr_max=1.0,
        trials=6,
        total_steps=30,
    )
    result = tune(config, name="shapes", db=db(tmp_path))
    assert len(result.trials) == 6
    policies = [lrbench.parse(t.policy) for t in result.trials]
    shapes = {(p.name, getattr(p, "min_lr", 0.0) / p.lr, p.warmup_steps) for p in policies}
    assert len(shapes) == 6  # not the fixed template shape with only the LR changing
    again = tune(config, name="shapes", db=db(tmp_path))
    assert len(again.trials) == 6 and all(t.attempt == 1 for t in again.trials)


class _Recorder(lrbench.study.StudyEvents):
    def __init__(self) -> None:
        self.standings: lrbench.study.Standings | None = None

    def trial_finished(self, outcome, standings) -> None:
        self.standings = standings


def test_the_live_standings_rank_as_the_stored_leaderboard(
    task_file: Path, tmp_path: Path
) -> None:
    # The live display kept each policy's best single seed; the store ranks the mean over
    # seeds: with noisy seeds the two could name different winners.
    config = StudyConfig(
        task=f"{task_file}:train",
        metric="score",
        policies=("fixed", "cosine"),
        lr_min=0.01,
        lr_max=1.5,
        trials=6,
        total_steps=20,
        seeds=2,
        baselines=(("fixed", 2.5),),  # diverges: no completed seed
    )
    events = _Recorder()
    result = tune(config, db=f"sqlite:///{tmp_path / 's.db'}", events=events)
    live = events.standings.ranked()
    assert [(s.policy, s.seeds, s.statuses) for s in live] == [
        (s.policy, s.seeds, s.statuses) for s in result.leaderboard
    ]
    means = [s.mean for s in result.leaderboard]
    assert [s.mean for s in live] == pytest.approx(means, nan_ok=True)
    assert math.isnan(means[-1])
    assert events.standings.best().policy == result.best.policy
