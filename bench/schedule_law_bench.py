"""The annealing loss law: final losses of 14 schedules predicted from two fitted curves,
against training each of them.

    python bench/schedule_law_bench.py [--seeds 2] [--tasks charlm,digits-mlp]

At one peak LR per task (near its tuned optimum), every candidate schedule of `--objective
schedule` (fixed, cosine, linear, step, one-cycle, and WSD x 3 decay shapes x 3 decay lengths)
trains in full (`--seeds` seeds, loss measured 24 times per run). The law of Tissue et al.
(2024) is fitted three ways: on the full constant and cosine curves; on both at 1/4 of the
budget (the objective's default); on the full constant curve alone. Printed for each: the
mean absolute error of the predicted final loss over the schedules the law accepts, Spearman's
rank correlation with the measured ones, and the measured loss of the schedule it ranks first
against the measured best. Runs are kept in bench-output/schedule_law.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from scipy.stats import spearmanr

import lrbench
from lrbench.scaling import MeasuredCurve, fit_annealing_law, rank_schedules
from lrbench.study.objectives.schedule import candidate_schedules
from lrbench.tasks import load_task

optuna.logging.set_verbosity(optuna.logging.WARNING)

FAMILIES = ("fixed", "cosine", "linear", "step", "one_cycle", "wsd")
TASKS: dict[str, dict[str, Any]] = {
    "charlm": {"metric": "val_loss", "lr": 0.0086, "steps": 120},
    "digits-mlp": {"metric": "loss", "lr": 0.3, "steps": 300},
}
EVALUATIONS = 24


class Curves:
    """Measured curves {step: loss} per (task, policy, steps, seed), cached in a JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: dict[str, dict[str, float]] = (
            json.loads(path.read_text()) if path.exists() else {}
        )

    def curve(
        self, task: str, metric: str, policy: str, steps: int, seed: int
    ) -> dict[int, float]:
        key = f"{task}|{policy}|{steps}|{seed}"
        if key not in self.done:
            resolved = load_task(task, {"evaluations": EVALUATIONS})
            points: dict[str, float] = {}
            trial = lrbench.Trial(
                policy=policy,
                total_steps=steps,
                seed=seed,
                params=resolved.params,
                reporter=lambda step, values: points.__setitem__(str(step), values[metric]),
            )
            with contextlib.suppress(lrbench.Diverged):  # its curve ends where it diverged
                resolved.function(trial)
            self.done[key] = points
            self.path.write_text(json.dumps(self.done))
        return {int(step): value for step, value in self.done[key].items()}


def mean_curve(curves: Curves, task: str, policy: str, steps: int, seeds: int) -> dict[int, float]:
    spec = TASKS[task]
    runs = [curves.curve(task, spec["metric"], policy, steps, s) for s in range(seeds)]
    return {
        step: statistics.fmean(run[step] for run in runs)
        for step in runs[0]
        if all(step in run for run in runs)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--tasks", default=",".join(TASKS))
    args = parser.parse_args()
    out = Path("bench-output")
    out.mkdir(exist_ok=True)
    curves = Curves(out / "schedule_law.json")
    print(
        "| task | fitted on | MAE of the final loss | Spearman | law's pick: measured | "
        "measured best | schedules refused |"
    )
    print("|---|---|---|---|---|---|---|")
    for task in args.tasks.split(","):
        spec = TASKS[task]
        lr, steps = spec["lr"], spec["steps"]
        schedules = candidate_schedules(FAMILIES, lr, steps)
        measured = {
            str(lrbench.parse(s)): mean_curve(curves, task, s, steps, args.seeds).get(
                steps, float("nan")
            )
            for s in schedules
        }
        quarter = max(5, steps // 4)
        fits = {
            "constant + cosine, full": [
                (f"fixed(lr={lr})", steps),
                (candidate_schedules(("cosine",), lr, steps)[0], steps),
            ],
            "constant + cosine, 1/4": [
                (f"fixed(lr={lr})", quarter),
                (candidate_schedules(("cosine",), lr, quarter)[0], quarter),
            ],
            "constant alone, full": [(f"fixed(lr={lr})", steps)],
        }
        finite = {policy: loss for policy, loss in measured.items() if loss == loss}
        best = min(finite, key=finite.__getitem__)
        for label, runs in fits.items():
            fitted = [
                MeasuredCurve.of(
                    policy, length, mean_curve(curves, task, policy, length, args.seeds)
                )
                for policy, length in runs
            ]
            law = fit_annealing_law(fitted)
            ranked = rank_schedules(law, schedules, steps)
            judged = [p for p in ranked if not p.refused and p.policy in finite]
            errors = [abs(p.loss - measured[p.policy]) for p in judged]
            rho = spearmanr([p.loss for p in judged], [measured[p.policy] for p in judged])[0]
            pick = judged[0].policy
            print(
                f"| {task} ({steps} steps, LR {lr:g}) | {label} | {np.mean(errors):.4f} | "
                f"{rho:+.2f} | {measured[pick]:.4f} ({pick}) | {measured[best]:.4f} ({best}) | "
                f"{len(ranked) - len(judged)} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
