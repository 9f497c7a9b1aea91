"""Tuning efficiency: the best metric each strategy finds against the training cost it spends.

    python bench/efficiency_bench.py [--tasks digits-mlp,charlm] [--repeats 3] [--quick]

For each task an oracle, a dense LR grid over the same policy families, gives the best metric
reachable. Each strategy then runs as a fresh study (its own database, so `topk` starts cold:
published recipes and its fallback grid, not the oracle's results), once per repeat with the
strategy's seed set to the repeat; training seeds are the same everywhere (seed 0), so the
oracle and the strategies measure the same runs. Cost is in full training runs (optimizer
updates spent, the range test's included, over the task's budget).

The goal (issue 5): within 1% of the oracle's best metric for at most 3 full runs of cost,
where the grid search needs its whole grid.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import optuna

from lrbench.study import StudyConfig, StudyResult, tune

optuna.logging.set_verbosity(optuna.logging.WARNING)  # the bench decides what it logs

SETTINGS = {
    # task: (LR range, the oracle's LRs per family)
    "digits-mlp": ((1e-3, 3.0), 32),
    "charlm": ((1e-5, 1e-1), 16),
}
FAMILIES = ("fixed", "cosine")
UNREACHABLE = {"max": 1e9, "min": -1e9}  # successive halving alone, no stop at a target


def strategies(task: str, mode: str) -> dict[str, dict]:
    """Each strategy's StudyConfig fields (the grid is the LRBench++ baseline)."""
    return {
        "grid (12)": {"strategy": "grid", "trials": 12},
        "random (3)": {"strategy": "random", "trials": 3},
        "top-k, cold (3)": {"strategy": "topk", "trials": 3},
        "halving (24)": {
            "strategy": "random",
            "trials": 24,
            "objective": "cost",
            "target": UNREACHABLE[mode],
        },
        "halving (9)": {
            "strategy": "random",
            "trials": 9,
            "objective": "cost",
            "target": UNREACHABLE[mode],
        },
        "bayes (3)": {"strategy": "bayes", "trials": 3},
        "bayes (8)": {"strategy": "bayes", "trials": 8},
        "range test + grid (2)": {"strategy": "grid", "trials": 2, "bracket": True},
        "range test + random (2)": {"strategy": "random", "trials": 2, "bracket": True},
        "range test + halving (9)": {
            "strategy": "random",
            "trials": 9,
            "bracket": True,
            "objective": "cost",
            "target": UNREACHABLE[mode],
        },
    }


def run(config: StudyConfig, folder: Path, name: str) -> StudyResult:
    return tune(config, name=name, db=f"sqlite:///{folder / f'{name}.db'}")


def score(result: StudyResult) -> float:
    best = result.best
    return float("nan") if best is None else best.mean


def gap(value: float, oracle: float, mode: str) -> float:
    """How far below the oracle (in % of it), positive when worse."""
    worse = oracle - value if mode == "max" else value - oracle
    return 100.0 * worse / abs(oracle)


def bench_task(task: str, repeats: int, folder: Path, only: str | None = None) -> None:
    (lr_min, lr_max), dense = SETTINGS[task]
    base = StudyConfig(task=task, policies=FAMILIES, lr_min=lr_min, lr_max=lr_max)
    started = time.perf_counter()
    oracle_result = run(
        dataclasses.replace(base, trials=dense * len(FAMILIES)), folder, f"{task}-oracle"
    )
    oracle, mode = score(oracle_result), oracle_result.study.mode
    print(
        f"\n{task}: {oracle_result.study.metric} ({mode}); oracle: dense grid of "
        f"{len(oracle_result.trials)} runs, best {oracle:.4f} "
        f"({oracle_result.best.policy}) [{time.perf_counter() - started:.0f} s]"
    )
    header = (
        f"{'strategy':<26} {'cost (full runs)':>16} {'best metric':>12} {'gap %':>7} {'<=1%':>6}"
    )
    print(header + "\n" + "-" * len(header))
    for label, fields in strategies(task, mode).items():
        if only is not None and only not in label:
            continue
        costs, values = [], []
        for repeat in range(repeats):
            config = dataclasses.replace(base, seed=repeat, **fields)
            result = run(config, folder, f"{task}-{label.replace(' ', '')}-{repeat}")
            costs.append(result.full_runs)
            values.append(score(result))
        within = sum(gap(v, oracle, mode) <= 1.0 for v in values)
        print(
            f"{label:<26} {statistics.mean(costs):>16.2f} {statistics.mean(values):>12.4f} "
            f"{statistics.mean(gap(v, oracle, mode) for v in values):>7.2f} "
            f"{within:>4}/{repeats}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", default="digits-mlp,charlm")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="digits-mlp, 2 repeats")
    parser.add_argument("--only", help="run the strategies whose label contains this")
    args = parser.parse_args()
    tasks = ["digits-mlp"] if args.quick else args.tasks.split(",")
    repeats = 2 if args.quick else args.repeats
    with tempfile.TemporaryDirectory() as folder:
        for task in tasks:
            bench_task(task, repeats, Path(folder), args.only)


if __name__ == "__main__":
    main()
