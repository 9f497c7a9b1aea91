"""`recommend` against the tuned optimum on every built-in task, cold and warm.

    python bench/recommend_bench.py [--tasks digits-mlp,charlm,minilm-cls,smollm2-lora]
                                    [--out bench-output/recommend] [--quick]

For each task: the oracle's best LR (a dense grid of `fixed` and `cosine`, one seed; the
fine-tuning tasks reuse `bench/finetune_bench.py`'s oracle when its database is in
bench-output/finetune, else run a smaller one), then `lrbench.recommend.recommend` on

- a fresh store (cold: recipes and rules only), and
- a store holding one grid study (6 LRs x fixed, cosine) of a neighbouring setting (warm:
  another batch size, another model width, another sample, another LoRA rank),

printing each recommended LR over the oracle's, and whether the oracle's LR lies in the
recommended range. Results are kept in OUT, so a second run resumes.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import optuna

from lrbench.recommend import recommend
from lrbench.store import Store
from lrbench.study import StudyConfig, tune
from lrbench.tasks import load_task

optuna.logging.set_verbosity(optuna.logging.WARNING)  # the bench decides what it logs

# name: (task, its settings, budget, oracle LR range and points per family, neighbour's settings)
TASKS: dict[str, dict[str, Any]] = {
    "digits-mlp": {
        "task": "digits-mlp", "params": {}, "steps": 300,
        "oracle": ((1e-3, 3.0), 16), "neighbour": {"batch_size": 32},
    },
    "charlm": {
        "task": "charlm", "params": {}, "steps": 120,
        "oracle": ((1e-5, 1e-1), 12), "neighbour": {"batch_size": 32},
    },
    "minilm-cls": {
        "task": "minilm-cls", "params": {"evaluations": 2}, "steps": 60,
        "oracle": ((1e-6, 1e-3), 8), "neighbour": {"evaluations": 2, "per_group": 100},
    },
    "smollm2-lora": {
        "task": "hf-causal-lm",
        "params": {"max_length": 64, "max_records": 160, "evaluations": 2}, "steps": 20,
        "oracle": ((1e-5, 1e-2), 8),
        "neighbour": {"max_length": 64, "max_records": 160, "evaluations": 2, "lora_r": 16},
    },
}  # fmt: skip
FINETUNE_ORACLES = Path("bench-output/finetune")


def grid_study(spec: dict[str, Any], params: dict[str, Any], trials: int, name: str, db: Path):
    """A grid study of fixed and cosine over the task's oracle LR range (resumed if stored)."""
    (low, high), _ = spec["oracle"]
    config = StudyConfig(
        task=spec["task"],
        params=params,
        total_steps=spec["steps"],
        policies=("fixed", "cosine"),
        lr_min=low,
        lr_max=high,
        trials=trials,
    )
    return tune(config, name=name, db=f"sqlite:///{db}")


def oracle_lr(key: str, spec: dict[str, Any], out: Path) -> float:
    """The best LR of a dense grid (the fine-tuning bench's oracle where it is on disk)."""
    stored = FINETUNE_ORACLES / f"{key}-oracle.db"
    if stored.exists():
        store = Store(f"sqlite:///{stored}")
        study = store.require_study(f"{key}-oracle")
        return store.leaderboard(study)[0].lr
    _, points = spec["oracle"]
    result = grid_study(
        spec, spec["params"], 2 * points, f"{key}-oracle", out / f"{key}-oracle.db"
    )
    if result.best is None:
        raise RuntimeError(f"no oracle trial of {key} completed")
    return result.best.lr


def warm_store(key: str, spec: dict[str, Any], out: Path) -> Store:
    """A store holding a 12-configuration grid study (6 LRs per family) of the task's
    neighbouring setting."""
    grid_study(spec, spec["neighbour"], 12, f"{key}-neighbour", out / f"{key}-warm.db")
    return Store(f"sqlite:///{out / f'{key}-warm.db'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--out", type=Path, default=Path("bench-output/recommend"))
    parser.add_argument("--quick", action="store_true", help="digits-mlp only, short runs")
    args = parser.parse_args()
    keys = ["digits-mlp"] if args.quick else args.tasks.split(",")
    if args.quick:
        TASKS["digits-mlp"].update(steps=60, oracle=((1e-3, 3.0), 4))
        args.out = args.out / "quick"
    args.out.mkdir(parents=True, exist_ok=True)
    print("| task | oracle LR | store | recommended | / oracle | range | oracle in range | from |")
    print("|---|---:|---|---|---:|---|---|---|")
    for key in keys:
        spec = TASKS[key]
        best = oracle_lr(key, spec, args.out)
        info = load_task(spec["task"], spec["params"]).info(spec["steps"])
        fresh = Store(f"sqlite:///{args.out / f'{key}-cold.db'}")
        for label, store in (("cold", fresh), ("warm", warm_store(key, spec, args.out))):
            advice = recommend(store, info)
            inside = advice.lr_min <= best <= advice.lr_max
            print(
                f"| {key} | {best:.3g} | {label} | {advice.family} {advice.lr:.3g} | "
                f"{advice.lr / best:.2f}x ({abs(math.log10(advice.lr / best)):.2f} dec) | "
                f"{advice.lr_min:.3g}..{advice.lr_max:.3g} | {'yes' if inside else 'no'} | "
                f"{advice.basis} |"
            )


if __name__ == "__main__":
    main()
