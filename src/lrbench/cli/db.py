"""`lrbench db ...`: look into, move and upgrade the LR policy database."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lrbench.cli._common import (
    DbOption,
    FormatOption,
    OutputFormat,
    emphasis,
    print_json,
    reading_store,
    recipes_store,
    stderr,
    stdout,
)
from lrbench.execution.claims import study_status

app = typer.Typer(
    help="""Inspect, export, import and upgrade the LR policy database.

Examples:

  lrbench db ls

  lrbench db show digits-mlp-grid-3b416237 --format json

  lrbench db top --task digits-mlp -k 3

  lrbench db export my-study -o my-study.json && lrbench db import my-study.json --db postgresql+psycopg://postgres@127.0.0.1/test
""",
    no_args_is_help=True,
)


def _store(db: str | None) -> Any:
    """The store for a command that writes (created where missing)."""
    from lrbench.store import Store

    return Store(db)


@app.command(
    "ls",
    help="List the studies, newest first.\n\nExamples:\n\n  lrbench db ls\n\n"
    "  lrbench db ls --format json",
)
def ls(db: DbOption = None, output: FormatOption = OutputFormat.human) -> None:
    """List the studies."""
    store = reading_store(db)
    rows = []
    for study in store.studies():
        board = store.leaderboard(study)
        best = board[0] if board and not math.isnan(board[0].mean) else None
        trials = store.trials(study.id)
        rows.append(
            {
                "study": study.name,
                "task": study.task.name,
                "metric": study.metric,
                "mode": study.mode,
                "strategy": study.strategy,
                "status": study_status(study),
                "trials": len(trials),
                "finished": sum(t.status.finished for t in trials),
                "best_policy": best.policy if best else None,
                "best_value": best.mean if best else None,
            }
        )
    if output is OutputFormat.json:
        print_json(rows)
        return
    table = Table(title=f"studies in {store.display_url}")
    for column in ("study", "task", "metric", "strategy", "status", "trials", "best"):
        table.add_column(column, overflow="fold")  # names wrap on a terminal, never cut
    for row in rows:
        best = (
            "—" if row["best_policy"] is None else f"{row['best_value']:.4g} {row['best_policy']}"
        )
        table.add_row(  # Text: names and specs are shown as written, never read as markup
            Text(row["study"]),
            Text(row["task"]),
            f"{row['metric']} ({row['mode']})",
            row["strategy"],
            row["status"],
            f"{row['finished']}/{row['trials']}",
            Text(best),
        )
    stdout.print(table)


@app.command(
    "show",
    help="A study's configuration and leaderboard.\n\nExamples:\n\n"
    "  lrbench db show my-study\n\n  lrbench db show my-study --format json",
)
def show(
    study: Annotated[str, typer.Argument(help="Study name.")],
    db: DbOption = None,
    output: FormatOption = OutputFormat.human,
) -> None:
    """Show one study."""
    from lrbench.cli.tune import render_leaderboard
    from lrbench.study import StudyResult

    store = reading_store(db)
    record = store.require_study(study)
    result = StudyResult.load(store, record)
    if output is OutputFormat.json:
        print_json(
            {**result.to_json(), "config": record.config["config"], "status": study_status(record)}
        )
        return
    config = record.config["config"]
    stdout.print(
        f"{emphasis(record.name)} ({study_status(record)}): task "
        f"{escape(record.task.name)}, strategy {escape(record.strategy)}, "
        f"{config['total_steps']} steps per trial, "
        f"LR {config['lr_min']:g}..{config['lr_max']:g}, seeds {config['seeds']}",
        markup=True,
    )
    stdout.print(render_leaderboard(result, limit=50))
    failed = [t for t in result.trials if t.error and t.status.value == "failed"]
    for trial in failed[:3]:
        last = trial.error.strip().splitlines()[-1] if trial.error else ""
        stdout.print(f"trial {trial.number} failed: {last}", markup=False)


@app.command(
    "top",
    help="The best known policies for a task (or the nearest tasks).\n\n"
    "Examples:\n\n  lrbench db top --task digits-mlp -k 3\n\n"
    "  lrbench db top --task charlm --format json",
)
def top(
    task: Annotated[str, typer.Option("--task", "-t", help="Task name.")],
    k: Annotated[int, typer.Option("-k", min=1, help="How many policies.")] = 5,
    metric: Annotated[str | None, typer.Option(help="Only studies of this metric.")] = None,
    db: DbOption = None,
    output: FormatOption = OutputFormat.human,
) -> None:
    """Top-k policies for a task."""
    from lrbench.store import TaskInfo
    from lrbench.tasks import builtin_names, load_task

    store = reading_store(db)
    # What the store knows of the task first: a built-in is imported (torch and all) only
    # when the store has never seen it and nearest-task search needs its description.
    info = store.known_task(task)
    if info is None and task in builtin_names():
        resolved = load_task(task)
        info = resolved.info(resolved.builtin.total_steps if resolved.builtin else 0)
    info = info or TaskInfo(name=task)
    scores = store.top_k(info, k, metric=metric)
    if output is OutputFormat.json:
        print_json(
            [
                dataclasses.asdict(s) | {"mean": None if math.isnan(s.mean) else s.mean}
                for s in scores
            ]
        )
        return
    if not scores:
        stdout.print(f"nothing known yet for task {task!r}; run `lrbench tune --task {task}`")
        return
    table = Table(title=f"top {len(scores)} policies for {task}")
    for column in ("#", "family", "LR", "policy", "metric", "from"):
        table.add_column(column, overflow="fold")
    for rank, s in enumerate(scores, 1):
        table.add_row(
            str(rank), s.family, f"{s.lr:g}", Text(s.policy), f"{s.metric} {s.mean:.4g}", s.source
        )
    stdout.print(table)


@app.command(
    "export",
    help="Write a study (trials and metric points) to a JSON file.\n\n"
    "Examples:\n\n  lrbench db export my-study -o my-study.json",
)
def export(
    study: Annotated[str, typer.Argument(help="Study name.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="JSON file to write.")],
    db: DbOption = None,
) -> None:
    """Export a study."""
    data = reading_store(db).export_study(study)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(data))
    stderr.print(f"exported {study} ({len(data['trials'])} trials) to {output}", markup=False)
    print(output)


@app.command(
    "import",
    help="Load a study exported with `lrbench db export`.\n\nExamples:\n\n"
    "  lrbench db import my-study.json\n\n"
    "  lrbench db import my-study.json --name my-study-copy",
)
def import_(
    file: Annotated[Path, typer.Argument(help="JSON file from `lrbench db export`.")],
    name: Annotated[str | None, typer.Option(help="Store under this name.")] = None,
    db: DbOption = None,
) -> None:
    """Import a study."""
    from lrbench.store import read_export

    record = _store(db).import_study(read_export(file), name=name)
    stderr.print(f"imported study {record.name}", markup=False)
    print(record.name)


@app.command(
    "upgrade",
    help="Migrate the database schema to this version of LRBench++.\n\n"
    "Examples:\n\n  lrbench db upgrade\n\n"
    "  lrbench db upgrade --db postgresql+psycopg://postgres@127.0.0.1/test",
)
def upgrade(db: DbOption = None) -> None:
    """Upgrade the schema."""
    from lrbench.store import Store

    store = Store.open_for_upgrade(db)
    before, after = store.upgrade()
    if before == after:
        stderr.print(f"{store.display_url} is up to date (schema revision {after})", markup=False)
    else:
        stderr.print(
            f"upgraded {store.display_url}: schema revision {before or 'none'} -> {after}",
            markup=False,
        )


_RECIPE_COLUMNS = (
    "name",
    "model",
    "method",
    "optimizer",
    "policy",
    "LR",
    "epochs",
    "warmup",
    "source",
)


@app.command(
    "recipes",
    help="Published LR recipes used as priors by --strategy topk.\n\n"
    "Examples:\n\n  lrbench db recipes --format json",
)
def recipes(db: DbOption = None, output: FormatOption = OutputFormat.human) -> None:
    """List the published recipes."""
    rows = [dataclasses.asdict(r) for r in recipes_store(db).recipes()]
    if output is OutputFormat.json:
        print_json(rows)
        return
    table = Table(title="published LR recipes")
    for column in _RECIPE_COLUMNS:
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["name"],
            r["model"],
            r["method"],
            r["optimizer"],
            r["family"],
            f"{r['lr']:g}",
            "" if r["epochs"] is None else f"{r['epochs']:g}",
            r["warmup"],
            r["source"],
        )
    stdout.print(table)
