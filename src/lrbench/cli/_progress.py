"""Progress on stderr: rich bars on a terminal, plain log lines otherwise, nothing when quiet."""

from __future__ import annotations

import math
import sys

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lrbench.cli._common import stderr
from lrbench.execution import TrialJob, TrialOutcome
from lrbench.store import PolicyScore, StudyRecord
from lrbench.study import StudyEvents


def _best_line(best: PolicyScore | None) -> str:
    if best is None:
        return "best: none yet"
    return f"best {best.metric}={best.mean:.4g} {best.policy}"


class PlainEvents(StudyEvents):
    """One log line per finished trial (for logs, pipes and CI)."""

    def __init__(self) -> None:
        self.done = 0
        self.total = 0

    def started(self, study: StudyRecord, total: int, pending: int) -> None:
        self.total = pending
        resumed = f", resuming: {total - pending} already done" if pending < total else ""
        stderr.print(
            f"study {study.name}: {pending} trials to run{resumed}", markup=False, highlight=False
        )

    def trial_finished(self, outcome: TrialOutcome, best: PolicyScore | None) -> None:
        self.done += 1
        value = "" if math.isnan(outcome.value) else f" {outcome.value:.4g}"
        stderr.print(
            f"[{self.done}/{self.total}] trial {outcome.number} "
            f"{outcome.status.value}{value} {outcome.policy} "
            f"({outcome.cost_seconds:.1f}s) | {_best_line(best)}",
            markup=False,
            highlight=False,
        )


class RichEvents(StudyEvents):
    """A study bar and a trial bar with the best so far, on a terminal."""

    def __init__(self) -> None:
        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=stderr,
            transient=False,
        )
        self.study_bar = self.bars.add_task("study", total=None)
        self.trial_bar = self.bars.add_task("trial", total=None, visible=False)

    def started(self, study: StudyRecord, total: int, pending: int) -> None:
        self.bars.start()
        self.bars.update(
            self.study_bar,
            total=pending,
            description=f"{study.name} ({total - pending} done before)",
        )

    def trial_started(self, job: TrialJob) -> None:
        self.bars.reset(
            self.trial_bar,
            total=job.total_steps,
            visible=True,
            description=f"trial {job.number}: {job.policy[:60]}",
        )

    def progress(self, step: int) -> None:
        self.bars.update(self.trial_bar, completed=step)

    def trial_finished(self, outcome: TrialOutcome, best: PolicyScore | None) -> None:
        self.bars.advance(self.study_bar)
        self.bars.console.print(
            f"trial {outcome.number} {outcome.status.value} "
            f"{'' if math.isnan(outcome.value) else f'{outcome.value:.4g} '}| "
            f"{_best_line(best)}",
            markup=False,
            highlight=False,
        )

    def close(self) -> None:
        """Stop drawing."""
        self.bars.stop()


def make_events(quiet: bool) -> StudyEvents:
    """Rich bars on a terminal, plain lines otherwise, nothing when quiet."""
    if quiet:
        return StudyEvents()
    return RichEvents() if sys.stderr.isatty() else PlainEvents()
