"""`lrbench demo`: the README's main job.

Until tuning studies exist, it compares the built-in policies over one training horizon: a
figure (overlay and small multiples) and a table of LRs at milestones of the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich import box
from rich.table import Table

from lrbench.cli._common import FormatOption, OutputFormat, print_json, stderr, stdout

HELP = """Compare the built-in LR policies over one horizon: writes figures, prints a table.

Examples:

  lrbench demo

  lrbench demo -o out/ --steps 5000 --format json
"""


def demo_policies(total: int) -> list[str]:
    """Representative policies at the same peak LR, all over `total` steps."""
    warmup, half = max(total // 20, 1), max(total // 8, 1)
    return [
        "fixed(lr=0.1)",
        f"step(lr=0.1,gamma=0.5,step_size={max(total // 4, 1)})",
        f"multistep(lr=0.1,gamma=0.1,milestones=[{total // 2},{3 * total // 4}])",
        f"exp(lr=0.1,gamma={0.01 ** (1 / total):.6g})",
        f"linear(lr=0.1,total_steps={total},warmup_steps={warmup})",
        f"cosine(lr=0.1,min_lr=0.001,total_steps={total},warmup_steps={warmup})",
        f"wsd(lr=0.1,min_lr=0.001,total_steps={total},warmup_steps={warmup},"
        f"decay_steps={total // 5},decay_shape=sqrt)",
        f"inverse_sqrt(lr=0.1,warmup_steps={warmup})",
        f"one_cycle(max_lr=0.1,total_steps={total})",
        f"cosine_restarts(lr=0.1,min_lr=0.001,period={total // 7},period_mult=2)",
        f"triangle2(min_lr=0.001,max_lr=0.1,half_cycle={half})",
        f"sin_exp(min_lr=0.001,max_lr=0.1,half_cycle={half},gamma={0.05 ** (1 / total):.6g})",
    ]


def demo(
    output_dir: Annotated[
        Path, typer.Option("--output", "-o", help="Directory for the figures.")
    ] = Path("demo-output"),
    steps: Annotated[int, typer.Option("--steps", "-n", min=10, help="Horizon in steps.")] = 1000,
    output: FormatOption = OutputFormat.human,
) -> None:
    """Compare the built-in LR policies over one horizon."""
    from lrbench.viz.figures import schedule_curves, schedule_figure, schedule_grid_figure

    curves = schedule_curves(demo_policies(steps), steps)
    output_dir.mkdir(parents=True, exist_ok=True)
    overlay, grid = output_dir / "policies-overlay.png", output_dir / "policies-grid.png"
    schedule_figure(curves, log_y=True).savefig(overlay)
    schedule_grid_figure(curves).savefig(grid)
    marks = [0, steps // 10, steps // 4, steps // 2, 3 * steps // 4, steps - 1]
    rows: list[dict[str, Any]] = [
        {
            "policy": spec,
            "lr": {str(m): float(values[m]) for m in marks},
            "mean_lr": float(np.mean(values)),
        }
        for spec, values in curves.items()
    ]
    if output is OutputFormat.json:
        print_json({"steps": steps, "figures": [str(overlay), str(grid)], "policies": rows})
        return
    table = Table(
        title=f"LR at steps of a {steps}-step run; mean = area / steps",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("policy", no_wrap=True)
    for mark in marks:
        table.add_column(str(mark), justify="right", no_wrap=True)
    table.add_column("mean", justify="right", no_wrap=True)
    for number, row in enumerate(rows, 1):
        name = row["policy"].split("(")[0]
        table.add_row(
            f"{number}. {name}", *(f"{v:.2g}" for v in row["lr"].values()), f"{row['mean_lr']:.2g}"
        )
    stdout.print(table)
    for number, row in enumerate(rows, 1):
        stdout.print(f"{number:>3}. {row['policy']}", markup=False, highlight=False)
    stderr.print(f"figures: {overlay} {grid}")
