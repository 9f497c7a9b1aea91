"""`lrbench plot`: schedules overlaid, or any study figure, to PNG, SVG or PDF."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any

import typer

from lrbench.cli._common import DbOption, reading_store, stderr
from lrbench.exceptions import ConfigError

HELP = """Draw a figure to a file (PNG, SVG or PDF by its extension).

Schedules of policy specs, or a stored study's figures with --study (and --trial N for one
trial's curves, LR on a twin axis).

Examples:

  lrbench plot "cosine(lr=0.1,total_steps=1000,warmup_steps=100)" \\
               "wsd(lr=0.1,total_steps=1000,warmup_steps=100,decay_steps=200)" -n 1000 -o lr.png

  lrbench plot "exp(lr=0.1,gamma=0.99)" -n 500 --log-y -o exp.svg

  lrbench plot --study demo-digits-mlp --kind lr-sweep -o sweep.png

  lrbench plot --study demo-charlm --trial 3 -o trial3.svg
"""

FORMATS = (".png", ".svg", ".pdf")


class Kind(str, enum.Enum):
    """Which figure: schedules of specs, or one of a study's figures."""

    schedules = "schedules"
    trial = "trial"
    curves = "curves"
    lr_sweep = "lr-sweep"
    pareto = "pareto"
    heatmap = "heatmap"


def _study_figure(kind: Kind, study_name: str, trial_number: int | None, db: str | None) -> Any:
    from lrbench.viz import data, figures

    store = reading_store(db)
    study = store.require_study(study_name)
    if kind is Kind.trial:
        trials = {t.number: t for t in store.trials(study.id)}
        if trial_number not in trials:
            raise ConfigError(
                f"`--trial` must be a trial number of study {study_name} "
                f"(0..{len(trials) - 1}), got {trial_number}"
            )
        return figures.trial_figure(data.trial_curves(store, trials[trial_number]))
    leaderboard = store.leaderboard(study)
    if kind is Kind.curves:
        return figures.study_curves_figure(data.study_curves(store, study, leaderboard))
    if kind is Kind.lr_sweep:
        return figures.lr_sweep_figure(data.lr_sweep(study, leaderboard))
    if kind is Kind.pareto:
        return figures.pareto_figure(data.cost_points(study, leaderboard))
    return figures.heatmap_figure(data.heatmap(study, leaderboard))


def plot(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File to write (.png, .svg, .pdf).")
    ],
    specs: Annotated[
        list[str] | None, typer.Argument(help="Policy specs (for schedules).")
    ] = None,
    steps: Annotated[
        int | None,
        typer.Option("--steps", "-n", min=1, max=10**7, help="Steps to draw (schedules)."),
    ] = None,
    log_y: Annotated[bool, typer.Option("--log-y", help="Log-scale LR axis.")] = False,
    study: Annotated[str | None, typer.Option(help="A stored study's figure.")] = None,
    trial: Annotated[int | None, typer.Option(help="A trial number of --study.")] = None,
    kind: Annotated[
        Kind | None,
        typer.Option(
            help="Which figure \\[default: schedules, or "
            "trial with --trial, or lr-sweep with --study]."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Draw a figure."""
    if output.suffix.lower() not in FORMATS:
        raise ConfigError(f"`--output` must end in {', '.join(FORMATS)}, got {str(output)!r}")
    kind = kind or (
        Kind.trial if trial is not None else Kind.lr_sweep if study else Kind.schedules
    )
    if kind is Kind.schedules:
        if not specs or steps is None:
            raise ConfigError(
                "schedules need policy specs and `--steps`, e.g. lrbench plot "
                '"cosine(lr=0.1,total_steps=100)" -n 100 -o lr.png'
            )
        from lrbench.viz.figures import schedule_curves, schedule_figure

        figure = schedule_figure(schedule_curves(specs, steps), log_y=log_y)
    else:
        if study is None:
            raise ConfigError(f"`--kind {kind.value}` needs `--study NAME` (see `lrbench db ls`)")
        if specs:
            raise ConfigError("give either policy specs or `--study`, not both")
        figure = _study_figure(kind, study, trial, db)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output)
    stderr.print(f"wrote {output}")
    print(output)
