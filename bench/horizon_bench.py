"""Horizon transfer: the LR predicted for the longest run from sweeps at three shorter ones,
against a dense sweep at the longest.

    python bench/horizon_bench.py [--seeds 2] [--tasks charlm,digits-mlp]

For each task, a cosine sweep (`--points` LRs, `--seeds` seeds) runs at four horizons; the
law LR*(D) = B D^-beta is fitted on the three shorter ones (`lrbench.scaling`), and its
prediction for the longest is compared with the dense sweep there: the ratio of the LRs, and
the loss (or accuracy) the prediction gives up, measured by training it (same seeds) against
the best LR of the dense sweep. Studies are kept in bench-output/horizon.db, so a rerun
resumes.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

import optuna

from lrbench.evaluate import Direction
from lrbench.scaling import fit_optimum
from lrbench.scaling.stored import stored_law, stored_sweeps
from lrbench.store import Store
from lrbench.study import StudyConfig, tune

optuna.logging.set_verbosity(optuna.logging.WARNING)

TASKS: dict[str, dict[str, Any]] = {
    "charlm": {"horizons": (30, 60, 120, 240), "lr": (1e-3, 5e-2), "metric": "val_loss"},
    "digits-mlp": {"horizons": (40, 80, 160, 320), "lr": (1e-2, 3.0), "metric": "accuracy"},
}


def sweep(
    task: str, steps: int, lrs: tuple[float, float], points: int, seeds: int, db: str
) -> str:
    name = f"{task}-cosine-{steps}"
    tune(
        StudyConfig(
            task=task,
            policies=("cosine",),
            lr_min=lrs[0],
            lr_max=lrs[1],
            trials=points,
            total_steps=steps,
            seeds=seeds,
        ),
        name=name,
        db=db,
    )
    return name


def measured_at(task: str, steps: int, lr: float, seeds: int, db: str, name: str) -> float:
    """The mean metric of the task's cosine template at exactly `lr` over the seeds (a
    one-point grid sits at the geometric centre of its range)."""
    result = tune(
        StudyConfig(
            task=task,
            policies=("cosine",),
            lr_min=lr / 1.001,
            lr_max=lr * 1.001,
            trials=1,
            total_steps=steps,
            seeds=seeds,
        ),
        name=name,
        db=db,
    )
    assert result.best is not None
    return result.best.mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--points", type=int, default=9)
    parser.add_argument("--tasks", default=",".join(TASKS))
    args = parser.parse_args()
    out = Path("bench-output")
    out.mkdir(exist_ok=True)
    db = f"sqlite:///{out / 'horizon.db'}"
    print(
        "| task | horizons fitted | beta [90%] | predicted LR* at the longest | dense sweep's "
        "best LR | ratio | metric at the prediction | best of the dense sweep | lost |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for task in args.tasks.split(","):
        spec = TASKS[task]
        names = [
            sweep(task, steps, spec["lr"], args.points, args.seeds, db)
            for steps in spec["horizons"]
        ]
        store = Store(db)
        found, law = stored_law(store, names[:3])
        longest = spec["horizons"][-1]
        predicted = law.predict(longest)
        lrs, values = stored_sweeps(store, names[3:]).sweeps[float(longest)]
        mode = Direction.of(found.mode)
        oracle = fit_optimum(longest, lrs, values, mode=mode)
        means = [
            statistics.fmean(v for other, v in zip(lrs, values, strict=True) if other == lr)
            for lr in set(lrs)
        ]
        grid_best = (max if mode is Direction.MAX else min)(m for m in means if m == m)
        at_prediction = measured_at(
            task, longest, float(f"{predicted.lr:.3g}"), args.seeds, db, f"{task}-predicted"
        )
        # worse than the dense sweep's best: positive (negative: between its grid points, better)
        lost = (at_prediction - grid_best) * (1.0 if mode is Direction.MIN else -1.0)
        print(
            f"| {task} | {', '.join(map(str, spec['horizons'][:3]))} | {law.exponent:.2f} "
            f"[{law.exponent_low:.2f}, {law.exponent_high:.2f}] | {predicted.lr:.3g} "
            f"({predicted.low:.3g}..{predicted.high:.3g}) | {oracle.lr:.3g} | "
            f"{predicted.lr / oracle.lr:.2f}x | {at_prediction:.4f} | {grid_best:.4f} | "
            f"{lost:+.4f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
