"""Figures: each takes data (see `lrbench.viz.data`) and returns a matplotlib `Figure`.

Figures are built on `matplotlib.figure.Figure` directly, never through pyplot, so nothing
global is touched and no display is needed; save them with `figure.savefig(path)`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar, cast

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from lrbench.evaluate import Direction
from lrbench.policies import Policy, parse
from lrbench.rangetest import RangeTestResult
from lrbench.scaling import HorizonLaw
from lrbench.viz.data import CostPoints, Heatmap, LRSweep, StudyCurves, TrialCurves

__all__ = [
    "heatmap_figure",
    "horizon_law_figure",
    "lr_sweep_figure",
    "pareto_figure",
    "range_test_figure",
    "schedule_curves",
    "schedule_figure",
    "study_curves_figure",
    "trial_figure",
]

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


_Figure = TypeVar("_Figure", bound=Callable[..., Figure])


def _literal_text(draw: _Figure) -> _Figure:
    """`draw` with every text taken literally: names come from users (a metric called
    `loss$x$` is not mathtext), and `$` in one must not break the report."""

    @functools.wraps(draw)
    def drawn(*args: Any, **kwargs: Any) -> Figure:
        with matplotlib.rc_context({"text.parse_math": False}):
            return draw(*args, **kwargs)

    return cast(_Figure, drawn)


def _label(spec: str, width: int = 70) -> str:
    return spec if len(spec) <= width else spec[: width - 1] + "…"


@_literal_text
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


def _empty(axes: Any, message: str) -> None:
    axes.text(
        0.5,
        0.5,
        message,
        ha="center",
        va="center",
        fontsize=16,
        color="0.4",
        transform=axes.transAxes,
    )
    axes.set_xticks([])
    axes.set_yticks([])


def _new_figure(layout: Literal["constrained"] | None = "constrained") -> tuple[Figure, Any]:
    figure = Figure(figsize=SIZE_INCHES, dpi=100, layout=layout)
    axes = figure.add_subplot()
    axes.tick_params(labelsize=12)
    axes.grid(True, alpha=0.3)
    return figure, axes


def _family_colors(families: Sequence[str]) -> dict[str, str]:
    return {family: f"C{index % 10}" for index, family in enumerate(sorted(set(families)))}


def _metric_label(metric: str, mode: str) -> str:
    return f"{metric} ({Direction.of(mode).wording} is better)"


def _widen_if_single(axes: Any, values: np.ndarray, *, log: bool) -> None:
    """Give a one-valued x axis some width (matplotlib would warn and guess)."""
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() == finite.max():
        center = float(finite[0])
        low, high = (center / 3, center * 3) if log else (center * 0.9 - 1, center * 1.1 + 1)
        axes.set_xlim(low, high)


@_literal_text
def trial_figure(data: TrialCurves, *, fast: bool = False) -> Figure:
    """A trial's reported metrics against step, with its LR on a twin axis and its end marked.

    `fast=True` sets fixed margins instead of the constrained layout: one drawing pass instead
    of two, for reports with hundreds of trial pages.
    """
    figure, axes = _new_figure(None if fast else "constrained")
    if fast:
        figure.subplots_adjust(left=0.07, right=0.91, top=0.94, bottom=0.16)
    axes.set_title(_label(data.title, 120), fontsize=14)
    axes.set_xlabel("step (optimizer updates)", fontsize=14)
    axes.set_ylabel("reported metrics", fontsize=14)
    for index, (name, (steps, values)) in enumerate(sorted(data.metrics.items())):
        axes.plot(
            steps,
            values,
            marker="o" if len(steps) <= 60 else None,  # markers only where they can be told apart
            markersize=4,
            linewidth=2,
            color=f"C{index % 10}",
            label=name,
        )
    twin = axes.twinx()
    twin.plot(
        data.lr_steps, data.lr, color="0.35", linestyle="--", linewidth=1.5, label="learning rate"
    )
    twin.set_ylabel("learning rate", fontsize=14)
    twin.set_ylim(bottom=0, top=max(float(np.nanmax(data.lr, initial=0.0)), 1e-12) * 1.1)
    twin.tick_params(labelsize=12)
    if data.status in ("diverged", "pruned", "failed"):
        color = {"diverged": "red", "pruned": "orange", "failed": "purple"}[data.status]
        axes.axvline(data.end_step, color=color, linewidth=2)
        axes.annotate(
            f"{data.status} at step {data.end_step}",
            xy=(data.end_step, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(-8, -20),
            textcoords="offset points",
            ha="right",
            color=color,
            fontsize=13,
        )
    if not data.metrics:
        axes.text(
            0.5,
            0.5,
            "no metric was reported",
            ha="center",
            va="center",
            fontsize=16,
            color="0.4",
            transform=axes.transAxes,
        )
    lines = axes.get_legend_handles_labels()
    twin_lines = twin.get_legend_handles_labels()
    labels = lines[1] + twin_lines[1]
    axes.legend(
        lines[0] + twin_lines[0],
        labels,
        fontsize=12,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.08),
        ncol=min(len(labels), 6),
    )  # below: never on a curve
    return figure


@_literal_text
def study_curves_figure(data: StudyCurves) -> Figure:
    """Every trial's metric curve, coloured by policy family; the best configuration bold."""
    figure, axes = _new_figure()
    axes.set_xlabel("step (optimizer updates)", fontsize=14)
    axes.set_ylabel(data.metric, fontsize=14)
    if not data.curves:
        _empty(axes, "no trial has reported this metric yet")
        return figure
    colors = _family_colors([c[0] for c in data.curves])
    labelled: set[str] = set()
    best_labelled = False
    for family, policy, steps, values in data.curves:
        best = policy == data.best_policy
        label = None if family in labelled else family
        labelled.add(family)
        axes.plot(steps, values, color=colors[family], alpha=0.35, linewidth=1.2, label=label)
        if best:
            axes.plot(
                steps,
                values,
                color=colors[family],
                linewidth=3.5,
                label=None if best_labelled else _label(f"best: {policy}", 80),
            )
            best_labelled = True
    axes.legend(fontsize=12, loc="best")
    return figure


@_literal_text
def lr_sweep_figure(data: LRSweep) -> Figure:
    """Final metric against LR, one line per family (log LR axis), the chosen LR marked."""
    figure, axes = _new_figure()
    axes.set_xscale("log")
    axes.set_xlabel("peak learning rate (log scale)", fontsize=14)
    axes.set_ylabel(_metric_label(data.metric, data.mode), fontsize=14)
    if not data.lines and not data.diverged:
        _empty(axes, "no trials yet")
        return figure
    colors = _family_colors([*data.lines, *data.diverged])
    for family, (lrs, means, stds) in sorted(data.lines.items()):
        axes.plot(lrs, means, marker="o", linewidth=2, color=colors[family], label=family)
        axes.fill_between(lrs, means - stds, means + stds, color=colors[family], alpha=0.15)
    bottom = axes.get_ylim()[0] if data.lines else 0.0
    for family, lrs in sorted(data.diverged.items()):
        axes.scatter(
            lrs,
            np.full(len(lrs), bottom),
            marker="x",
            s=90,
            color=colors[family],
            label=f"{family}: diverged / no result",
        )
    every_lr = [lrs for lrs, _, _ in data.lines.values()] + list(data.diverged.values())
    _widen_if_single(axes, np.concatenate(every_lr), log=True)
    if data.chosen is not None:
        family, lr, mean = data.chosen
        axes.axvline(lr, color="black", linestyle=":", linewidth=1.5)
        axes.scatter(
            [lr],
            [mean],
            marker="*",
            s=450,
            color="gold",
            edgecolor="black",
            zorder=5,
            label=f"chosen: {family} at {lr:g}",
        )
    axes.legend(fontsize=12, loc="best")
    return figure


@_literal_text
def pareto_figure(data: CostPoints) -> Figure:
    """Cost against metric for each configuration, with the Pareto front and the target."""
    figure, axes = _new_figure()
    axes.set_xlabel(data.cost_label, fontsize=14)
    axes.set_ylabel(_metric_label(data.metric, data.mode), fontsize=14)
    if data.cost.size == 0:
        _empty(axes, "no completed trials")
        return figure
    axes.scatter(data.cost, data.value, s=60, color="C0", alpha=0.7, label="configurations")
    front = data.front
    axes.plot(
        data.cost[front],
        data.value[front],
        color="C3",
        marker="D",
        linewidth=2,
        label="Pareto front (no cheaper configuration is better)",
    )
    _widen_if_single(axes, data.cost, log=False)
    if data.target is not None:
        axes.axhline(
            data.target,
            color="green",
            linestyle="--",
            linewidth=1.5,
            label=f"target {data.target:g}",
        )
    axes.legend(fontsize=12, loc="best")
    return figure


@_literal_text
def heatmap_figure(data: Heatmap) -> Figure:
    """Mean metric by policy family (rows) and LR (columns); grey where nothing completed."""
    figure, axes = _new_figure()
    axes.grid(False)
    if not data.families:
        _empty(axes, "no trials yet")
        return figure
    higher_is_better = Direction.of(data.mode) is Direction.MAX
    colors = "viridis" if higher_is_better else "viridis_r"
    cmap = matplotlib.colormaps[colors].with_extremes(bad="0.85")
    image = axes.imshow(np.ma.masked_invalid(data.values), aspect="auto", cmap=cmap)
    axes.set_xticks(
        range(len(data.lrs)),
        [f"{lr:.2g}" for lr in data.lrs],
        rotation=45,
        ha="right",
        fontsize=12,
    )
    axes.set_yticks(range(len(data.families)), data.families, fontsize=12)
    axes.set_xlabel("peak learning rate", fontsize=14)
    axes.set_ylabel("policy family", fontsize=14)
    colorbar = figure.colorbar(image, ax=axes)
    colorbar.set_label(_metric_label(data.metric, data.mode), fontsize=14)
    if len(data.lrs) <= 16 and len(data.families) <= 16:
        finite = data.values[np.isfinite(data.values)]
        middle = float(np.mean(finite)) if finite.size else 0.0
        for row, column in np.ndindex(data.values.shape):
            value = data.values[row, column]
            text = "—" if not np.isfinite(value) else f"{value:.3g}"
            dark = np.isfinite(value) and (value < middle) == higher_is_better
            axes.text(
                column,
                row,
                text,
                ha="center",
                va="center",
                fontsize=11,
                color="white" if dark else "black",
            )
    return figure


@_literal_text
def range_test_figure(result: RangeTestResult) -> Figure:
    """The range test: raw and smoothed loss against LR (log axis), each rule's pick, the range."""
    figure, axes = _new_figure()
    axes.set_xscale("log")
    axes.set_xlabel("learning rate (log scale)", fontsize=14)
    axes.set_ylabel("training loss", fontsize=14)
    if len(result.lrs) == 0:
        _empty(axes, "no steps recorded")
        return figure
    axes.plot(result.lrs, result.losses, color="0.7", linewidth=1, label="loss (raw)")
    axes.plot(result.lrs, result.smoothed, color="C0", linewidth=2.5, label="loss (smoothed)")
    finite = result.smoothed[np.isfinite(result.smoothed)]
    if finite.size:
        top = float(np.min(finite) + 2.5 * (finite[0] - np.min(finite)))
        axes.set_ylim(float(np.min(finite)) * 0.95, max(top, float(finite[0]) * 1.05))
    if result.range is not None:
        axes.axvspan(*result.range, color="C2", alpha=0.12, label="recommended range")
    for index, (rule, lr) in enumerate(sorted(result.candidates.items())):
        if lr is not None:
            axes.axvline(
                lr, color=f"C{index + 3}", linestyle="--", linewidth=1.5, label=f"{rule}: {lr:.3g}"
            )
    if result.suggestion is not None:
        axes.axvline(
            result.suggestion,
            color="black",
            linewidth=2.5,
            label=f"suggestion: {result.suggestion:.3g}",
        )
    else:
        axes.set_title(result.reason, fontsize=13)
    axes.legend(fontsize=12, loc="best")
    return figure


@_literal_text
def horizon_law_figure(
    law: HorizonLaw, targets: Sequence[float] = (), *, unit: str = "steps"
) -> Figure:
    """Each swept horizon's optimum with its near-optimal band, the fitted LR*(D) = B D^-beta
    with its interval, and the predictions at `targets` (log-log axes)."""
    figure, axes = _new_figure()
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel(f"training horizon ({unit}, log scale)", fontsize=14)
    axes.set_ylabel("best learning rate (log scale)", fontsize=14)
    measured = np.array([o.horizon for o in law.optima])
    spans = [measured.min(), measured.max(), *targets]
    grid = np.geomspace(min(spans) / 1.5, max(spans) * 1.5, 100)
    predictions = [law.predict(float(h)) for h in grid]
    axes.fill_between(
        grid,
        [p.low for p in predictions],
        [p.high for p in predictions],
        color="C0",
        alpha=0.15,
        label=f"{law.confidence:.0%} interval" + (" (prior's range of beta)" if law.prior else ""),
    )
    axes.plot(grid, [p.lr for p in predictions], color="C0", linewidth=2.5, label=_law_label(law))
    lrs = np.array([o.lr for o in law.optima])
    axes.errorbar(
        measured,
        lrs,
        yerr=[lrs - [o.low for o in law.optima], [o.high for o in law.optima] - lrs],
        fmt="o",
        color="black",
        markersize=8,
        capsize=5,
        label="optimum swept (bar: near-optimal band)",
    )
    for index, target in enumerate(targets):
        found = law.predict(float(target))
        axes.errorbar(
            [target],
            [found.lr],
            yerr=[[found.lr - found.low], [found.high - found.lr]],
            fmt="*",
            color=f"C{index + 1}",
            markersize=16,
            capsize=6,
            label=f"predicted at {target:g}: {found.lr:.3g} ({found.low:.3g}..{found.high:.3g})",
        )
    axes.set_title(law.describe(), fontsize=13)
    axes.legend(fontsize=12, loc="best")
    return figure


def _law_label(law: HorizonLaw) -> str:
    sign = "-" if law.exponent >= 0 else "+"
    return f"LR* = {law.coefficient:.3g} D^{sign}{abs(law.exponent):.3f}"
