"""`lrbench demo`: the README's main job — a real LR tuning study on both built-in tasks.

It tunes `digits-mlp` (an MLP on scikit-learn's digits, SGD) and `charlm` (fine-tuning a small
pretrained transformer, AdamW) over several policies x LR values with two seeds, next to the
folklore default of each task's own optimizer (SGD: 0.1 with step or cosine decay; AdamW:
3e-4 cosine with 3% warmup); it prints each task's leaderboard, the
recommended policy and LR, and how far each baseline falls short, and leaves the database
(and a JSON summary and schedule figures in the output folder) behind. `--llm` adds a study
that fine-tunes a real pretrained language model (SmolLM2-135M with LoRA, `hf-causal-lm`) next
to the folklore LoRA recipe "2e-4 cosine".
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from lrbench.cli._common import (
    DbOption,
    FormatOption,
    OutputFormat,
    QuietOption,
    emphasis,
    print_json,
    quiet_libraries,
    stdout,
)
from lrbench.evaluate import Direction

HELP = """Run the demo: a real LR tuning study on the built-in tasks, ending with an HTML report.

Examples:

  lrbench demo

  lrbench demo --db sqlite:///demo.db -o demo-output --format json

  lrbench demo --quick

  lrbench demo --llm
"""

#: The folklore defaults each task's optimizer is usually given (SGD with momentum: 0.1 with
#: step or cosine decay; AdamW: 3e-4 cosine with 3% warmup), the studies' baselines.
SGD_BASELINES = (("step", 0.1), ("cosine", 0.1))
ADAMW_BASELINES = (("cosine", 3e-4),)
#: The usual LoRA fine-tuning recipe, the LLM study's folklore baseline.
LORA_BASELINES = (("cosine", 2e-4),)


def demo_studies(quick: bool, llm: bool = False) -> list[tuple[str, Any]]:
    """(study name, StudyConfig) of the demo; `quick` is a smaller version for tests; `llm`
    adds the fine-tuning of a pretrained language model."""
    from lrbench.study import StudyConfig

    scale = "-quick" if quick else ""
    language_model = (
        f"demo-hf-causal-lm{scale}",
        StudyConfig(
            task="hf-causal-lm",
            params={"max_length": 64, "max_records": 160},
            policies=("fixed", "cosine"),
            lr_min=3e-4,
            lr_max=1e-2,
            trials=2 if quick else 6,
            total_steps=4 if quick else 20,
            baselines=LORA_BASELINES,
        ),
    )
    return [*([language_model] if llm else []), *_classic_studies(scale, quick)]


def _classic_studies(scale: str, quick: bool) -> list[tuple[str, Any]]:
    from lrbench.study import StudyConfig

    return [
        (
            f"demo-digits-mlp{scale}",
            StudyConfig(
                task="digits-mlp",
                policies=("fixed", "step", "cosine", "one_cycle", "wsd"),
                lr_min=3e-3,
                lr_max=3.0,
                trials=10 if quick else 30,
                seeds=1 if quick else 2,
                total_steps=100 if quick else 300,
                baselines=SGD_BASELINES,
            ),
        ),
        (
            f"demo-charlm{scale}",
            StudyConfig(
                task="charlm",
                policies=("fixed", "cosine", "linear", "wsd"),
                lr_min=1e-4,
                lr_max=3e-2,
                trials=4 if quick else 20,
                seeds=1 if quick else 2,
                total_steps=30 if quick else 120,
                baselines=ADAMW_BASELINES,
            ),
        ),
    ]


def _summary(result: Any) -> dict[str, Any]:
    best = result.best
    sign = Direction.of(result.study.mode).sign
    baselines = []
    config = result.study.config.get("config", {})
    for family, lr in config.get("baselines", []):
        score = next((s for s in result.leaderboard if s.family == family and s.lr == lr), None)
        if score is None:
            continue
        gap = None if best is None or math.isnan(score.mean) else sign * (best.mean - score.mean)
        baselines.append(
            {
                "baseline": f"{lr:g} {family}",
                "policy": score.policy,
                "mean": None if math.isnan(score.mean) else score.mean,
                "statuses": score.statuses,
                "short_of_best": gap,
            }
        )
    return {**result.to_json(), "baselines": baselines}


def _render(summary: dict[str, Any]) -> None:

    best = summary["best"]
    metric = summary["metric"]
    if best is None:
        stdout.print(f"{emphasis(summary['task'])}: no trial completed", markup=True)
        return
    value = best["metrics"][metric]
    stdout.print(
        f"\n{emphasis(summary['task'])}: use {emphasis(best['policy'], 'bold green')}"
        f" — {escape(metric)} {value:.4g} ({summary['mode']} is better), "
        f"{summary['trials']['complete']} trials complete, "
        f"{summary['trials']['diverged']} diverged, cost {summary['cost']['steps']} "
        f"steps / {summary['cost']['seconds']:.0f} s",
        markup=True,
    )
    table = Table(title=f"{summary['task']}: folklore baselines against the recommendation")
    for column in ("baseline", metric, "short of best by"):
        table.add_column(column, justify="right" if column != "baseline" else "left")
    for row in summary["baselines"]:
        mean = "diverged/failed" if row["mean"] is None else f"{row['mean']:.4g}"
        gap = "—" if row["short_of_best"] is None else f"{row['short_of_best']:.4g}"
        table.add_row(row["baseline"], mean, gap)
    stdout.print(table)


def demo(
    db: DbOption = None,
    output_dir: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for the summary and figures.")
    ] = Path("demo-output"),
    quick: Annotated[bool, typer.Option(help="A smaller study (seconds).")] = False,
    llm: Annotated[
        bool, typer.Option("--llm", help="Also fine-tune SmolLM2-135M with LoRA (minutes).")
    ] = False,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    output: FormatOption = OutputFormat.human,
    quiet: QuietOption = False,
) -> None:
    """Run the demo tuning study."""
    from lrbench.cli._progress import RichEvents, make_events
    from lrbench.cli.tune import render_leaderboard
    from lrbench.store import Store, resolve_url
    from lrbench.study import tune
    from lrbench.viz.figures import schedule_curves, schedule_figure
    from lrbench.viz.report import write_report

    output_dir.mkdir(parents=True, exist_ok=True)
    summaries = []
    for name, config in demo_studies(quick, llm):
        events = make_events(quiet)
        try:
            quiet_libraries()
            result = tune(config, name=name, db=db, workers=workers, events=events)
        finally:
            if isinstance(events, RichEvents):
                events.close()
        summary = _summary(result)
        summaries.append(summary)
        shown = [s.policy for s in result.leaderboard[:1]] + [
            b["policy"] for b in summary["baselines"]
        ]
        figure = output_dir / f"{config.task}-schedules.png"
        schedule_figure(schedule_curves(shown, result.trials[0].total_steps), log_y=True).savefig(
            figure
        )
        summary["figure"] = str(figure)
        if output is OutputFormat.human:
            stdout.print(render_leaderboard(result, limit=10))
            _render(summary)
    index = write_report(Store(db), [name for name, _ in demo_studies(quick, llm)], output_dir)
    report = {"database": resolve_url(db), "report": str(index), "studies": summaries}
    (output_dir / "summary.json").write_text(json.dumps(report, indent=2))
    if output is OutputFormat.json:
        print_json(report)
    else:
        stdout.print(
            f"\nReport: {emphasis(index)} (open it in a browser); database: "
            f"{escape(resolve_url(db))}",
            markup=True,
        )
