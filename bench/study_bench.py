"""Study benchmarks: the overhead of a study over bare training, and the process pool.

    python bench/study_bench.py [--quick]

1. A 20-trial grid study on `digits-mlp` (in-process, SQLite) against the same 20 training runs
   called in a bare loop, at two trial lengths: the study's overhead (database writes of every
   trial and reported point, bookkeeping) in percent.
2. The long study with 2 worker processes against 1: in-process with torch's default threads,
   in-process with one thread (the serial baseline), and 2 processes of one thread each (2 cores:
   expect close to 2x over the serial baseline, less the workers' start-up of a few seconds).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import optuna
import torch

from lrbench.search import make_policy
from lrbench.search.grid import grid
from lrbench.study import StudyConfig, tune
from lrbench.tasks import load_task
from lrbench.trial import Trial

optuna.logging.set_verbosity(optuna.logging.WARNING)  # the bench decides what it logs


def bare_loop(config: StudyConfig) -> float:
    """The study's training runs, called directly with no store and no study."""
    spec = load_task(config.task, config.params)
    steps = config.total_steps or 0
    candidates = grid(list(config.policies), config.lr_min, config.lr_max, config.trials)
    start = time.perf_counter()
    for candidate in candidates:
        policy = make_policy(candidate.template, candidate.lr, steps)
        spec.function(Trial(policy=policy, total_steps=steps, params=spec.params))
    return time.perf_counter() - start


def study_time(config: StudyConfig, folder: Path, name: str, workers: int) -> float:
    start = time.perf_counter()
    tune(config, name=name, db=f"sqlite:///{folder / f'{name}.db'}", workers=workers)
    return time.perf_counter() - start


def overhead(config: StudyConfig, folder: Path, repeats: int) -> tuple[float, float]:
    """Fastest bare loop and fastest study over `repeats` interleaved runs of each."""
    bare_times, study_times = [], []
    for repeat in range(repeats):  # interleaved: the machine's noise hits both alike
        bare_times.append(bare_loop(config))
        study_times.append(study_time(config, folder, f"o{config.total_steps}-{repeat}", 1))
    return min(bare_times), min(study_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    short = StudyConfig(
        task="digits-mlp",
        policies=("fixed", "step", "cosine", "one_cycle"),
        lr_min=1e-3,
        lr_max=0.5,
        trials=20,
        total_steps=100 if args.quick else 600,
    )
    long = dataclasses.replace(short, total_steps=300 if args.quick else 3000)
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder)
        bare_loop(short)  # warm-up: imports, data, kernels
        rows = [
            (short, *overhead(short, path, 1 if args.quick else 5)),
            (long, *overhead(long, path, 1 if args.quick else 2)),
        ]
        torch.set_num_threads(1)
        serial = study_time(long, path, "pool-1-thread", 1)
        torch.set_num_threads(threads)
        two = study_time(long, path, "pool-2", 2)
    print(
        f"\n## Study overhead: 20 trials of digits-mlp, in-process (torch threads: {threads}, "
        f"cores: {os.cpu_count()})\n"
    )
    print(
        "Fastest of 5 (short) or 2 (long) interleaved runs each; this shared machine's noise "
        "is about +-20% per run.\n"
    )
    print("| trial length | 20 runs in a bare loop | the same as a stored study | overhead |")
    print("|---|---:|---:|---:|")
    for config, bare, study in rows:
        per_trial = bare / config.trials
        print(
            f"| {config.total_steps} steps ({per_trial:.2f} s) | {bare:.2f} s | {study:.2f} s "
            f"| {100 * (study - bare) / bare:+.1f}% |"
        )
    print(f"\n## Process pool: 20 trials x {long.total_steps} steps, 1 worker against 2\n")
    print("| workers | wall time | speed-up over 1 worker, 1 thread |")
    print("|---|---:|---:|")
    print(f"| 1, in-process, 1 torch thread | {serial:.2f} s | 1.00x |")
    print(
        f"| 1, in-process, {threads} torch threads | {rows[1][2]:.2f} s | "
        f"{serial / rows[1][2]:.2f}x |"
    )
    print(f"| 2 processes, 1 torch thread each | {two:.2f} s | {serial / two:.2f}x |")


if __name__ == "__main__":
    main()
