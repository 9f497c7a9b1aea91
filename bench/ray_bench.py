"""Ray against the local executor: the same study's wall time and overhead per trial.

    python bench/ray_bench.py [--trials 16] [--repeats 2]    (needs `pip install 'lrbenchpp[ray]'`)

The study: a grid on `digits-mlp` (`--trials` configurations, 300 steps each), run with 2
trials at a time by the local process pool and by Ray Tune on a local Ray with 2 CPUs, each in
a fresh database, interleaved `--repeats` times (the minimum is printed: the machine is shared).
Overhead per trial = (wall time - training seconds / 2) / trials: what each executor adds to a
trial beyond training it (starting workers, scheduling, reporting). Ray's start-up
(`ray.init`) is timed apart: a cluster pays it once, not per study.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import optuna
import ray

from lrbench.execution.raytune import RayOptions
from lrbench.study import StudyConfig, StudyResult, tune

optuna.logging.set_verbosity(optuna.logging.WARNING)  # the bench decides what it logs

WORKERS = 2


def timed(run) -> tuple[float, StudyResult]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def overhead(wall: float, result: StudyResult) -> float:
    return (wall - result.cost_seconds / WORKERS) / len(result.trials)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    config = StudyConfig(task="digits-mlp", policies=("fixed", "cosine"), trials=args.trials)
    start = time.perf_counter()
    ray.init(num_cpus=WORKERS, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - start
    options = RayOptions(max_concurrent=WORKERS)
    local_runs, ray_runs = [], []
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(args.repeats):
            db = f"sqlite:///{Path(folder) / f'local-{repeat}.db'}"
            local_runs.append(timed(lambda db=db: tune(config, db=db, workers=WORKERS)))
            db = f"sqlite:///{Path(folder) / f'ray-{repeat}.db'}"
            ray_runs.append(timed(lambda db=db: tune(config, db=db, executor=options)))
    ray.shutdown()
    print(
        f"\n{args.trials} trials of digits-mlp, {WORKERS} at a time; ray.init: {ray_start:.1f} s"
    )
    header = f"{'executor':<10} {'wall (s)':>9} {'training (s)':>13} {'overhead/trial (s)':>19}"
    print(header + "\n" + "-" * len(header))
    for name, runs in (("local", local_runs), ("ray", ray_runs)):
        wall, result = min(runs, key=lambda run: run[0])
        print(
            f"{name:<10} {wall:>9.1f} {result.cost_seconds:>13.1f} {overhead(wall, result):>19.2f}"
        )
    same = [(s.policy, s.mean) for s in local_runs[0][1].leaderboard[:3]] == [
        (s.policy, s.mean) for s in ray_runs[0][1].leaderboard[:3]
    ]
    print(f"same top 3 of the leaderboard: {same}")


if __name__ == "__main__":
    main()
