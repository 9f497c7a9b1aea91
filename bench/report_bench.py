"""Report benchmark: generating the HTML report of a 200-trial study with 1,000 points each.

    python bench/report_bench.py [--quick]

Prints the wall time of `write_report` (index with 5 figures, and one page per trial with its
own figure) against the target of 30 s, and the size of the HTML it wrote.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from lrbench.store import Store, TaskInfo, TrialStatus
from lrbench.store._models import Base
from lrbench.viz.report import write_report


def build(store: Store, trials: int, points: int) -> None:
    """A finished grid study: 4 families x LRs x 5 seeds, `points` reports of `acc` each."""
    families = ["fixed", "cosine", "linear", "one_cycle"]
    per_family = trials // (len(families) * 5)
    lrs = np.geomspace(1e-3, 1.0, per_family)
    rows = []
    for family in families:
        for lr in lrs:
            lr = float(f"{lr:.3g}")
            spec = {
                "fixed": f"fixed(lr={lr})",
                "cosine": f"cosine(lr={lr},total_steps={points})",
                "linear": f"linear(lr={lr},total_steps={points})",
                "one_cycle": f"one_cycle(max_lr={lr},total_steps={points})",
            }[family]
            rows += [
                {"policy": spec, "family": family, "lr": lr, "seed": seed, "total_steps": points}
                for seed in range(5)
            ]
    study = store.create_study(
        name="big",
        task=store.task(TaskInfo(name="bench")),
        objective="single-policy",
        metric="acc",
        mode="max",
        strategy="grid",
        config={"config": {"total_steps": points}},
        trials=rows,
    )
    rng = np.random.default_rng(0)
    table = Base.metadata.tables["lrb_metric_point"]
    for trial in store.trials(study.id):
        final = float(1 - abs(np.log10(trial.lr) + 1) / 3 + rng.normal(0, 0.01))
        curve = final * (1 - np.exp(-np.arange(1, points + 1) / (points / 5)))
        with store.engine.begin() as connection:
            connection.execute(
                sa.insert(table),
                [
                    {"trial_id": trial.id, "step": step, "name": "acc", "value": float(value)}
                    for step, value in enumerate(curve, 1)
                ],
            )
        store.finish_trial(
            trial.id,
            TrialStatus.complete,
            metrics={"acc": final},
            cost_steps=points,
            cost_seconds=1.0,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    trials, points = (40, 200) if args.quick else (200, 1_000)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{Path(folder) / 'report.db'}")
        build(store, trials, points)
        start = time.perf_counter()
        index = write_report(store, ["big"], Path(folder) / "report")
        seconds = time.perf_counter() - start
        pages = list((Path(folder) / "report" / "trials").glob("*.html"))
        index_size = index.stat().st_size
        total = index_size + sum(p.stat().st_size for p in pages)
    print(f"\n## Report: a study of {trials} trials x {points:,} points\n")
    print("| measure | value | target |")
    print("|---|---:|---:|")
    print(f"| generation time (index + {len(pages)} trial pages) | {seconds:.1f} s | < 30 s |")
    print(f"| index.html (5 figures inline) | {index_size / 1e6:.2f} MB | — |")
    print(f"| all HTML (index + trial pages) | {total / 1e6:.1f} MB | — |")


if __name__ == "__main__":
    main()
