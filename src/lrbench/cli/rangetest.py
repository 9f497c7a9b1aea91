"""`lrbench range-test`: sweep the LR over a short run and suggest a value and a range."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from lrbench.cli._common import (
    DbOption,
    FormatOption,
    OutputFormat,
    QuietOption,
    emphasis,
    parse_params,
    print_json,
    quiet_libraries,
    stderr,
    stdout,
)

HELP = """LR range test: raise the LR every step over a short run, read a good LR off the loss.

Prints every rule's suggestion (steepest descent against log LR, minimum/10, valley), the
suggestion (valley's pick), and a range \\[lo, hi] for cyclic policies or a following search.

Examples:

  lrbench range-test --task digits-mlp

  lrbench range-test --task charlm --lr-min 1e-6 --lr-max 1 --steps 200 --plot rt.png

  lrbench range-test --task my_task.py:train --format json

  lrbench range-test --task digits-mlp --grid --points 9 --steps 100 --tolerance 0.02
"""


def range_test_command(
    task: Annotated[
        str,
        typer.Option("--task", "-t", help="Built-in name, module:function or file.py:function."),
    ],
    lr_min: Annotated[float, typer.Option("--lr-min", help="LR at the first step.")] = 1e-6,
    lr_max: Annotated[float, typer.Option("--lr-max", help="LR at the last step.")] = 10.0,
    steps: Annotated[
        int, typer.Option(min=5, max=10**7, help="Steps of the sweep (5 to 10^7).")
    ] = 200,
    mode: Annotated[str, typer.Option(help="exp (log sweep) or linear.")] = "exp",
    param: Annotated[
        list[str] | None, typer.Option(help="Task setting key=value (repeatable).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the run.")] = 0,
    plot: Annotated[Path | None, typer.Option(help="Also draw the curve to this file.")] = None,
    grid: Annotated[
        bool,
        typer.Option(
            "--grid",
            help="LRBench's variant: short fixed-LR runs on a log grid, stored as a study.",
        ),
    ] = False,
    points: Annotated[int, typer.Option(min=3, help="--grid: LR values.")] = 9,
    tolerance: Annotated[
        float, typer.Option(help="--grid: range within this relative distance of the best metric.")
    ] = 0.05,
    db: DbOption = None,
    output: FormatOption = OutputFormat.human,
    quiet: QuietOption = False,
) -> None:
    """Run the LR range test."""
    from lrbench.rangetest import range_test, sweep_spec
    from lrbench.study.grid_range import grid_range_test

    quiet_libraries()
    if grid:
        found = grid_range_test(
            task,
            lr_min=lr_min,
            lr_max=lr_max,
            points=points,
            steps=steps,
            tolerance=tolerance,
            params=parse_params(param),
            db=db,
        )
        if output is OutputFormat.json:
            print_json(found.to_json())
        elif found.suggestion is None or found.range is None:
            stdout.print(
                f"No suggestion: every run diverged (see `lrbench db show {found.study}`)."
            )
        else:
            stdout.print(
                f"Best {escape(found.metric)} at LR {emphasis(f'{found.suggestion:.3g}')}; "
                f"within {found.tolerance:.0%} of it: \\[{found.range[0]:.3g}, "
                f"{found.range[1]:.3g}] (study {escape(found.study)})",
                markup=True,
            )
        return

    sweep_spec(lr_min, lr_max, steps, mode)  # bad settings: one line, before the header
    if not quiet:
        stderr.print(
            f"range test on {task}: {steps} steps, LR {lr_min:g} -> {lr_max:g}", markup=False
        )
    result = range_test(
        task,
        lr_min=lr_min,
        lr_max=lr_max,
        steps=steps,
        mode=mode,
        params=parse_params(param),
        seed=seed,
    )
    if plot is not None:
        from lrbench.viz.figures import range_test_figure

        plot.parent.mkdir(parents=True, exist_ok=True)
        range_test_figure(result).savefig(plot)
    if output is OutputFormat.json:
        data = result.to_json()
        if plot is not None:
            data["plot"] = str(plot)
        print_json(data)
        return
    if result.suggestion is None:
        stdout.print(f"No suggestion: {result.reason}.")
        return
    table = Table(
        title=f"range test on {task}: {len(result.lrs)} steps"
        + (
            f", stopped on divergence at step {result.diverged_at}"
            if result.diverged_at is not None
            else ""
        )
    )
    table.add_column("rule")
    table.add_column("LR", justify="right")
    for rule, lr in result.candidates.items():
        table.add_row(rule, "—" if lr is None else f"{lr:.3g}")
    stdout.print(table)
    low, high = result.range or (float("nan"), float("nan"))
    stdout.print(
        f"Suggestion: {emphasis(f'{result.suggestion:.3g}')} (rules agree within "
        f"{result.spread or 1:.3g}x); range \\[{low:.3g}, {high:.3g}]",
        markup=True,
    )
