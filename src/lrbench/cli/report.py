"""`lrbench report`: a self-contained HTML report of one study, or a comparison of several."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lrbench.cli._common import DbOption, QuietOption, reading_store, stderr
from lrbench.exceptions import ConfigError

HELP = """Write an HTML report (figures inline, a page per trial) that opens with no server.

Examples:

  lrbench report demo-digits-mlp -o report/

  lrbench report study-a study-b -o compare/

  lrbench report --task charlm -o charlm-report/ --db postgresql+psycopg://postgres@127.0.0.1/test
"""


def report(
    studies: Annotated[list[str] | None, typer.Argument(help="Study names.")] = None,
    output_dir: Annotated[Path, typer.Option("--output", "-o", help="Folder to write.")] = Path(
        "report"
    ),
    task: Annotated[
        str | None, typer.Option("--task", "-t", help="Every study of this task.")
    ] = None,
    trial_pages: Annotated[bool, typer.Option(help="Write one page per trial.")] = True,
    db: DbOption = None,
    quiet: QuietOption = False,
) -> None:
    """Write the HTML report."""
    from lrbench.viz.report import write_report

    store = reading_store(db)
    names = list(studies or [])
    if task is not None:
        names += [
            s.name
            for s in reversed(store.studies())
            if s.task.name == task and s.name not in names
        ]
        if not names:
            raise ConfigError(f"no study of task {task!r} in {store.display_url}")
    if not names:
        raise ConfigError("give one or more study names, or --task TASK (see `lrbench db ls`)")
    index = write_report(store, names, output_dir, trial_pages=trial_pages)
    if not quiet:
        stderr.print(f"report: {index}", markup=False)
    print(index)
