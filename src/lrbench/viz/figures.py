"""Schedule figures. The data step (`schedule_curves`) is separate from the drawing.

Figures are built on `matplotlib.figure.Figure` directly, never through pyplot, so nothing
global is touched and no display is needed; save them with `figure.savefig(path)`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from lrbench.policies import Policy, parse

__all__ = ["schedule_curves", "schedule_figure", "schedule_grid_figure"]

SIZE_INCHES = (16, 10)  # 1600 x 1000 pixels at 100 dpi


def schedule_curves(
    specs: Sequence[Policy | str | Mapping[str, Any]], total_steps: int
) -> dict[str, np.ndarray]:
    """The LR at steps `0..total_steps-1` of each policy, keyed by its spec string."""
    steps = np.arange(total_steps)
    curves: dict[str, np.ndarray] = {}
    for spec in specs:
        policy = parse(spec)
        curves[str(policy)] = policy.values(steps)
    return curves


def _label(spec: str, width: int = 70) -> str:
    return spec if len(spec) <= width else spec[: width - 1] + "…"


def schedule_figure(curves: Mapping[str, np.ndarray], *, log_y: bool = False) -> Figure:
    """All schedules overlaid: LR against step, one line per policy.

    Args:
        curves: Label → LR per step, as `schedule_curves` returns.
        log_y: Log-scale LR axis (zeros are dropped from the plot).
    """
    figure = Figure(figsize=SIZE_INCHES, dpi=100, layout="constrained")
    axes = figure.add_subplot()
    for index, (label, values) in enumerate(curves.items()):
        shown = np.where(values > 0, values, np.nan) if log_y else values
        style = ("-", "--", ":")[(index // 10) % 3]  # colours repeat after ten series
        axes.plot(
            np.arange(len(values)),
            shown,
            label=_label(label),
            linewidth=1.8,
            color=f"C{index % 10}",
            linestyle=style,
        )
    axes.set_xlabel("step (optimizer updates)", fontsize=14)
    axes.set_ylabel("learning rate", fontsize=14)
    axes.tick_params(labelsize=12)
    axes.grid(True, alpha=0.3)
    if log_y:
        axes.set_yscale("log")
    if len(curves) > 1:
        axes.legend(fontsize=11, loc="best")
    else:
        axes.set_title(_label(next(iter(curves)), 110), fontsize=14)
    return figure


def schedule_grid_figure(curves: Mapping[str, np.ndarray], *, columns: int = 4) -> Figure:
    """Small multiples: one panel per schedule, each titled with its spec."""
    count = max(len(curves), 1)
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    figure = Figure(figsize=SIZE_INCHES, dpi=100, layout="constrained")
    for index, (label, values) in enumerate(curves.items()):
        axes = figure.add_subplot(rows, columns, index + 1)
        axes.plot(np.arange(len(values)), values, color=f"C{index % 10}", linewidth=1.8)
        axes.set_title(_label(label.split("(")[0], 40), fontsize=13)
        axes.set_xlabel("step", fontsize=11)
        axes.set_ylabel("LR", fontsize=11)
        axes.tick_params(labelsize=10)
        axes.set_ylim(bottom=0, top=max(float(np.max(values)), 1e-12) * 1.08)
        axes.grid(True, alpha=0.3)
    return figure
