"""Horizon sweeps read from the store: a study's (or several studies') final results grouped
by training length, for `fit_horizon_law`."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Sequence

from lrbench.exceptions import ConfigError
from lrbench.scaling.horizon import HorizonLaw, fit_horizon_law
from lrbench.store import Store, StudyRecord, TrialRecord, TrialStatus

__all__ = ["StoredSweeps", "stored_law", "stored_sweeps", "trial_sweeps"]


@dataclasses.dataclass(frozen=True)
class StoredSweeps:
    """Final results of one policy family, by horizon (steps).

    Attributes:
        task: The studies' task.
        metric: The studies' metric.
        mode: `min` or `max`.
        family: The policy family whose sweeps these are.
        sweeps: Horizon -> (LRs, final metric values; NaN for runs that diverged).
    """

    task: str
    metric: str
    mode: str
    family: str
    sweeps: dict[float, tuple[list[float], list[float]]]


def stored_sweeps(
    store: Store, studies: Sequence[str], *, family: str | None = None
) -> StoredSweeps:
    """The sweeps in `studies` (same task, metric and mode): for each horizon with results at
    2 or more distinct LRs, the LRs and final values of `family` (default: the family swept
    at the most horizons).

    Raises:
        ConfigError: an unknown study, studies that disagree on task, metric or mode, or no
            family swept at any horizon.
    """
    records = [_study(store, name) for name in studies]
    first = records[0]
    for other in records[1:]:
        if (other.task.name, other.metric, other.mode) != (
            first.task.name,
            first.metric,
            first.mode,
        ):
            raise ConfigError(
                f"studies {first.name!r} and {other.name!r} differ in task, metric or mode; "
                "fit a law over studies of one task and metric"
            )
    ended = [
        t
        for record in records
        for t in store.trials(record.id)
        if t.status in (TrialStatus.complete, TrialStatus.diverged)
    ]
    by_family = {
        f: trial_sweeps([t for t in ended if t.family == f], first.metric)
        for f in {t.family for t in ended}
    }
    swept = {f: s for f, s in by_family.items() if s}
    if family is None:
        if not swept:
            raise ConfigError(
                f"no policy family of {', '.join(map(repr, studies))} was swept over 2 or "
                "more LRs at any training length"
            )
        counts = Counter(t.family for t in ended)
        family = max(swept, key=lambda f: (len(swept[f]), counts[f], f))
    elif family not in swept:
        raise ConfigError(
            f"`family` {family!r} was not swept over 2 or more LRs at any training length; "
            f"swept: {', '.join(sorted(swept)) or 'none'}"
        )
    return StoredSweeps(first.task.name, first.metric, first.mode, family, swept[family])


def stored_law(
    store: Store, studies: Sequence[str], *, family: str | None = None, seed: int = 0
) -> tuple[StoredSweeps, HorizonLaw]:
    """`stored_sweeps` and the horizon law fitted over them."""
    found = stored_sweeps(store, studies, family=family)
    return found, fit_horizon_law(found.sweeps, mode=found.mode, seed=seed)


def _study(store: Store, name: str) -> StudyRecord:
    record = store.study(name)
    if record is None:
        known = ", ".join(s.name for s in store.studies()) or "none"
        raise ConfigError(f"no study named {name!r} in {store.display_url}; known: {known}")
    return record


def trial_sweeps(
    trials: Sequence[TrialRecord], metric: str
) -> dict[float, tuple[list[float], list[float]]]:
    """Horizon -> (LRs, final `metric`; NaN for a trial that did not complete) of `trials`,
    for the horizons with finite results at 2 or more distinct LRs."""
    sweeps: dict[float, tuple[list[float], list[float]]] = {}
    for trial in trials:
        lrs, values = sweeps.setdefault(float(trial.total_steps), ([], []))
        lrs.append(trial.lr)
        values.append(
            trial.metrics.get(metric, math.nan)
            if trial.status is TrialStatus.complete
            else math.nan
        )
    return {
        horizon: sweep
        for horizon, sweep in sweeps.items()
        if len({lr for lr, v in zip(*sweep, strict=True) if math.isfinite(v)}) >= 2
    }
