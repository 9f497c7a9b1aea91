"""Store benchmarks, SQLite and PostgreSQL side by side in one run.

    python bench/store_bench.py [--quick]

1. Metric points written per second through `Store.add_points` (one report of two metrics per
   call, each committed at once, as a study does).
2. Latency of the top-k query for a task with 10,000 stored trials.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from lrbench.store import Store, TaskInfo
from lrbench.store._models import TrialRow

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TASK = TaskInfo(name="bench-task", model="mlp", dataset="digits", optimizer="sgd")


def reset_postgres() -> bool:
    """Empty the benchmark database; False when no server is reachable."""
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.begin() as connection:
            for table in (
                "lrb_metric_point",
                "lrb_trial",
                "lrb_study",
                "lrb_task",
                "lrb_recipe",
                "alembic_version",
            ):
                connection.execute(sa.text(f"DROP TABLE IF EXISTS {table} CASCADE"))
        engine.dispose()
        return True
    except sa.exc.OperationalError:
        return False


def points_per_second(store: Store, reports: int) -> float:
    study = store.create_study(
        name="points",
        task=store.task(TASK),
        objective="single-policy",
        metric="acc",
        mode="max",
        strategy="grid",
        config={},
        trials=[
            {
                "policy": "fixed(lr=0.1)",
                "family": "fixed",
                "lr": 0.1,
                "seed": 0,
                "total_steps": reports,
            }
        ],
    )
    trial = store.trials(study.id)[0]
    store.start_trial(trial.id)
    start = time.perf_counter()
    for step in range(reports):
        store.add_points(trial.id, step, {"acc": 0.5, "loss": 1.0})
    return 2 * reports / (time.perf_counter() - start)


def fill(store: Store, trials: int, studies: int) -> None:
    """`trials` completed trials over `studies` studies of one task (bulk insert, untimed)."""
    rng = np.random.default_rng(0)
    families = ["fixed", "step", "cosine", "one_cycle", "wsd", "linear"]
    per_study = trials // studies
    for number in range(studies):
        study = store.create_study(
            name=f"bulk-{number}",
            task=store.task(TASK),
            objective="single-policy",
            metric="acc",
            mode="max",
            strategy="grid",
            config={},
            trials=[],
        )
        rows = []
        for index in range(per_study):
            family = families[index % len(families)]
            lr = float(10 ** rng.uniform(-4, 0))
            rows.append(
                {
                    "study_id": study.id,
                    "number": index,
                    "policy": f"{family}(lr={lr})",
                    "family": family,
                    "lr": lr,
                    "seed": 0,
                    "total_steps": 100,
                    "status": "complete",
                    "attempt": 1,
                    "cost_steps": 100,
                    "cost_samples": 0,
                    "cost_tokens": 0,
                    "cost_seconds": 1.0,
                    "metrics": {"acc": float(rng.uniform())},
                }
            )
        with store.session() as session:
            session.execute(sa.insert(TrialRow), rows)


def top_k_latency(store: Store, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        store.top_k(TASK, 5, metric="acc")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    reports, trials = (200, 1_000) if args.quick else (2_000, 10_000)
    with tempfile.TemporaryDirectory() as folder:
        backends = {"SQLite (file, WAL)": f"sqlite:///{Path(folder) / 'bench.db'}"}
        if reset_postgres():
            backends["PostgreSQL 15 (localhost)"] = POSTGRES_URL
        results = {}
        for label, url in backends.items():
            store = Store(url)
            written = points_per_second(store, reports)
            fill(store, trials, studies=20)
            results[label] = (written, top_k_latency(store, 5))
            store.dispose()
        if "PostgreSQL 15 (localhost)" in backends:
            reset_postgres()
    print(f"\n## Store: {reports:,} reports of 2 points, then top-k over {trials:,} trials\n")
    print("| backend | points written / s | top-5 query, median of 5 |")
    print("|---|---:|---:|")
    for label, (written, latency) in results.items():
        print(f"| {label} | {written:,.0f} | {latency * 1e3:.0f} ms |")
    if len(results) == 1:
        print("\n(PostgreSQL not reachable at 127.0.0.1:5432: only SQLite measured.)")


if __name__ == "__main__":
    main()
