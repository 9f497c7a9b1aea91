"""Stored studies of every shape the figures and the report must handle."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrbench.store import Store, StudyRecord, TaskInfo, TrialStatus

TASK = TaskInfo(name="toy", model="mlp", dataset="digits", optimizer="sgd", horizon=100)


def _study(store: Store, name: str, trials: list[dict]) -> StudyRecord:
    return store.create_study(
        name=name,
        task=store.task(TASK),
        objective="single-policy",
        metric="acc",
        mode="max",
        strategy="grid",
        config={"config": {"total_steps": 100, "target": 0.8}},
        trials=trials,
    )


def _row(family: str, lr: float, seed: int = 0) -> dict:
    spec = {"fixed": f"fixed(lr={lr})", "cosine": f"cosine(lr={lr},total_steps=100)"}[family]
    return {"policy": spec, "family": family, "lr": lr, "seed": seed, "total_steps": 100}


def _run(
    store: Store,
    study: StudyRecord,
    results: dict[tuple[str, float], float | None],
    points: int = 10,
) -> None:
    for trial in store.trials(study.id):
        value = results[(trial.family, trial.lr)]
        store.start_trial(trial.id)
        for index in range(1, points + 1):
            step = index * 100 // points if points <= 100 else index
            curve = (value or 0.5) * index / points
            store.add_points(trial.id, step, {"acc": curve + 0.01 * trial.seed, "loss": 1 - curve})
        status = TrialStatus.complete if value is not None else TrialStatus.diverged
        store.finish_trial(
            trial.id,
            status,
            metrics={} if value is None else {"acc": value + 0.01 * trial.seed},
            cost_steps=100 if value is not None else 37,
            cost_seconds=0.1,
        )


@pytest.fixture
def studies(tmp_path: Path) -> tuple[Store, dict[str, StudyRecord]]:
    """`normal` (2 families x 3 LRs x 2 seeds), `empty`, `one-trial`, `all-diverged`, `big`."""
    store = Store(f"sqlite:///{tmp_path / 'viz.db'}")
    results = {
        (f, lr): v
        for f, values in {"fixed": (0.6, 0.9, None), "cosine": (0.7, 0.95, 0.5)}.items()
        for lr, v in zip((0.01, 0.1, 1.0), values)
    }
    made = {}
    made["normal"] = _study(store, "normal", [_row(f, lr, s) for f, lr in results for s in (0, 1)])
    _run(store, made["normal"], results)
    made["empty"] = _study(store, "empty", [])
    made["one-trial"] = _study(store, "one-trial", [_row("cosine", 0.1)])
    _run(store, made["one-trial"], {("cosine", 0.1): 0.9})
    made["all-diverged"] = _study(store, "all-diverged", [_row("fixed", 10.0), _row("fixed", 5.0)])
    _run(store, made["all-diverged"], {("fixed", 10.0): None, ("fixed", 5.0): None})
    made["big"] = _study(store, "big", [_row("cosine", 0.1)])
    _run(store, made["big"], {("cosine", 0.1): 0.9}, points=10_000)
    return store, made
