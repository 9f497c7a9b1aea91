"""Progress on stderr: rich bars on a terminal, plain log lines otherwise, nothing when quiet."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable

from rich import box
from rich.console import RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from lrbench.cli._common import stderr
from lrbench.execution import TrialJob, TrialOutcome
from lrbench.store import PolicyScore, StudyRecord
from lrbench.study import Standings, StudyEvents


def _best_line(best: PolicyScore | None) -> str:
    if best is None:
        return "best: none yet"
    return f"best {best.metric}={best.mean:.4g} {best.policy}"


class PlainEvents(StudyEvents):
    """One log line per finished trial (for logs, pipes and CI)."""

    def __init__(self) -> None:
        self.done = 0
        self.total = 0
        self.told_waiting = False

    def started(self, study: StudyRecord, total: int, pending: int) -> None:
        self.total = pending
        resumed = f", resuming: {total - pending} already done" if pending < total else ""
        stderr.print(
            f"study {study.name}: {pending} trials to run{resumed}", markup=False, highlight=False
        )

    def trials_dropped(self, count: int, reason: str) -> None:
        self.total -= count
        stderr.print(f"{count} trial(s) dropped: {reason}", markup=False, highlight=False)

    def waiting(self, count: int) -> None:
        if not self.told_waiting:
            stderr.print(
                f"waiting: the {count} unfinished trial(s) run in other workers",
                markup=False,
                highlight=False,
            )
        self.told_waiting = True

    def trial_finished(self, outcome: TrialOutcome, standings: Standings) -> None:
        self.done += 1
        best = standings.best()
        value = "" if math.isnan(outcome.value) else f" {outcome.value:.4g}"
        stderr.print(
            f"[{self.done}/{self.total}] trial {outcome.number} "
            f"{outcome.status.value}{value} {outcome.policy} "
            f"({outcome.cost_seconds:.1f}s) | {_best_line(best)}",
            markup=False,
            highlight=False,
        )


class _BarsAndLeaderboard(Progress):
    """Progress bars with a live leaderboard drawn under them."""

    def __init__(self, events: RichEvents) -> None:
        self.events = events  # read by get_renderables, which the base class calls at once
        super().__init__(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=stderr,
            transient=False,
        )

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        yield self.events.leaderboard()


class RichEvents(StudyEvents):
    """A study bar, a trial bar, and a live leaderboard (best so far, statuses, cost)."""

    def __init__(self) -> None:
        self.ranked: list[PolicyScore] = []
        self.metric = ""
        self.statuses: dict[str, int] = {}
        self.cost_steps = 0
        self.cost_seconds = 0.0
        self.bars = _BarsAndLeaderboard(self)
        self.study_bar = self.bars.add_task("study", total=None)
        self.trial_bar = self.bars.add_task("trial", total=None, visible=False)

    def started(self, study: StudyRecord, total: int, pending: int) -> None:
        self.metric = study.metric
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

    def trials_dropped(self, count: int, reason: str) -> None:
        total = self.bars.tasks[self.study_bar].total or 0
        self.bars.update(self.study_bar, total=max(0, total - count))
        self.bars.console.print(f"{count} trial(s) dropped: {reason}", markup=False)

    def waiting(self, count: int) -> None:
        self.bars.update(
            self.trial_bar, visible=True, description=f"waiting: {count} run in other workers"
        )

    def trial_finished(self, outcome: TrialOutcome, standings: Standings) -> None:
        self.bars.advance(self.study_bar)
        self.statuses[outcome.status.value] = self.statuses.get(outcome.status.value, 0) + 1
        self.cost_steps += outcome.cost_steps
        self.cost_seconds += outcome.cost_seconds
        self.ranked = [s for s in standings.ranked() if not math.isnan(s.mean)]

    def leaderboard(self) -> RenderableType:
        """Best configurations so far, trials by status, and the cost spent."""
        table = Table(box=box.SIMPLE, show_edge=False, pad_edge=False, expand=False)
        table.add_column("best so far", overflow="fold")
        table.add_column(self.metric or "metric", justify="right")
        for score in self.ranked[:3]:  # ranked as the stored leaderboard ranks
            table.add_row(Text(score.policy), f"{score.mean:.4g}")
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items())) or "none yet"
        table.caption = (
            f"trials: {statuses} | cost: {self.cost_steps:,} steps, {self.cost_seconds:.1f} s"
        )
        return table

    def close(self) -> None:
        """Stop drawing."""
        self.bars.stop()


def make_events(quiet: bool) -> StudyEvents:
    """Rich bars on a terminal, plain lines otherwise, nothing when quiet."""
    if quiet:
        return StudyEvents()
    return RichEvents() if sys.stderr.isatty() else PlainEvents()
