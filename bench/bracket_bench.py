"""Where the tuned optimum sits on the range test's curve, for range tests of every length.

    python bench/bracket_bench.py [--seeds 3] [--tasks digits-mlp,charlm]

For each built-in task (at the budget its benchmarks use) and range tests of 5% to 100% of
one run (at least `MIN_SWEEP_STEPS` steps) over the task's default LR range, each seed's
sweep gives the LR of its lowest smoothed loss and the valley rule's suggestion. Printed: the
oracle's best LR over each (1.0: the sweep points at the optimum), median and range over the
seeds, and how often the sweep found no falling stretch at all. The oracle LRs are the dense
grids of docs/benchmarks.md (digits-mlp and charlm: 32 LRs per family, 2 seeds; the
fine-tuning tasks: 8 LRs per family, 2 seeds).
"""

from __future__ import annotations

import argparse
import math
import statistics
from typing import Any

import optuna

from lrbench.rangetest import MIN_SWEEP_STEPS, range_test
from lrbench.tasks import load_task

optuna.logging.set_verbosity(optuna.logging.WARNING)

#: task -> settings, budget (steps) and the dense-grid oracle's best LR (docs/benchmarks.md).
TASKS: dict[str, dict[str, Any]] = {
    "digits-mlp": {"task": "digits-mlp", "params": {}, "steps": 300, "oracle": 0.637},
    "charlm": {"task": "charlm", "params": {}, "steps": 120, "oracle": 0.00858},
    "minilm-cls": {
        "task": "minilm-cls",
        "params": {"evaluations": 2},
        "steps": 60,
        "oracle": 3.73e-4,
    },
    "smollm2-lora": {
        "task": "hf-causal-lm",
        "params": {"max_length": 64, "max_records": 160, "evaluations": 2},
        "steps": 20,
        "oracle": 3.73e-3,
    },
}
FRACTIONS = (0.05, 0.1, 0.25, 0.5, 1.0)


def sweeps(spec: dict[str, Any], fraction: float, seeds: int) -> list[tuple[float, float] | None]:
    """(lowest-loss LR, suggestion) of each seed's sweep; None where the loss never fell."""
    resolved = load_task(spec["task"], spec["params"])
    assert resolved.builtin is not None
    lr_min, lr_max = resolved.builtin.lr_range_for(resolved.params)
    steps = max(MIN_SWEEP_STEPS, round(fraction * spec["steps"]))
    found: list[tuple[float, float] | None] = []
    for seed in range(seeds):
        result = range_test(
            spec["task"],
            lr_min=lr_min,
            lr_max=lr_max,
            steps=steps,
            params=spec["params"],
            seed=seed,
        )
        if result.range is None or result.suggestion is None:
            found.append(None)
        else:
            found.append((result.range[1], result.suggestion))
    return found


def ratio_text(ratios: list[float]) -> str:
    if not ratios:
        return "—"
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}..{max(ratios):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", default=",".join(TASKS))
    args = parser.parse_args()
    print(
        "| task | sweep (share of a run) | oracle / lowest-loss LR | oracle / valley | "
        "no falling stretch |"
    )
    print("|---|---|---|---|---|")
    everything: dict[float, list[float]] = {f: [] for f in FRACTIONS}
    for key in args.tasks.split(","):
        spec = TASKS[key]
        for fraction in FRACTIONS:
            found = sweeps(spec, fraction, args.seeds)
            ok = [f for f in found if f is not None]
            lowest = [spec["oracle"] / low for low, _ in ok]
            valley = [spec["oracle"] / suggestion for _, suggestion in ok]
            everything[fraction] += [math.log10(r) for r in lowest]
            steps = max(MIN_SWEEP_STEPS, round(fraction * spec["steps"]))
            print(
                f"| {key} | {steps} steps ({fraction:.0%}) | {ratio_text(lowest)} | "
                f"{ratio_text(valley)} | {len(found) - len(ok)}/{len(found)} |",
                flush=True,
            )
    print("\nMean |log10(oracle / lowest-loss LR)| over every task and seed, by sweep length:")
    for fraction, logs in everything.items():
        if logs:
            mean = statistics.fmean(abs(v) for v in logs)
            centre = 10 ** statistics.median(logs)
            print(f"  {fraction:.0%}: {mean:.2f} decades; median oracle/lowest {centre:.2f}x")


if __name__ == "__main__":
    main()
