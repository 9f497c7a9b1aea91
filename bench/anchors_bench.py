"""The anchors table: LRBench++ at the cost of one to three runs against a dense-grid oracle,
the one-run alternatives (LR-free optimizers, torch-lr-finder, folklore) and Optuna used
directly, on every built-in task.

    python bench/anchors_bench.py [--task digits-mlp ...] [--out DIR] [--quick]

Every method ends with one configuration; it is scored by training that configuration with
seeds 0, 1 and 2 (mean of the task's metric) and by what it spent choosing, in full runs
(updates over the task's budget; the range test and pruned trials count). The gap is to the
oracle, the best configuration of a grid of `fixed` and `cosine` x the task's LR range at the
same three seeds. Methods that search run `repeats` times with their own seed (each in its own
database, so nothing is known in advance); the table gives the means over the repeats.

- LRBench++ at <= 3 runs: range test + grid (one `fixed`, one `cosine`); `bayes` (3 trials);
  successive halving of 9 candidates capped at 3 runs; the range test + predicted schedules
  (the loss law fitted on a half-length constant and cosine run, the best predicted trained).
- LRBench++ at <= 1.5 runs: range test + one cosine run (`--max-cost 1.5`); horizon transfer
  from WSD branches at 1/32, 1/16, 1/8 of the run to one full run (`--max-cost 1.5`; with the
  range test's bracket it is in the <= 3 group). Where 1/32 of the run is under 5 updates the
  horizons are stretched (minilm-cls: 1/12, 1/6, 1/3); SmolLM2's 20 updates have no room.
- One run: Prodigy and D-Adaptation (cosine, LR multiplier 1), Schedule-Free AdamW (its default
  2.5e-3, 5% warmup); torch-lr-finder's suggestion (as long a sweep as LRBench++'s bracket),
  then one cosine run; the folklore default (no choosing at all).
- Optuna alone: TPE over family x log LR, 3 trials; ASHA (successive halving pruner, rate 3,
  rungs from 1/9 of the run, random sampler) until 1.5 runs are spent: the trial running when
  the budget runs out is stopped there, as a pruned trial.

On minilm-cls (about a minute a run on 2 cores) the oracle has 6 LRs per family, and `bayes`
and successive halving are left out (docs/benchmarks.md has them from issue 10, 2 seeds).

Results are kept in DIR (study databases and a JSON of single runs): running the command again
resumes instead of training again.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import optuna

import finetune_bench  # its cache of single runs and its gap, shared by both benches
import lrbench
from lrbench.search.bracket import bracket_steps
from lrbench.study import StudyConfig, tune
from lrbench.study.objectives import HorizonTransfer, PredictedSchedules
from lrbench.tasks import load_task

optuna.logging.set_verbosity(optuna.logging.WARNING)

SEEDS = (0, 1, 2)
FINDER_MIN_STEPS = 32  # torch-lr-finder drops 10 + 5 points, then needs 17 to suggest
UNREACHABLE = {"max": 1e9, "min": -1e9}  # successive halving alone, no stop at a target
TASKS: dict[str, dict[str, Any]] = {
    "digits-mlp": {
        "task": "digits-mlp", "params": {}, "steps": 300, "grid": 16, "repeats": 3, "loss": "loss",
        "folklore": ("SGD 0.1, cosine", "cosine(lr=0.1,total_steps={steps})"),
    },
    "charlm": {
        "task": "charlm", "params": {}, "steps": 120, "grid": 12, "repeats": 3,
        "folklore": ("AdamW 3e-4, cosine, 3% warmup",
                     "cosine(lr=0.0003,total_steps={steps},warmup_steps={warmup})"),
    },
    "minilm-cls": {
        "task": "minilm-cls", "params": {"evaluations": 2}, "steps": 60, "grid": 6,
        "repeats": 1, "loss": "eval_loss", "skip": ("bayes", "halving"),
        "folklore": ("AdamW 2e-5, cosine, 3% warmup",
                     "cosine(lr=2e-05,total_steps={steps},warmup_steps={warmup})"),
    },
    "smollm2-lora": {
        "task": "hf-causal-lm", "params": {"max_length": 64, "max_records": 160, "evaluations": 2},
        "steps": 20, "grid": 8, "repeats": 1,
        "folklore": ("LoRA 2e-4, cosine, 3% warmup",
                     "cosine(lr=0.0002,total_steps={steps},warmup_steps={warmup})"),
    },
}  # fmt: skip

#: LRBench++'s methods: key -> (label, most runs it may spend, StudyConfig fields).
LRBENCH: dict[str, tuple[str, float, dict[str, Any]]] = {
    "bracket-grid": ("range test + grid, fixed and cosine (2)", 3, {
        "strategy": "grid", "trials": 2, "bracket": True, "policies": ("fixed", "cosine"),
    }),
    "bayes": ("bayes, 3 trials", 3, {"strategy": "bayes", "trials": 3}),
    "halving": ("successive halving of 9, capped at 3 runs", 3, {
        "strategy": "random", "trials": 9, "objective": "cost", "max_cost": 3.0,
    }),
    "schedule": ("range test + predicted schedules (half-length fits)", 3, {
        "strategy": "grid", "trials": 1, "bracket": True, "policies": ("cosine", "wsd"),
        "objective": PredictedSchedules(fit_fraction=0.5),
    }),
    "horizon-bracket": ("range test + horizon transfer, WSD branches", 3, {
        "strategy": "grid", "trials": 3, "bracket": True, "policies": ("wsd",),
        "objective": HorizonTransfer(horizons=(1 / 32, 1 / 16, 1 / 8), branch=True),
    }),
    "bracket-1": ("range test + 1 cosine run, capped at 1.5", 1.5, {
        "strategy": "grid", "trials": 1, "bracket": True, "policies": ("cosine",),
        "max_cost": 1.5,
    }),
    "horizon": ("horizon transfer, WSD branches, capped at 1.5", 1.5, {
        "strategy": "grid", "trials": 3, "policies": ("wsd",), "max_cost": 1.5,
        "objective": HorizonTransfer(horizons=(1 / 32, 1 / 16, 1 / 8), branch=True),
    }),
}  # fmt: skip


class Bench:
    """One task's anchors: the oracle, then every method scored against it."""

    def __init__(self, key: str, out: Path) -> None:
        self.key, self.out = key, out
        self.spec = TASKS[key]
        self.steps = self.spec["steps"]
        self.runs = finetune_bench.Runs(out / f"{key}-runs.json")
        resolved = load_task(self.spec["task"], self.spec["params"])
        assert resolved.builtin is not None
        self.metric, self.mode = resolved.metrics[0], resolved.builtin.mode
        self.lr_range = resolved.builtin.lr_range_for(resolved.params)
        self.oracle = self.study("oracle", strategy="grid", trials=2 * self.spec["grid"],
                                 policies=("fixed", "cosine"), seeds=len(SEEDS))  # fmt: skip
        self.on_grid = {s.policy: s.mean for s in self.oracle.leaderboard if s.seeds == 3}
        assert self.oracle.best is not None
        self.best = self.oracle.best.mean

    def study(self, name: str, **fields: Any):
        if fields.get("objective") == "cost":
            fields.setdefault("target", UNREACHABLE[self.mode])
        config = StudyConfig(
            task=self.spec["task"], params=self.spec["params"], total_steps=self.steps,
            **fields,
        )  # fmt: skip
        db = f"sqlite:///{self.out / f'{self.key}-{name}.db'}"
        return tune(config, name=f"{self.key}-{name}", db=db)

    def score(self, policy: str, **params: Any) -> float:
        """The mean metric of `policy` over the seeds (nan where a seed diverged)."""
        if not params and policy in self.on_grid:
            return self.on_grid[policy]
        task, settings = self.spec["task"], {**self.spec["params"], **params}
        values = [
            self.runs.metrics(self.key, task, settings, policy, self.steps, seed) for seed in SEEDS
        ]
        return statistics.fmean(v.get(self.metric, math.nan) for v in values)

    def gap(self, score: float) -> float:
        """Percent of the oracle's score lost (positive: worse than the oracle)."""
        return finetune_bench.gap(score, self.best, self.mode == "max")

    def lrbench_rows(self) -> list[tuple[str, str, float, float, float]]:
        rows = []
        for key, (label, limit, fields) in LRBENCH.items():
            if key in self.spec.get("skip", ()):
                continue
            picks, costs = [], []
            if isinstance(fields.get("objective"), PredictedSchedules) and self.mode == "max":
                # the loss law predicts a loss: fit and rank on the task's loss, score as usual
                fields = {**fields, "metric": self.spec["loss"], "mode": "min"}
            if isinstance(fields.get("objective"), HorizonTransfer):
                horizons = horizons_for(self.steps)
                if horizons is None:
                    print(f"  {key}: {self.steps} updates are too few for short horizons")
                    continue
                objective = HorizonTransfer(horizons=horizons, branch=True)
                fields = {**fields, "objective": objective}
            for repeat in range(self.spec["repeats"]):
                try:
                    result = self.study(f"{key}-{repeat}", seed=repeat, **fields)
                except lrbench.ConfigError as refused:
                    print(f"  {key}: refused: {refused}")
                    break
                assert result.best is not None, f"{key}: no finished trial"
                picks.append(self.score(result.best.policy))
                costs.append(result.full_runs)
            if not picks:
                continue
            policy = result.best.policy
            rows.append(
                (f"LRBench++ {label}", policy, *self.mean_gap(picks), statistics.fmean(costs))
            )
            if statistics.fmean(costs) > limit + 1e-9:
                print(f"  note: {key} spent {statistics.fmean(costs):.2f} runs, over {limit}")
        return rows

    def mean_gap(self, scores: list[float]) -> tuple[float, float]:
        return statistics.fmean(scores), statistics.fmean(self.gap(s) for s in scores)

    def one_run_rows(self) -> list[tuple[str, str, float, float, float]]:
        warmup = max(1, round(0.03 * self.steps))
        label, folklore = self.spec["folklore"]
        folklore = folklore.format(steps=self.steps, warmup=warmup)
        cosine = f"cosine(lr=1.0,total_steps={self.steps})"
        free = f"warmup(policy=fixed(lr=0.0025),warmup_steps={max(1, round(0.05 * self.steps))})"
        rows = [(f"folklore: {label}", folklore, *self.mean_gap([self.score(folklore)]), 0.0)]
        for name, policy, optimizer in (
            ("Prodigy (LR multiplier 1, cosine)", cosine, "prodigy"),
            ("D-Adaptation Adam (LR multiplier 1, cosine)", cosine, "dadaptation"),
            ("Schedule-Free AdamW (2.5e-3, 5% warmup)", free, "schedule_free"),
        ):
            score = self.score(policy, optimizer=optimizer)
            rows.append((name, f"{policy} [{optimizer}]", *self.mean_gap([score]), 1.0))
        rows.append(self.lr_finder_row())
        return rows

    def lr_finder_row(self) -> tuple[str, str, float, float, float]:
        # as long as LRBench++'s bracketing sweep, and the 17+ points torch-lr-finder needs
        steps = max(bracket_steps(self.steps), FINDER_MIN_STEPS)
        lrs = self.cached("lr-finder", lambda: [lr_finder_lr(self.key, self.lr_range, steps, s)
                                                for s in range(self.spec["repeats"])])  # fmt: skip
        policies = [f"cosine(lr={lr!r},total_steps={self.steps})" for lr in lrs]
        label = f"torch-lr-finder ({steps}-step sweep) + 1 cosine run"
        return (label, policies[-1], *self.mean_gap([self.score(p) for p in policies]),
                steps / self.steps + 1)  # fmt: skip

    def optuna_rows(self) -> list[tuple[str, str, float, float, float]]:
        rows = []
        for name, label in (("tpe", "Optuna TPE, 3 trials"),
                            ("asha", "Optuna ASHA (random), until 1.5 runs")):  # fmt: skip
            found = self.cached(f"optuna-{name}", lambda n=name: [
                self.optuna_search(n, repeat) for repeat in range(self.spec["repeats"])
            ])  # fmt: skip
            scores = [self.score(policy) for policy, _ in found]
            cost = statistics.fmean(c for _, c in found)
            rows.append((label, found[-1][0], *self.mean_gap(scores), cost))
        return rows

    def optuna_search(self, method: str, repeat: int) -> tuple[str, float]:
        """Optuna alone over family x log LR: the best finished configuration, and the runs
        it spent (pruned trials count the updates they trained)."""
        resolved = load_task(self.spec["task"], self.spec["params"])
        spent = [0]
        budget = 3 * self.steps if method == "tpe" else 1.5 * self.steps
        direction = "maximize" if self.mode == "max" else "minimize"
        if method == "tpe":
            study = optuna.create_study(
                direction=direction, sampler=optuna.samplers.TPESampler(seed=repeat)
            )
        else:
            pruner = optuna.pruners.SuccessiveHalvingPruner(
                min_resource=max(1, self.steps // 9), reduction_factor=3
            )
            study = optuna.create_study(
                direction=direction, pruner=pruner,
                sampler=optuna.samplers.RandomSampler(seed=repeat),
            )  # fmt: skip

        def objective(trial: optuna.Trial) -> float:
            family = trial.suggest_categorical("family", ["fixed", "cosine"])
            lr = trial.suggest_float("lr", *self.lr_range, log=True)
            policy = f"{family}(lr={lr!r})" if family == "fixed" else (
                f"cosine(lr={lr!r},total_steps={self.steps})")  # fmt: skip
            trial.set_user_attr("policy", policy)

            def should_prune(step: int, metrics: Any) -> bool:
                if method == "tpe" or self.metric not in metrics:
                    return False
                if spent[0] + step >= budget and step < self.steps:
                    return True  # the budget is spent: stopped like a pruned trial
                trial.report(float(metrics[self.metric]), step)
                return trial.should_prune()

            run = lrbench.Trial(policy=policy, total_steps=self.steps, seed=0,
                                params=resolved.params, should_prune=should_prune)  # fmt: skip
            try:
                return float(resolved.function(run)[self.metric])
            except lrbench.TrialPruned as pruned:
                raise optuna.TrialPruned() from pruned
            except lrbench.Diverged:
                return UNREACHABLE["max" if self.mode == "min" else "min"]
            finally:
                spent[0] += run.cost()["steps"]

        while spent[0] < budget - 1e-9:
            study.optimize(objective, n_trials=1)
        return study.best_trial.user_attrs["policy"], spent[0] / self.steps

    def cached(self, name: str, compute: Callable[[], Any]) -> Any:
        path = self.out / f"{self.key}-{name}.json"
        if not path.exists():
            path.write_text(json.dumps(compute()))
        return json.loads(path.read_text())

    def table(self) -> None:
        oracle = self.oracle.best
        assert oracle is not None
        rows = [(f"oracle ({self.spec['grid']} LRs x fixed, cosine x 3 seeds)", oracle.policy,
                 self.best, 0.0, self.oracle.full_runs)]  # fmt: skip
        rows += self.lrbench_rows() + self.one_run_rows() + self.optuna_rows()
        better = "higher" if self.mode == "max" else "lower"
        print(f"\n## {self.key}: {self.spec['task']} {self.spec['params']}, {self.steps} steps, "
              f"{self.metric} ({better} is better), mean of seeds 0-2; searches repeated "
              f"{self.spec['repeats']}x")  # fmt: skip
        print(f"| method | configuration (last repeat) | {self.metric} | gap | cost (runs) |")
        print("|---|---|---:|---:|---:|")
        for label, policy, score, gap, cost in rows:
            print(f"| {label} | `{policy}` | {score:.4f} | {gap:+.2f}% | {cost:.2f} |")
        sys.stdout.flush()


def horizons_for(steps: int) -> tuple[float, ...] | None:
    """1/32, 1/16 and 1/8 of the run, lengthened where the shortest would have fewer than 5
    updates; None where that leaves no horizon below half the run."""
    stretch = max(1.0, 5 / (steps / 32))
    horizons = tuple(stretch * h for h in (1 / 32, 1 / 16, 1 / 8))
    return horizons if horizons[-1] <= 0.5 else None


def lr_finder_lr(key: str, lr_range: tuple[float, float], steps: int, seed: int) -> float:
    """torch-lr-finder's suggestion (steepest descent) on the task's model and batches."""
    import torch
    from torch_lr_finder import LRFinder

    model, batches, loss = finder_setup(key, seed)
    trainable = [p for p in model.parameters() if p.requires_grad]
    finder = LRFinder(model, torch.optim.AdamW(trainable, lr=lr_range[0]), loss, device="cpu")
    if key == "digits-mlp":  # the task's optimizer
        finder.optimizer = torch.optim.SGD(trainable, lr=lr_range[0], momentum=0.9)
    loader = torch.utils.data.DataLoader(batches, batch_size=None)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder.range_test(loader, end_lr=lr_range[1], num_iter=steps, step_mode="exp")
        _, suggestion = finder.plot(suggest_lr=True)
    return float(suggestion)


def finder_setup(key: str, seed: int) -> tuple[Any, list, Any]:
    """(model as `model(inputs) -> outputs`, [(inputs, labels)], loss) of a built-in task."""
    import matplotlib
    import torch

    matplotlib.use("Agg")
    torch.manual_seed(seed)
    if key in ("smollm2-lora", "minilm-cls"):
        import lr_finder_bench  # the fine-tuning tasks' models, as torch-lr-finder calls them

        model, pairs, loss = lr_finder_bench.BUILDERS[key]()
        return lr_finder_bench.Logits(model), pairs, loss
    params = load_task(key).params
    if key == "digits-mlp":
        from lrbench.tasks.digits import _data

        train_x, train_y, _, _ = _data()
        hidden = int(params["hidden"])
        model = torch.nn.Sequential(
            torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10)
        )
        order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed))
        size = int(params["batch_size"])
        batches = [(train_x[order[i : i + size]], train_y[order[i : i + size]])
                   for i in range(0, len(order) - size + 1, size)]  # fmt: skip
        return model, batches, torch.nn.CrossEntropyLoss()
    from lrbench.tasks.charlm import CharLM, _windows, finetuning_text

    task = CharLM()
    task.prepare(params)
    model = task._model(params)
    model.load_state_dict(torch.load(task._checkpoint(params), weights_only=True))
    context, size = int(params["context"]), int(params["batch_size"])
    text = torch.tensor(list(finetuning_text()), dtype=torch.long)
    train = text[: int(len(text) * 0.9)]
    generator = torch.Generator().manual_seed(seed)
    batches = [_windows(train, torch.randint(0, len(train) - context - 1, (size,),
                                             generator=generator), context)
               for _ in range(200)]  # fmt: skip

    def next_byte_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(logits.reshape(-1, 256), targets.reshape(-1))

    return model, batches, next_byte_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=sorted(TASKS), action="append")
    parser.add_argument("--out", type=Path, default=Path("bench-output/anchors"))
    parser.add_argument("--quick", action="store_true", help="a few steps, to check it runs")
    args = parser.parse_args()
    if args.quick:
        for spec in TASKS.values():
            spec.update(steps=160, grid=3, repeats=1)
        args.out = args.out / "quick"
    args.out.mkdir(parents=True, exist_ok=True)
    for key in args.task or list(TASKS):
        started = time.perf_counter()
        Bench(key, args.out).table()
        print(f"({time.perf_counter() - started:.0f} s for {key})")


if __name__ == "__main__":
    main()
