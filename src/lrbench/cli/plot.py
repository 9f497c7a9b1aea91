"""`lrbench plot`: overlay schedules in one figure."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lrbench.cli._common import StepsOption, stderr
from lrbench.exceptions import ConfigError

HELP = """Overlay the schedules of one or more policies in one figure (PNG, SVG or PDF).

Examples:

  lrbench plot "cosine(lr=0.1,total_steps=1000,warmup_steps=100)" \\
               "wsd(lr=0.1,total_steps=1000,warmup_steps=100,decay_steps=200)" -n 1000 -o lr.png

  lrbench plot "exp(lr=0.1,gamma=0.99)" -n 500 --log-y -o exp.svg
"""

FORMATS = (".png", ".svg", ".pdf")


def plot(
    specs: Annotated[list[str], typer.Argument(help="One or more policy specs.")],
    steps: StepsOption,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write (.png, .svg, .pdf).")
    ],
    log_y: Annotated[bool, typer.Option("--log-y", help="Log-scale LR axis.")] = False,
) -> None:
    """Overlay schedules in one figure."""
    if output.suffix.lower() not in FORMATS:
        raise ConfigError(f"`--output` must end in {', '.join(FORMATS)}, got {str(output)!r}")
    from lrbench.viz.figures import schedule_curves, schedule_figure

    figure = schedule_figure(schedule_curves(specs, steps), log_y=log_y)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output)
    stderr.print(f"wrote {output}")
    print(output)
