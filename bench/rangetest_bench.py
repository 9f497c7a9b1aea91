"""The LR range test against torch-lr-finder's suggestion, both judged by a tuned optimum.

    python bench/rangetest_bench.py [--seeds 5]    (needs `pip install torch-lr-finder`)

On `digits-mlp`'s model and data (MLP 64-128-10, SGD with momentum 0.9, batches of 64), each
seed gives both finders the same freshly initialised model and the same sweep (1e-5 to 10
over 100 steps, exponential). The oracle is a dense grid study (32 LRs per family, full
training runs) giving the best LR for `fixed` and for `cosine`. Printed: each finder's
suggestion, its ratio to the oracle's best LRs (1.0 is perfect; the LR a user would train with),
and the steps each sweep spent. torch-lr-finder suggests the LR of the steepest loss
gradient (its `plot(suggest_lr=True)`); ours is the valley rule's pick (see
`lrbench.rangetest`).
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import optuna
import torch
from sklearn.datasets import load_digits

from lrbench.rangetest import RULES, range_test_model
from lrbench.study import StudyConfig, tune

optuna.logging.set_verbosity(optuna.logging.WARNING)  # the bench decides what it logs

LR_MIN, LR_MAX, STEPS = 1e-5, 10.0, 100


def digits_loader() -> torch.utils.data.DataLoader:
    """The task's training split (the same fixed permutation), in batches of 64."""
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    y = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:1400]
    dataset = torch.utils.data.TensorDataset(x[order], y[order])
    return torch.utils.data.DataLoader(
        dataset, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0)
    )


def model_and_optimizer(seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
    )
    return model, torch.optim.SGD(model.parameters(), lr=LR_MIN, momentum=0.9)


def ours(seed: int, rule: str | None = None) -> tuple[float | None, int]:
    """Our combined suggestion, or one rule's candidate."""
    model, optimizer = model_and_optimizer(seed)
    result = range_test_model(
        model,
        optimizer,
        digits_loader(),
        lambda m, batch: torch.nn.functional.cross_entropy(m(batch[0]), batch[1]),
        lr_min=LR_MIN,
        lr_max=LR_MAX,
        steps=STEPS,
    )
    if rule is None:
        return result.suggestion, len(result.lrs)
    if rule == "lowest loss":  # the top of the recommended range, which --bracket centres on
        return (result.range[1] if result.range else None), len(result.lrs)
    return result.candidates[rule], len(result.lrs)


def torch_lr_finder(seed: int) -> tuple[float | None, int]:
    from torch_lr_finder import LRFinder

    model, optimizer = model_and_optimizer(seed)
    finder = LRFinder(model, optimizer, torch.nn.CrossEntropyLoss(), device="cpu")
    finder.range_test(digits_loader(), end_lr=LR_MAX, num_iter=STEPS)
    steps = len(finder.history["lr"])
    try:
        _, suggestion = finder.plot(suggest_lr=True)
    except RuntimeError:  # too few points left after the skipped ends
        suggestion = None
    finder.reset()
    return suggestion, steps


def oracle_best_lrs(folder: Path) -> dict[str, float]:
    best = {}
    for family in ("fixed", "cosine"):
        config = StudyConfig(
            task="digits-mlp", policies=(family,), lr_min=1e-3, lr_max=3.0, trials=32
        )
        result = tune(config, name=family, db=f"sqlite:///{folder / 'oracle.db'}")
        best[family] = result.best.lr
        print(f"oracle {family}: best LR {result.best.lr:.3g} (accuracy {result.best.mean:.4f})")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        best = oracle_best_lrs(Path(folder))
    header = (
        f"{'finder':<22} {'suggestion (median)':>20} {'/ best fixed':>13} "
        f"{'/ best cosine':>14} {'|log10 ratio| fixed':>20} {'steps':>6}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    finders = {
        "lrbench": ours,
        **{f"  rule {rule}": functools.partial(ours, rule=rule) for rule in RULES},
        "  LR of the lowest loss": functools.partial(ours, rule="lowest loss"),
        "torch-lr-finder": torch_lr_finder,
    }
    for name, finder in finders.items():
        runs = [finder(seed) for seed in range(args.seeds)]
        found = [s for s, _ in runs if s is not None]
        if not found:
            print(f"{name:<22} no suggestion")
            continue
        median = statistics.median(found)
        error = statistics.mean(abs(math.log10(s / best["fixed"])) for s in found)
        print(
            f"{name:<22} {median:>20.3g} {median / best['fixed']:>13.2f} "
            f"{median / best['cosine']:>14.2f} {error:>20.2f} "
            f"{statistics.mean(steps for _, steps in runs):>6.0f}"
            + (
                f"  ({args.seeds - len(found)} seeds without a suggestion)"
                if len(found) < len(runs)
                else ""
            )
        )


if __name__ == "__main__":
    main()
