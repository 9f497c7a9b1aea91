"""The Trial: what a task's training function receives, and how it reports back.

A task is any callable `train(trial) -> dict[str, float]`. It reads `trial.policy`,
`trial.total_steps`, `trial.seed` and `trial.params`, gets a Monitor with
`trial.monitor(optimizer)`, calls `monitor.step(loss=...)` after each update and
`trial.report(step, **metrics)` whenever it evaluates, and returns its final metrics::

    def train(trial):
        torch.manual_seed(trial.seed)
        model = ...
        optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # the policy sets the LR
        monitor = trial.monitor(optimizer)
        for step in range(trial.total_steps):
            loss = ...; loss.backward(); optimizer.step(); optimizer.zero_grad()
            monitor.step(loss=loss)
            if (step + 1) % 50 == 0:
                trial.report(step + 1, val_loss=evaluate(model))
        return {"val_loss": evaluate(model)}

Outside a study, `Trial(policy=..., total_steps=...)` runs a task by hand.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from lrbench._numbers import LARGEST_STORED_INTEGER, is_number
from lrbench.exceptions import ConfigError, Diverged, TrialPruned
from lrbench.monitor import Monitor
from lrbench.policies import Policy, parse

__all__ = ["Reporter", "Trial", "TrialPruned"]

#: Receives `(step, metrics)` for each report; a study stores them as they arrive.
Reporter = Callable[[int, Mapping[str, float]], None]


class Trial:
    """One run of a task under one policy, seed and budget.

    Args:
        policy: The policy (or spec) to train with.
        total_steps: The budget in optimizer updates.
        seed: The seed the task should use for initialisation and data order.
        params: The task's own settings.
        number: The trial's number in its study.
        reporter: Called with each report (the study stores the points).
        should_prune: Called after each report; True stops the trial (`TrialPruned`).
        on_progress: Called with the step of each report, for progress bars.
        start_step: The step a forked trial starts from (0 for a fresh run).
        checkpoint: What the parent trial saved at `start_step` (None for a fresh run): the
            task's state (`trial.resume_state`) and its Monitor's.
        checkpoint_steps: Steps at which the study wants the task's state.
        on_checkpoint: Receives `(step, checkpoint)` from `save_checkpoint`.
        sweep: The trial is a range test's sweep: only the loss of every update matters (a
            `Trainer` then logs every step and skips evaluation).
        pruned_on: The metric a pruner compares at this trial's reports (successive
            halving), or None when only divergence or the target stops it early. A task may
            spend costly evaluations of other metrics only on trials that reach their end.

    Checkpoints (optional; they let `--objective compose` fork a trained phase instead of
    training it again): a task that supports them loads `trial.resume_state` when it is not
    None, loops `for step in range(trial.start_step, trial.total_steps)`, and calls
    `trial.save_checkpoint(step, state)` where `trial.wants_checkpoint(step)`.
    """

    def __init__(
        self,
        *,
        policy: Policy | str | Mapping[str, Any],
        total_steps: int,
        seed: int = 0,
        params: Mapping[str, Any] | None = None,
        number: int = 0,
        reporter: Reporter | None = None,
        should_prune: Callable[[int, Mapping[str, float]], bool] | None = None,
        on_progress: Callable[[int], None] | None = None,
        start_step: int = 0,
        checkpoint: Mapping[str, Any] | None = None,
        checkpoint_steps: Collection[int] = (),
        on_checkpoint: Callable[[int, Any], None] | None = None,
        sweep: bool = False,
        pruned_on: str | None = None,
    ) -> None:
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
            raise ConfigError(f"`total_steps` must be an integer >= 1, got {total_steps!r}")
        self.policy = parse(policy)
        self.total_steps = total_steps
        self.seed = seed
        self.params: dict[str, Any] = dict(params or {})
        self.number = number
        self.samples_per_step = 0
        self.tokens_per_step = 0
        self.history: dict[str, list[tuple[int, float]]] = {}
        self._reporter = reporter
        self._should_prune = should_prune
        self._on_progress = on_progress
        self._monitor: Monitor | None = None
        self._started = time.perf_counter()
        self.start_step = start_step
        self.resume_state = None if checkpoint is None else checkpoint["task"]
        self._resume_monitor = None if checkpoint is None else checkpoint["monitor"]
        self._checkpoint_steps = frozenset(checkpoint_steps)
        self._on_checkpoint = on_checkpoint
        self.sweep = sweep
        self.pruned_on = pruned_on

    def monitor(self, optimizer: Any, **options: Any) -> Monitor:
        """A Monitor on `optimizer`, already holding the step-0 LR.

        It raises `Diverged` as soon as the loss diverges, which ends the trial as diverged.
        `options` go to `Monitor` (e.g. `lr_multipliers`).
        """
        options.setdefault("on_divergence", "raise")
        self._monitor = Monitor(self.policy, optimizer, **options)
        if self._resume_monitor is not None:
            self._monitor.continue_from(self._resume_monitor)
        self._monitor.seek(self.start_step)
        return self._monitor

    def wants_checkpoint(self, step: int) -> bool:
        """True where the study asks for the task's state after `step` updates."""
        return self._on_checkpoint is not None and step in self._checkpoint_steps

    def save_checkpoint(self, step: int, state: Any) -> None:
        """Hand the task's state after `step` updates to the study (model, optimizer, data
        order: whatever the task needs to go on exactly from there)."""
        if self._on_checkpoint is not None:
            monitor = None if self._monitor is None else self._monitor.state_dict()
            self._on_checkpoint(step, {"task": state, "monitor": monitor})

    def report(self, step: int, **metrics: float) -> None:
        """Record metrics at `step` (stored at once in a study); may raise `TrialPruned`.

        The metrics also reach the Monitor, so adaptive policies (`plateau`,
        `switch_on_plateau`) react to them. A NaN or infinite value ends the trial as
        diverged (`Diverged`), after the report's finite values are stored; the same on
        every database.

        Raises:
            ConfigError: `step` is not an integer in 0..2^63-1 (the trial fails, saying so).
        """
        step = _checked_step(step)
        values = {name: float(value) for name, value in metrics.items()}
        finite = {name: value for name, value in values.items() if math.isfinite(value)}
        for name, value in finite.items():
            self.history.setdefault(name, []).append((step, value))
        if self._monitor is not None:
            self._monitor.report(**finite)
        if self._reporter is not None and finite:
            self._reporter(step, finite)
        if self._on_progress is not None:
            self._on_progress(step)
        broken = [name for name in values if name not in finite]
        if broken:
            name = broken[0]
            raise Diverged(step, values[name], f"the task reported {name}={values[name]}")
        if self._should_prune is not None and self._should_prune(step, values):
            raise TrialPruned(f"trial {self.number} pruned at step {step}")

    @property
    def active_monitor(self) -> Monitor | None:
        """The Monitor made by `monitor()`, once the task has asked for one."""
        return self._monitor

    @property
    def steps_done(self) -> int:
        """Updates done by this trial (from `start_step`), as counted by the Monitor (or
        the last reported step)."""
        if self._monitor is not None:
            return self._monitor.step_count - self.start_step
        last = max((s for points in self.history.values() for s, _ in points), default=0)
        return max(0, last - self.start_step)

    @property
    def seconds(self) -> float:
        """Wall time since the trial was created."""
        return time.perf_counter() - self._started

    def cost(self) -> dict[str, float]:
        """Steps, samples, tokens and seconds spent so far."""
        steps = self.steps_done
        return {
            "steps": steps,
            "samples": steps * self.samples_per_step,
            "tokens": steps * self.tokens_per_step,
            "seconds": self.seconds,
        }

    def final_metrics(self, returned: Mapping[str, Any] | None) -> dict[str, float]:
        """The task's returned metrics, checked to be numbers."""
        if returned is None:
            return {}
        if not isinstance(returned, Mapping):
            raise ConfigError(
                f"a task must return a dict of metrics, got {type(returned).__name__}"
            )
        out = {}
        for name, value in returned.items():
            if not is_number(value):
                raise ConfigError(f"metric {name!r} must be a number, got {value!r}")
            out[str(name)] = float(value)
        return out

    def last_reported(self, name: str) -> float:
        """The last reported value of a metric, NaN if never reported."""
        points = self.history.get(name)
        return points[-1][1] if points else math.nan


def _checked_step(step: Any) -> int:
    """`step` as an int, refused unless a whole number in 0..2^63-1."""
    try:
        whole = int(step)
    except (TypeError, ValueError, OverflowError):
        whole = -1
    if whole != step or not 0 <= whole <= LARGEST_STORED_INTEGER:
        raise ConfigError(
            f"trial.report(step=...) must be a whole number in 0..2^63-1, got {step!r}"
        )
    return whole
