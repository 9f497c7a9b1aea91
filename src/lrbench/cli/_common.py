"""Options and output helpers shared by the commands."""

from __future__ import annotations

import enum
import json
import logging
import os
import sys
import warnings
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape


class OutputFormat(str, enum.Enum):
    """Output of listing commands: for people, or one JSON document for programs."""

    human = "human"
    json = "json"


FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="human: tables for people; json: one JSON document."),
]

StepsOption = Annotated[
    int,
    typer.Option(
        "--steps", "-n", min=1, max=10**7, help="Number of steps to evaluate (1 to 10^7)."
    ),
]

# What we print holds names users chose (studies, tasks, paths, policies): no markup and no
# emoji codes by default, so `[lo, hi]` and `my_task.py:train:` print as written. A line that
# styles a word asks for markup itself, with `emphasis` around every value in it.
# Into a pipe or a file, tables are as wide as their rows: nothing is cut or folded for grep.
_PIPE_WIDTH = 10_000
stdout = Console(
    soft_wrap=True, emoji=False, markup=False,
    width=None if sys.stdout.isatty() else _PIPE_WIDTH,
)  # fmt: skip
stderr = Console(stderr=True, soft_wrap=True, emoji=False, markup=False)


def emphasis(value: object, style: str = "bold") -> str:
    """`value` in `style`, as markup for a `print(..., markup=True)` (its text escaped)."""
    return f"[{style}]{escape(str(value))}[/{style}]"


def print_json(data: Any) -> None:
    """Write exactly one JSON document to stdout."""
    sys.stdout.write(json.dumps(data) + "\n")


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="LRBENCH_DB",
        help="Database URL \\[default: sqlite:///lrbench.db; env LRBENCH_DB].",
    ),
]

QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]


def reading_store(db: str | None) -> Any:
    """The store at `db` for a command that only reads: a missing SQLite file is an error
    (`StorageError`), never an empty database left behind."""
    from lrbench.store import Store

    return Store(db, create=False)


def recipes_store(db: str | None) -> Any:
    """The store at `db`, or, where its SQLite file does not exist, one in memory that holds
    only the built-in recipes (advice needs no database, and leaves none behind)."""
    from lrbench.store import Store
    from lrbench.store._engine import missing_sqlite_file, resolve_url

    return Store("sqlite://" if missing_sqlite_file(resolve_url(db)) else db)


def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """`key=value` pairs into a dict; values parsed as JSON when they can be (numbers, true)."""
    from lrbench.exceptions import ConfigError

    params: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"`--param` must be key=value, got {pair!r}")
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value
    return params


def quiet_libraries() -> None:
    """Keep Optuna's per-study INFO lines, Hugging Face's weight-loading progress bars, peft's
    use of an API that transformers 5 deprecated and lm-eval's per-score warnings off the
    terminal (the library itself sets no logging: this is the application's choice, passed
    on to worker processes)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # read when transformers loads
    warnings.filterwarnings(
        "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
    )
    # lm-eval warns on every score that it was handed a model object, which is how we call it.
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
