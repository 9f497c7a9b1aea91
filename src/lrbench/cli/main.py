"""The `lrbench` application: one module per command, errors as one line with exit code 2,
Ctrl-C as one line with the resume hint and exit code 130."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Annotated

# Progress is the CLI's to show (rich, on stderr): no tqdm bars from the libraries a study runs
# (Hugging Face datasets, lm-eval). tqdm reads this when it is first imported, so it is set
# before anything here imports it; worker processes inherit it.
os.environ.setdefault("TQDM_DISABLE", "1")

import typer

from lrbench.cli import (
    db,
    demo,
    plot,
    policies,
    rangetest,
    recommend,
    report,
    scale,
    schedule,
    tune,
)
from lrbench.cli._common import stderr
from lrbench.exceptions import LRBenchError

app = typer.Typer(
    name="lrbench",
    help="LRBench++: benchmark, select and tune learning-rate policies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(asked: bool) -> None:
    if asked:
        from lrbench import __version__

        print(f"lrbench {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """LRBench++: benchmark, select and tune learning-rate policies."""


app.command("policies", help=policies.HELP)(policies.policies)
app.command("schedule", help=schedule.HELP)(schedule.schedule)
app.command("plot", help=plot.HELP)(plot.plot)
app.command("demo", help=demo.HELP)(demo.demo)
app.command("tune", help=tune.HELP)(tune.tune_command)
app.command("report", help=report.HELP)(report.report)
app.command("range-test", help=rangetest.HELP)(rangetest.range_test_command)
app.command("recommend", help=recommend.HELP)(recommend.recommend_command)
app.add_typer(db.app, name="db")
app.add_typer(scale.app, name="scale")

# Typer's usage errors (bad option values, missing arguments) all derive from this class of its
# bundled Click; it is reached through the public `typer.BadParameter` to stay on public API.
_USAGE_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def _fail(message: str, command: str | None = None) -> int:
    hint = f" (see `lrbench {command} --help`)" if command else ""
    stderr.print(f"lrbench: error: {message}{hint}", markup=False, highlight=False)
    return 2


class _Stopped(BaseException):
    """Ctrl-C or SIGTERM, raised where the program is, so that a study releases its trials
    on the way out. Not KeyboardInterrupt, which Typer turns into a silent exit, and a
    BaseException: no `except Exception` may swallow it."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stopped


_RESUMABLE = ("tune", "demo")


def _interrupted(command: str | None) -> int:
    """Say what was kept and how to go on; the shell's code for a stop by Ctrl-C, 130."""
    hint = (
        "; what finished is stored: run the same command again to resume"
        if command in _RESUMABLE
        else ""
    )
    stderr.print(f"lrbench: interrupted{hint}", markup=False, highlight=False)
    return 130


def _command_of(args: list[str]) -> str | None:
    """The command the arguments name (`db export` for a group's command), for help hints."""
    words = [a for a in args if not a.startswith("-")]
    if not words:
        return None
    group = app.registered_groups
    if words[0] in {g.name for g in group} and len(words) > 1:
        return f"{words[0]} {words[1]}"
    return words[0]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; known errors print one line on stderr and return exit code 2, Ctrl-C
    and SIGTERM one line and 130."""
    args = sys.argv[1:] if argv is None else argv
    with _stopping_on_signals():
        code = _run(args)
    if argv is None:
        sys.exit(code)
    return code


def _run(args: list[str]) -> int:
    command = _command_of(args)
    try:
        result = app(args=args, prog_name="lrbench", standalone_mode=False)
    except LRBenchError as error:
        return _fail(str(error))
    except _USAGE_ERROR as error:
        return _fail(getattr(error, "format_message", error.__str__)(), command)
    except (KeyboardInterrupt, typer.Abort, _Stopped):
        return _interrupted(command)
    except OSError as error:  # a path given (-o, a file to read) the system refuses
        if error.filename is None:
            raise
        return _fail(f"cannot use {error.filename!s}: {error.strerror or error}")
    return result if isinstance(result, int) else 0


@contextlib.contextmanager
def _stopping_on_signals() -> Iterator[None]:
    """Ctrl-C and SIGTERM raise `_Stopped` while the CLI runs (the main thread only can
    take signals); the handlers before are put back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {number: signal.signal(number, _stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


if __name__ == "__main__":
    main()
