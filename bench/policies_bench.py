"""Benchmarks of the policy library and the Monitor, each side by side with its reference.

    python bench/policies_bench.py            # full run, figures for docs/benchmarks.md
    python bench/policies_bench.py --quick    # smaller sizes, for a smoke test

1. Per-step cost of the Monitor against a bare training loop and against torch's own
   `CosineAnnealingLR` and `LambdaLR`, on a small MLP (and the bookkeeping alone, no training).
2. `values()` over 10 million steps for each closed-form policy, against a Python loop of
   `policy(t)` (timed on fewer steps and scaled per step).
3. Memory of the Monitor's history after 10 million steps.
"""

from __future__ import annotations

import argparse
import math
import time
import tracemalloc
import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch.optim import lr_scheduler

import lrbench
from lrbench.policies import get_policy_class, policy_names

torch.set_num_threads(1)
# The bookkeeping-alone timing steps schedulers without an optimizer update, on purpose.
warnings.filterwarnings("ignore", message="Detected call of")


def best_time(function: Callable[[], object], repeats: int) -> float:
    """Fastest wall time of `function()` over `repeats` calls, in seconds.

    The minimum is the least noisy estimate on a shared machine: noise only ever adds time.
    """
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def monitor_overhead(steps: int, repeats: int) -> None:
    """Training step with no scheduler, with the Monitor, and with torch's schedulers."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    )
    x, y = torch.randn(64, 64), torch.randint(0, 10, (64,))
    total = steps * (repeats + 1)

    def loop(
        after_step: Callable[[torch.Tensor], object], optimizer: torch.optim.Optimizer
    ) -> Callable[[], None]:
        def run() -> None:
            for _ in range(steps):
                loss = torch.nn.functional.cross_entropy(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                after_step(loss)

        return run

    def make(kind: str) -> tuple[Callable[[torch.Tensor], object], torch.optim.Optimizer]:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        if kind == "bare":
            return (lambda loss: None), optimizer
        if kind == "lrbench Monitor":
            monitor = lrbench.Monitor(f"cosine(lr=0.01,total_steps={total})", optimizer)
            return (lambda loss: monitor.step(loss=loss)), optimizer
        if kind == "torch CosineAnnealingLR":
            cosine = lr_scheduler.CosineAnnealingLR(optimizer, total)
            return (lambda loss: cosine.step()), optimizer
        lam = lr_scheduler.LambdaLR(
            optimizer, lambda t: 0.5 * (1 + math.cos(math.pi * min(t, total) / total))
        )
        return (lambda loss: lam.step()), optimizer

    kinds = ["bare", "lrbench Monitor", "torch CosineAnnealingLR", "torch LambdaLR"]
    loops = {kind: loop(*make(kind)) for kind in kinds}
    for run in loops.values():
        run()  # warm-up
    samples: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(repeats):  # interleaved, so machine noise hits every variant alike
        for kind, run in loops.items():
            start = time.perf_counter()
            run()
            samples[kind].append((time.perf_counter() - start) / steps)
    bare = min(samples["bare"])

    print("\n## 1. Per-step cost on a 64-256-256-10 MLP, batch 64, SGD\n")
    print(
        f"Whole training step, fastest of {repeats} interleaved blocks of {steps} steps "
        "(differences under ~1% are machine noise):\n"
    )
    print("| loop | us / step | over bare step |")
    print("|---|---:|---:|")
    for kind in kinds:
        per_step = min(samples[kind])
        print(f"| {kind} | {per_step * 1e6:.1f} | {100 * (per_step - bare) / bare:+.2f}% |")

    print(
        f"\nThe LR bookkeeping alone, as a share of the bare step ({bare * 1e6:.0f} us); "
        "the Monitor reads the loss tensor too:\n"
    )
    print("| scheduler | us / step | share of bare step |")
    print("|---|---:|---:|")
    loss = torch.tensor(1.0)
    for kind in kinds[1:]:
        after, _ = make(kind)
        seconds = best_time(
            lambda after=after: [after(loss) for _ in range(steps * 10)],
            repeats,  # type: ignore[misc]
        ) / (steps * 10)
        print(f"| {kind} | {seconds * 1e6:.2f} | {100 * seconds / bare:.2f}% |")


def example_policy(name: str, total: int) -> lrbench.Policy:
    """A valid instance of each closed-form policy over `total` steps."""
    specs = {
        "fixed": "fixed(lr=0.1,warmup_steps=1000)",
        "step": "step(lr=0.1,gamma=0.5,step_size=100000)",
        "multistep": "multistep(lr=0.1,gamma=0.1,milestones=[5000000,8000000])",
        "exp": "exp(lr=0.1,gamma=0.9999995)",
        "inv": "inv(lr=0.1,gamma=0.0001,power=0.75)",
        "poly": f"poly(lr=0.1,total_steps={total},power=2)",
        "linear": f"linear(lr=0.1,total_steps={total},warmup_steps=1000)",
        "cosine": f"cosine(lr=0.1,min_lr=0.001,total_steps={total},warmup_steps=1000)",
        "sigmoid": f"sigmoid(lr=0.1,gamma=-0.000001,center={total // 2})",
        "inverse_sqrt": "inverse_sqrt(lr=0.1,warmup_steps=1000)",
        "wsd": f"wsd(lr=0.1,min_lr=0.001,total_steps={total},warmup_steps=1000,"
        f"decay_steps={total // 5},decay_shape=sqrt)",
        "cosine_restarts": "cosine_restarts(lr=0.1,min_lr=0.001,period=10000,period_mult=2)",
        "one_cycle": f"one_cycle(max_lr=0.1,total_steps={total})",
        "warmup": "warmup(policy=triangle(min_lr=0.001,max_lr=0.1,half_cycle=5000),"
        "warmup_steps=1000)",
        "sequence": "sequence(stages=[fixed(lr=0.1),cosine(lr=0.05,total_steps=1000000)],"
        "boundaries=[100000])",
    }
    if name in specs:
        return lrbench.parse(specs[name])
    cls = get_policy_class(name)
    gamma = ",gamma=0.9999995" if "gamma" in cls.param_specs() else ""
    return lrbench.parse(f"{name}(min_lr=0.001,max_lr=0.1,half_cycle=5000{gamma})")


def values_speed(total: int, loop_steps: int) -> None:
    """`values()` over `total` steps for each closed-form policy, against a Python loop."""
    print(f"\n## 2. `values()` over {total:,} steps, per closed-form policy\n")
    print(
        f"(The Python loop of `policy(t)` is timed on {loop_steps:,} steps and scaled to "
        f"{total:,}.)\n"
    )
    print("| policy | values() s | Python loop s (scaled) | speed-up |")
    print("|---|---:|---:|---:|")
    steps = np.arange(total)
    slowest = 0.0
    for name in policy_names():
        if get_policy_class(name).adaptive:
            continue
        policy = example_policy(name, total)
        vectorised = best_time(lambda policy=policy: policy.values(steps), 3)  # type: ignore[misc]
        start = time.perf_counter()
        for t in range(loop_steps):
            policy(t)
        looped = (time.perf_counter() - start) / loop_steps * total
        slowest = max(slowest, vectorised)
        print(f"| {name} | {vectorised:.3f} | {looped:.1f} | {looped / vectorised:,.0f}x |")
    print(f"\nSlowest `values()` over {total:,} steps: {slowest:.3f} s (target: under 1 s).")


def history_memory(total: int) -> None:
    """Memory the Monitor holds after `total` steps, against its size after 1,000 steps."""

    class NoOptimizer:
        def __init__(self) -> None:
            self.param_groups = [{"lr": 0.0}]

    def held_after(steps: int) -> tuple[int, int]:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        monitor = lrbench.Monitor("cosine(lr=0.1,total_steps=10000000)", NoOptimizer())
        for step in range(steps):
            monitor.step(loss=1.0 + (step % 7) * 0.01)
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        return held, len(monitor.history.step)

    print("\n## 3. Memory held by a Monitor (history of 4,096 rows) after N steps\n")
    print("| steps | traced memory held | history rows |")
    print("|---:|---:|---:|")
    for steps in (1_000, total):
        held, rows = held_after(steps)
        print(f"| {steps:,} | {held / 1024:.1f} KiB | {rows:,} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = parser.parse_args()
    big = 100_000 if args.quick else 10_000_000
    print(
        f"# LRBench++ policy and Monitor benchmarks (torch {torch.__version__}, "
        f"numpy {np.__version__}, 1 torch thread)"
    )
    monitor_overhead(steps=200 if args.quick else 2000, repeats=3 if args.quick else 7)
    values_speed(total=big, loop_steps=2_000 if args.quick else 20_000)
    history_memory(total=big)


if __name__ == "__main__":
    main()
