"""`lrbench schedule`: the LR a policy gives at each step."""

from __future__ import annotations

import enum
import sys
from typing import Annotated

import numpy as np
import typer

from lrbench.cli._common import StepsOption, print_json
from lrbench.policies import parse

HELP = """Print the LR of a policy at steps START..START+N-1.

Examples:

  lrbench schedule "cosine(lr=0.1,total_steps=100,warmup_steps=10)" --steps 100

  lrbench schedule "wsd(lr=3e-4,total_steps=1000,decay_steps=200)" -n 1000 --format json

  lrbench schedule "one_cycle(max_lr=0.01,total_steps=500)" -n 500 --format csv > lr.csv
"""


class ScheduleFormat(str, enum.Enum):
    """table: aligned columns; csv: step,lr rows; json: one array of N numbers."""

    table = "table"
    csv = "csv"
    json = "json"


def schedule(
    spec: Annotated[
        str, typer.Argument(help="Policy spec, e.g. 'cosine(lr=0.1,total_steps=100)'.")
    ],
    steps: StepsOption,
    start: Annotated[int, typer.Option(min=0, help="First step to print.")] = 0,
    output: Annotated[
        ScheduleFormat,
        typer.Option("--format", "-f", help="table, csv, or json (one array of N numbers)."),
    ] = ScheduleFormat.table,
) -> None:
    """Print the LR of a policy at each step."""
    step_numbers = np.arange(start, start + steps)
    values = parse(spec).values(step_numbers)
    if output is ScheduleFormat.json:
        print_json(values.tolist())
    elif output is ScheduleFormat.csv:
        sys.stdout.write("step,lr\n")
        sys.stdout.writelines(
            f"{t},{v!r}\n" for t, v in zip(step_numbers.tolist(), values.tolist())
        )
    else:
        width = max(len(str(step_numbers[-1])), len("step"))
        sys.stdout.write(f"{'step':>{width}}  lr\n")
        sys.stdout.writelines(
            f"{t:>{width}}  {v:.8g}\n" for t, v in zip(step_numbers.tolist(), values.tolist())
        )
