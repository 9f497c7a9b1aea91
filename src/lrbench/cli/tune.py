"""`lrbench tune`: run or resume a tuning study (single-policy, cost-effective or composed)."""

from __future__ import annotations

import contextlib
import math
import os
import sys
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lrbench.cli._common import (
    DbOption,
    FormatOption,
    OutputFormat,
    QuietOption,
    emphasis,
    parse_params,
    print_json,
    quiet_libraries,
    stdout,
)
from lrbench.exceptions import ConfigError

if TYPE_CHECKING:  # the study brings torch: imported when a study runs, not for --help
    from lrbench.study import StudyResult

HELP = """Tune the LR: train a task under policies x LR values, store every trial, rank them.

Objectives: `single` (best policy for the budget), `cost` (reach --target at the least
training cost: successive halving stops weak trials early, trials stop at the target),
`compose` (the best sequence of policies across --phases training phases), `horizon` (sweep
short runs, predict the full run's LR with LR* = B D^-beta, train it) and `schedule` (fit a
loss law on two short runs, train only the schedules it ranks best). --max-cost caps any of
them in full runs. Running the same command again resumes the study (finished trials are
kept).

Examples:

  lrbench tune --task digits-mlp --policies fixed,step,cosine --lr-min 1e-3 --lr-max 1 --trials 12

  lrbench tune --task charlm --strategy random --trials 20 --seeds 2 --workers 2 --format json

  lrbench tune --task my_task.py:train --metric val_loss --mode min --total-steps 500

  lrbench tune --task digits-mlp --strategy topk --trials 9 --param optimizer=adam

  lrbench tune --task charlm --strategy bayes --policies cosine,wsd --lr-min 1e-5 --lr-max 0.1

  lrbench tune --task digits-mlp --objective cost --target 0.95 --trials 24 --bracket

  lrbench tune --task digits-mlp --objective compose --phases 2 --policies fixed,cosine

  lrbench tune --task digits-mlp --bracket --trials 1 --policies cosine --max-cost 1.5

  lrbench tune --task charlm --objective horizon --policies wsd --branch --total-steps 480

  lrbench tune --task charlm --objective schedule --policies fixed,cosine,step,wsd --bracket

  lrbench tune --config study.yaml --trials 4   (a study file; flags given override it)

  lrbench tune --task charlm --executor ray --ray-address auto --cpus-per-trial 2 --db postgresql://me@dbhost/lrbench
"""


def _parse_baseline(text: str) -> tuple[str, float]:
    template, sep, value = text.rpartition("@")
    try:
        lr = float(value)
    except ValueError:
        lr = math.nan
    if not sep or not template or not lr > 0:
        raise ConfigError(f"`--baseline` must be POLICY@LR like cosine@2e-5, got {text!r}")
    return template, lr


def _options(ctx: typer.Context, config_file: Path | None) -> tuple[dict[str, Any], str | None]:
    """Every option of the command by its study-file key: the study file's, under the ones
    given on the command line; and the file's text (None without one)."""
    from lrbench.search import split_policies
    from lrbench.study.studyfile import STUDY_FILE_KEYS, parse_study_file, study_file_source

    given = ctx.params
    options = {key: value for key, value in given.items() if key in STUDY_FILE_KEYS}
    options["params"] = parse_params(given["param"])
    options["baselines"] = given["baseline"] or []
    options["policies"] = split_policies(given["policies"])
    if config_file is None:
        return options, None
    text = study_file_source(config_file)
    from_file = parse_study_file(text, source=str(config_file))
    given_params = options["params"]
    options.update({key: value for key, value in from_file.items() if not _given(ctx, key)})
    options["params"] = {**from_file.get("params", {}), **given_params}
    return options, text


def _fractions(text: str) -> tuple[float, ...]:
    """`1/16,1/8,0.25` as numbers."""
    fractions = []
    for part in text.split(","):
        try:
            fractions.append(float(Fraction(part.strip())))
        except (ValueError, ZeroDivisionError):
            raise ConfigError(
                f"`--horizons` must be fractions of the budget such as 1/16,1/8,1/4; got {part!r}"
            ) from None
    return tuple(fractions)


def _given(ctx: typer.Context, key: str) -> bool:
    """Whether the option for study-file key `key` was set on the command line (or, for
    --db, in the environment): those override the file."""
    name = {"params": "param", "baselines": "baseline"}.get(key, key)
    source = ctx.get_parameter_source(name)
    return source is not None and source.name != "DEFAULT"


def render_leaderboard(result: StudyResult, limit: int = 15) -> Table:
    """The study's leaderboard as a table (best first)."""
    study = result.study
    table = Table(
        title=f"{study.name}: {study.task.name}, {study.metric} ({study.mode}), "
        f"{len(result.trials)} trials"
    )
    table.add_column("#", justify="right")
    table.add_column("policy", overflow="fold")
    table.add_column(study.metric, justify="right")
    table.add_column("± std", justify="right")
    table.add_column("seeds", justify="right")
    table.add_column("status")
    for rank, score in enumerate(result.leaderboard[:limit], 1):
        mean = "—" if math.isnan(score.mean) else f"{score.mean:.4g}"
        std = "—" if math.isnan(score.std) else f"{score.std:.2g}"
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(score.statuses.items()))
        table.add_row(str(rank), Text(score.policy), mean, std, str(score.seeds), statuses)
    return table


def tune_command(
    ctx: typer.Context,
    task: Annotated[
        str | None,
        typer.Option("--task", "-t", help="Built-in name, module:function or file.py:function."),
    ] = None,
    metric: Annotated[
        str | None, typer.Option(help="Metric to optimise \\[default: the task's].")
    ] = None,
    mode: Annotated[str | None, typer.Option(help="max or min \\[default: the task's].")] = None,
    policies: Annotated[
        str, typer.Option(help="Comma-separated families or {lr} templates.")
    ] = "fixed,step,cosine,one_cycle",
    lr_min: Annotated[
        float | None,
        typer.Option("--lr-min", help="Lowest LR searched \\[default: the task's, else 1e-4]."),
    ] = None,
    lr_max: Annotated[
        float | None,
        typer.Option("--lr-max", help="Highest LR searched \\[default: the task's, else 1]."),
    ] = None,
    strategy: Annotated[
        str, typer.Option(help="grid, random, topk or bayes (Optuna TPE).")
    ] = "grid",
    trials: Annotated[int, typer.Option(min=1, help="Configurations to try (before seeds).")] = 12,
    total_steps: Annotated[
        int | None, typer.Option("--total-steps", min=1, help="Budget per trial in updates.")
    ] = None,
    epochs: Annotated[
        float | None,
        typer.Option(help="Budget per trial in epochs instead (built-in tasks), rounded up."),
    ] = None,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds per configuration.")] = 1,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=1024,
            help="Trials at once: local worker processes \\[1]; on Ray a cap \\[all that fit].",
        ),
    ] = None,
    trial_timeout: Annotated[
        float | None,
        typer.Option(
            "--trial-timeout",
            min=0.001,
            help="Seconds a trial may run; one past it is stopped and stored as failed.",
        ),
    ] = None,
    study: Annotated[
        str | None, typer.Option(help="Study name \\[default: from the config].")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="Task setting key=value (repeatable).")
    ] = None,
    baseline: Annotated[
        list[str] | None, typer.Option(help="Extra POLICY@LR to compare (repeatable).")
    ] = None,
    target: Annotated[
        float | None, typer.Option(help="Metric target (steps to reach it are recorded).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random strategy.")] = 0,
    objective: Annotated[
        str, typer.Option(help="single, cost, compose, horizon or schedule.")
    ] = "single",
    halving_rate: Annotated[
        int, typer.Option("--halving-rate", help="cost: keep the best 1/rate at each rung.")
    ] = 3,
    bracket: Annotated[
        bool, typer.Option("--bracket", help="Run the LR range test first; search its range.")
    ] = False,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            help="Most the study may spend, in full runs (range test, seeds, baselines "
            "included); fewer configurations are tried to fit.",
        ),
    ] = None,
    horizons: Annotated[
        str,
        typer.Option(
            help="horizon: the short runs, as fractions of the budget (e.g. 1/16,1/8,1/4)."
        ),
    ] = "1/16,1/8,1/4",
    final_runs: Annotated[
        int,
        typer.Option(
            "--final-runs", help="horizon: full runs per family: 1 (the prediction) or 3."
        ),
    ] = 1,
    branch: Annotated[
        bool,
        typer.Option(
            "--branch", help="horizon: cool each horizon down from one stable run per LR (WSD)."
        ),
    ] = False,
    fit_fraction: Annotated[
        float,
        typer.Option("--fit-fraction", help="schedule: the two fit runs' share of the budget."),
    ] = 1.0,
    train_top: Annotated[
        int,
        typer.Option("--train-top", help="schedule: the best-predicted schedules trained."),
    ] = 1,
    phases: Annotated[int, typer.Option(help="compose: training phases.")] = 2,
    keep: Annotated[int, typer.Option(help="compose: checkpoints kept per phase.")] = 2,
    executor: Annotated[str, typer.Option(help="local, or ray (Ray Tune).")] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address", help="Ray cluster to join: auto or HOST:PORT \\[a local Ray]."
        ),
    ] = None,
    cpus_per_trial: Annotated[
        float, typer.Option("--cpus-per-trial", min=0, help="Ray: CPUs per trial.")
    ] = 1.0,
    gpus_per_trial: Annotated[
        float, typer.Option("--gpus-per-trial", min=0, help="Ray: GPUs per trial.")
    ] = 0.0,
    max_failures: Annotated[
        int,
        typer.Option("--max-failures", min=0, help="Ray: retries of a trial whose worker died."),
    ] = 2,
    db: DbOption = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Study file (YAML) holding any of these options; a flag given overrides it "
            "(--param overrides one setting of the file's params).",
        ),
    ] = None,
    output: FormatOption = OutputFormat.human,
    quiet: QuietOption = False,
) -> None:
    """Tune the LR of a task."""
    from lrbench.cli._progress import RichEvents, make_events
    from lrbench.execution.raytune import RayOptions
    from lrbench.study import (
        CostEffective,
        HorizonTransfer,
        MultiPolicy,
        PredictedSchedules,
        StudyConfig,
        tune,
    )

    options, file_text = _options(ctx, config_file)
    if options["task"] is None:
        raise ConfigError("`--task` is required (or `task:` in the --config study file)")
    objectives = {
        "cost": CostEffective(halving_rate=options["halving_rate"]),
        "compose": MultiPolicy(phases=options["phases"], keep=options["keep"]),
        "schedule": PredictedSchedules(
            fit_fraction=options["fit_fraction"], train_top=options["train_top"]
        ),
        "horizon": HorizonTransfer(
            horizons=_fractions(options["horizons"]),
            final_runs=options["final_runs"],
            branch=options["branch"],
        ),
    }
    config = StudyConfig(
        task=options["task"],
        params=options["params"],
        metric=options["metric"],
        mode=options["mode"],
        policies=tuple(options["policies"]),
        lr_min=options["lr_min"],
        lr_max=options["lr_max"],
        strategy=options["strategy"],
        trials=options["trials"],
        total_steps=options["total_steps"],
        epochs=options["epochs"],
        seeds=options["seeds"],
        seed=options["seed"],
        target=options["target"],
        baselines=tuple(_parse_baseline(b) for b in options["baselines"]),
        objective=objectives.get(options["objective"], options["objective"]),
        bracket=options["bracket"],
        max_cost=options["max_cost"],
    )
    quiet_libraries()
    events = make_events(quiet)
    runner: str | RayOptions = options["executor"]
    if options["executor"] == "ray" or options["ray_address"] is not None:
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Tune's plain reporter, no boxes
        runner = RayOptions(
            address=options["ray_address"],
            cpus_per_trial=options["cpus_per_trial"],
            gpus_per_trial=options["gpus_per_trial"],
            max_concurrent=options["workers"],
            max_failures=options["max_failures"],
        )
    try:  # Ray Tune prints its own progress to stdout, where only results belong
        with contextlib.redirect_stdout(sys.stderr):
            result = tune(
                config,
                name=options["study"],
                db=options["db"],
                workers=options["workers"] or 1,
                trial_timeout=options["trial_timeout"],
                events=events,
                executor=runner,
                study_file=file_text,
            )
    finally:
        if isinstance(events, RichEvents):
            events.close()
    if output is OutputFormat.json:
        print_json(result.to_json())
        return
    stdout.print(render_leaderboard(result))
    _print_summary(result)


def _print_summary(result: StudyResult) -> None:
    best = result.best
    if best is None:
        stdout.print("No trial completed: see `lrbench db show " + result.study.name + "`.")
    else:
        spread = f" ± {best.std:.2g} over {best.seeds} seeds" if best.seeds > 1 else ", 1 seed"
        stdout.print(
            f"Best: {emphasis(best.policy)} ({escape(best.metric)} {best.mean:.4g}{spread}).",
            markup=True,
        )
    stdout.print(
        f"Cost: {result.full_runs:.2f} full runs ({result.cost_steps + result.range_test_steps}"
        f" steps, {result.cost_seconds:.1f} s); training every configuration in full: "
        f"{result.grid_full_runs} runs."
    )
    summary = result.to_json()
    bracket = summary.get("bracket")
    if bracket:
        if bracket.get("lr_min") is None:
            searched = (
                f"found no falling loss ({bracket.get('reason', '')}): searched the whole range"
            )
        else:
            searched = (
                f"searched {bracket['lr_min']:.3g} .. {bracket['lr_max']:.3g} around its "
                f"lowest-loss LR {bracket['lowest_loss_lr']:.3g}"
            )
            if bracket.get("reason"):
                searched += f" ({bracket['reason']})"
        stdout.print(
            f"Range test ({bracket['steps']} steps): {searched}.", markup=False, highlight=False
        )
    composed = summary["compose"]
    if composed is not None:
        for kind in ("sequence", "single"):
            found = composed[kind]
            text = (
                "none completed" if found is None else f"{found['policy']} ({found['mean']:.4g})"
            )
            stdout.print(f"Best {kind}: {text}", markup=False, highlight=False)
    schedules = summary["schedule"]
    if schedules is not None:
        trained = [r for r in schedules["predictions"] if r["measured"] is not None]
        for row in trained:
            stdout.print(
                f"Predicted {row['loss']:.4g}, measured {row['measured']:.4g}: {row['policy']}",
                markup=False,
                highlight=False,
            )
        ranked = len([r for r in schedules["predictions"] if r["loss"] is not None])
        stdout.print(
            f"The loss law ranked {ranked} schedules; {len(trained)} trained in full.",
            markup=False,
            highlight=False,
        )
    for family, law in (summary["horizon"] or {}).items():
        text = law.get("error") or (
            f"{law['description']}; predicted LR {law['predicted_lr']:.3g} "
            f"(interval {law['interval'][0]:.3g} .. {law['interval'][1]:.3g})"
        )
        stdout.print(f"Horizon law, {family}: {text}", markup=False, highlight=False)
    for caution in summary["cautions"]:
        stdout.print(f"Caution: {caution}.", markup=False, highlight=False)
    target = summary["target"]
    if target is not None:
        cheapest = target["cheapest"]
        if cheapest is None:
            stdout.print(f"No configuration reached the target {target['value']:g}.")
        else:
            stdout.print(
                f"Cheapest to reach {target['value']:g}: "
                f"{emphasis(cheapest['policy'])} in {cheapest['steps']:.0f} steps.",
                markup=True,
            )
