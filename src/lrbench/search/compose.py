"""Multi-policy composition: the best sequence of policies across training phases.

The budget is cut into equal phases. Phase 1 trains every candidate policy for the first phase
only, and each trial saves its state where the phase ends. The `keep` best are forked: a child
loads its parent's state and trains the next phase under one candidate, so its policy is
`sequence(stages=[the parent's stages..., the candidate], boundaries=[...])`. The last phase's
trials run to the full budget, next to the same candidates trained as single policies over the
full budget: the comparison the result reports.

Phases are read off the stored trials (a trial's budget is the end of its phase; a sequence's
stages are its ancestry), so a study needs no extra columns and resumes like any other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from lrbench._files import checkpoint_path
from lrbench.evaluate import Direction, rank_key, seed_spread
from lrbench.policies import Policy, parse
from lrbench.search._base import Candidate
from lrbench.search.templates import make_policy
from lrbench.store import TrialRecord, TrialStatus

__all__ = [
    "fork_rows",
    "forks",
    "next_phase_rows",
    "parent_policy",
    "phase_ends",
    "phase_rows",
    "phases_left",
    "select_parents",
]


def phase_ends(total_steps: int, phases: int) -> list[int]:
    """The step at which each phase ends; the last is `total_steps`."""
    return [round(total_steps * (k + 1) / phases) for k in range(phases)]


def _stages(policy: Policy) -> list[Policy]:
    return list(policy.stages) if policy.name == "sequence" else [policy]  # type: ignore[attr-defined]


def _sequence(stages: Sequence[Policy], ends: Sequence[int]) -> str:
    if len(stages) == 1:
        return str(stages[0])
    boundaries = ",".join(str(end) for end in ends[: len(stages) - 1])
    return f"sequence(stages=[{','.join(str(s) for s in stages)}],boundaries=[{boundaries}])"


def parent_policy(policy: str, ends: Sequence[int]) -> str | None:
    """The policy of the trial a forked trial continues (None for a phase-1 or single trial)."""
    stages = _stages(parse(policy))
    if len(stages) < 2:
        return None
    return _sequence(stages[:-1], ends)


def phase_rows(
    candidates: Sequence[Candidate], ends: Sequence[int], seeds: int
) -> list[dict[str, Any]]:
    """Phase-1 trials (each candidate over the first phase) and the full-budget singles."""
    rows = []
    for budget in (ends[0], ends[-1]):
        for candidate in candidates:
            policy = make_policy(candidate.template, candidate.lr, budget)
            rows += [
                _row(str(policy), policy.name, candidate.lr, seed, budget) for seed in range(seeds)
            ]
    return rows


def select_parents(
    trials: Sequence[TrialRecord],
    phase_end: int,
    metric: str,
    mode: str | Direction,
    keep: int,
) -> list[TrialRecord]:
    """The completed seeds' trials of the `keep` best policies that ended at `phase_end`.

    Policies are scored by the one rule (`seed_spread` over the seeds that completed); a
    seed that diverged or failed has no state to go on from and is not forked.
    """
    by_policy: dict[str, list[TrialRecord]] = {}
    for trial in trials:
        if trial.total_steps == phase_end:
            by_policy.setdefault(trial.policy, []).append(trial)

    def completed(runs: list[TrialRecord]) -> list[TrialRecord]:
        return [t for t in runs if t.status is TrialStatus.complete and metric in t.metrics]

    def mean(runs: list[TrialRecord]) -> float:
        return seed_spread([t.metrics[metric] for t in completed(runs)])[0]

    ranked = sorted(by_policy.values(), key=lambda runs: rank_key(mean(runs), mode))
    kept = [runs for runs in ranked[:keep] if not math.isnan(mean(runs))]
    return [trial for runs in kept for trial in completed(runs)]


def fork_rows(
    parents: Sequence[TrialRecord], candidates: Sequence[Candidate], ends: Sequence[int]
) -> list[dict[str, Any]]:
    """The next phase's trials: each parent continued under each candidate."""
    rows = []
    for parent in parents:
        stages = _stages(parse(parent.policy))
        phase = len(stages)
        length = ends[phase] - ends[phase - 1]
        for candidate in candidates:
            stage = make_policy(candidate.template, candidate.lr, length)
            policy = _sequence([*stages, stage], ends)
            rows.append(_row(policy, "sequence", candidate.lr, parent.seed, ends[phase]))
    return rows


def _row(policy: str, family: str, lr: float, seed: int, total_steps: int) -> dict[str, Any]:
    return {"policy": policy, "family": family, "lr": lr, "seed": seed, "total_steps": total_steps}


def forks(
    trials: Sequence[TrialRecord], ends: Sequence[int], directory: str
) -> dict[int, dict[str, Any]]:
    """Per trial id: where it saves its state, and which saved state it loads (the `TrialJob`
    fields `checkpoint_dir`, `checkpoint_steps`, `start_step`, `resume_from`).

    A forked trial whose parent left no checkpoint (a task without checkpoint support) trains
    from step 0 under its whole sequence instead: the same result, at the full cost.
    """
    total_steps = ends[-1]
    # Parents end before the full budget (a spec such as `fixed(lr=0.1)` may also be a single).
    parents = {(t.policy, t.seed): t for t in trials if t.total_steps < total_steps}
    found: dict[int, dict[str, Any]] = {}
    for trial in trials:
        fork: dict[str, Any] = {"checkpoint_dir": directory}
        if trial.total_steps < total_steps:
            fork["checkpoint_steps"] = (trial.total_steps,)
        spec = parent_policy(trial.policy, ends)
        parent = parents.get((spec, trial.seed)) if spec else None
        if parent is not None:
            path = checkpoint_path(directory, parent.id, parent.total_steps)
            if path.exists():
                fork |= {"start_step": parent.total_steps, "resume_from": str(path)}
        found[trial.id] = fork
    return found


def _forked(trials: Sequence[TrialRecord], ends: Sequence[int]) -> set[int]:
    """The phase ends that forked trials already run to."""
    return {t.total_steps for t in trials if parent_policy(t.policy, ends)}


def next_phase_rows(
    trials: Sequence[TrialRecord],
    candidates: Sequence[Candidate],
    ends: Sequence[int],
    *,
    metric: str,
    direction: Direction,
    keep: int,
) -> list[dict[str, Any]]:
    """The first phase not forked yet, forked from its best trials; [] when the study is done
    (or when every trial of that phase diverged or failed)."""
    forked = _forked(trials, ends)
    for phase, end in enumerate(ends[:-1]):
        if ends[phase + 1] in forked:
            continue
        return fork_rows(select_parents(trials, end, metric, direction, keep), candidates, ends)
    return []


def phases_left(trials: Sequence[TrialRecord], ends: Sequence[int]) -> int:
    """Phases whose forked trials are still to be added."""
    forked = _forked(trials, ends)
    return sum(end not in forked for end in ends[1:])
