"""LR tuning for fine-tuning pretrained models: LRBench++ against a dense-grid oracle, the
folklore defaults and two tuning-free optimizers, and the range test's rules against the
oracle's LR, on SmolLM2-135M with LoRA (`hf-causal-lm`) and on MiniLM (`minilm-cls`).

    python bench/finetune_bench.py [--task smollm2-lora|minilm-cls] [--out DIR] [--quick]

Every method is scored the same way: the configuration it ends with, trained with seeds 0 and
1, mean of the task's metric (eval_loss for SmolLM2, eval_accuracy for MiniLM). Its cost is
what it spent choosing, in full runs (the oracle: 32; folklore: none; Prodigy and
Schedule-Free: one run each, no choice made). Results are kept in DIR (a study database and a
JSON of single runs), so a second run of the command resumes instead of training again.

- oracle: `fixed` and `cosine` x 8 LRs log-spaced over the task's LR range, 2 seeds each.
- LRBench++ at <= 3 full runs, each in its own database (no knowledge of the oracle):
  `bayes` (TPE, 3 trials), `topk` (3 trials: published recipes for a fresh database),
  `bracket` (a range test, then 2 cosine trials inside its bracket) and the same bracket
  with one `fixed` and one `cosine` trial.
- folklore: cosine with 3% warmup at 2e-4 (LoRA) or 2e-5 (full fine-tuning).
- Prodigy (its LR 1, cosine) and Schedule-Free AdamW (its default 2.5e-3, 5% warmup).
- range test: each rule's LR over the oracle's best LR (`lrbench.range_test`, 60 steps).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import lrbench
from lrbench.rangetest import range_test
from lrbench.study import StudyConfig, tune
from lrbench.tasks import load_task

TASKS: dict[str, dict[str, Any]] = {
    "smollm2-lora": {
        "task": "hf-causal-lm",
        "params": {"max_length": 64, "max_records": 160, "evaluations": 2},
        "steps": 20,
        "folklore": 2e-4,
    },
    "minilm-cls": {
        "task": "minilm-cls",
        "params": {"evaluations": 2},
        "steps": 60,
        "folklore": 2e-5,
    },
}
SEEDS = (0, 1)


class Runs:
    """Single runs (policy, params, seed) -> final metrics, kept in a JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: dict[str, dict[str, float]] = (
            json.loads(path.read_text()) if path.exists() else {}
        )

    def metrics(self, key: str, task: str, params: dict, policy: str, steps: int, seed: int):
        name = f"{key}|{policy}|{json.dumps(params, sort_keys=True)}|{seed}"
        if name not in self.done:
            resolved = load_task(task, params)
            trial = lrbench.Trial(
                policy=policy, total_steps=steps, seed=seed, params=resolved.params
            )
            try:
                self.done[name] = dict(resolved.function(trial))
            except lrbench.Diverged:
                self.done[name] = {}
            self.path.write_text(json.dumps(self.done, indent=1))
        return self.done[name]


def seed_mean(runs: Runs, key: str, spec: dict, policy: str, metric: str, **params: Any):
    values = [
        runs.metrics(
            key, spec["task"], {**spec["params"], **params}, policy, spec["steps"], s
        ).get(metric, math.nan)
        for s in SEEDS
    ]
    return sum(values) / len(values)


def study(key: str, spec: dict, out: Path, name: str, **fields: Any):
    config = StudyConfig(
        task=spec["task"], params=spec["params"], total_steps=spec["steps"], **fields
    )
    return tune(config, name=f"{key}-{name}", db=f"sqlite:///{out / f'{key}-{name}.db'}")


def gap(score: float, best: float, maximise: bool) -> float:
    """How far below the oracle, in percent of the oracle's score (positive: worse)."""
    return 100 * ((best - score) if maximise else (score - best)) / abs(best)


def bench(key: str, out: Path) -> None:
    spec = TASKS[key]
    runs = Runs(out / f"{key}-runs.json")
    started = time.perf_counter()
    oracle = study(
        key, spec, out, "oracle", policies=("fixed", "cosine"), strategy="grid",
        trials=16, seeds=2,
    )  # fmt: skip
    best = oracle.best
    assert best is not None
    metric, maximise = best.metric, oracle.study.mode == "max"
    steps = spec["steps"]
    warmup = max(1, round(0.03 * steps))
    rows = [("oracle (16 configs x 2 seeds)", best.policy, best.mean, oracle.full_runs)]

    on_grid = {s.policy: s.mean for s in oracle.leaderboard if s.seeds == len(SEEDS)}

    def scored(label: str, policy: str, cost: float, **params: Any) -> None:
        score = on_grid.get(policy) if not params else None
        if score is None:
            score = seed_mean(runs, key, spec, policy, metric, **params)
        rows.append((label, policy, score, cost))

    for name, (label, fields) in {
        "bayes": ("LRBench++ bayes, 3 trials", {"strategy": "bayes", "trials": 3}),
        "topk": ("LRBench++ topk, 3 trials", {"strategy": "topk", "trials": 3}),
        "bracket": ("LRBench++ bracket + 2 cosine", {
            "strategy": "grid", "trials": 2, "bracket": True, "policies": ("cosine",)
        }),
        "bracket-families": ("LRBench++ bracket + fixed and cosine", {
            "strategy": "grid", "trials": 2, "bracket": True, "policies": ("fixed", "cosine")
        }),
    }.items():  # fmt: skip
        result = study(key, spec, out, name, **fields)
        assert result.best is not None
        scored(label, result.best.policy, result.full_runs)
    folklore = f"cosine(lr={spec['folklore']},total_steps={steps},warmup_steps={warmup})"
    scored(f"folklore {spec['folklore']:g} cosine 3% warmup", folklore, 0.0)
    scored("Prodigy (lr 1, cosine)", f"cosine(lr=1.0,total_steps={steps})", 1.0,
           optimizer="prodigy")  # fmt: skip
    schedule_free = f"warmup(policy=fixed(lr=0.0025),warmup_steps={max(1, round(0.05 * steps))})"
    scored("Schedule-Free AdamW (2.5e-3)", schedule_free, 1.0, optimizer="schedule_free")

    print(f"\n## {key}: {spec['task']} {spec['params']}, {steps} steps, {metric} "
          f"({'higher' if maximise else 'lower'} is better), mean of seeds 0 and 1")  # fmt: skip
    print(f"| method | configuration | {metric} | gap to oracle | cost (full runs) |")
    print("|---|---|---|---|---|")
    for label, policy, score, cost in rows:
        print(f"| {label} | `{policy}` | {score:.4f} | {gap(score, best.mean, maximise):+.2f}% "
              f"| {cost:.2f} |")  # fmt: skip

    sweep = range_test(
        spec["task"], params=spec["params"], lr_min=1e-7, lr_max=1.0, steps=60
    )  # fmt: skip
    print(f"\nrange test (60 steps, 1e-7 -> 1): oracle's best LR {best.lr:.3g}")
    print("| rule | suggested LR | over the oracle's |")
    print("|---|---|---|")
    picks = {**sweep.candidates, "suggestion (valley, the default)": sweep.suggestion}
    if sweep.range is not None:
        picks["lowest loss (the bracket's centre)"] = sweep.range[1]
    for rule, lr in picks.items():
        shown = "none" if lr is None else f"{lr:.3g} | {lr / best.lr:.3g}x"
        print(f"| {rule} | {shown} |")
    print(f"\n({time.perf_counter() - started:.0f} s for {key})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=sorted(TASKS), action="append")
    parser.add_argument("--out", type=Path, default=Path("bench-output/finetune"))
    parser.add_argument("--quick", action="store_true", help="a few steps, to check it runs")
    args = parser.parse_args()
    if args.quick:
        for spec in TASKS.values():
            spec["steps"] = 6
        args.out = args.out / "quick"
    args.out.mkdir(parents=True, exist_ok=True)
    for key in args.task or sorted(TASKS, reverse=True):
        bench(key, args.out)


if __name__ == "__main__":
    main()
