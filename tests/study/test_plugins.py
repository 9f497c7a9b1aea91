"""An objective and a strategy added as plug-ins: one class each, no edit of the runner."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from lrbench.search import STRATEGIES, Candidate, Strategy, register_strategy
from lrbench.study import OBJECTIVES, Objective, StudyConfig, register_objective, tune


class _HalvedLRs(Strategy):
    """Proposes the top of the range and halvings of it, all at once."""

    name = "halved"

    def propose(self, context, history):
        if history:
            return []
        return [
            Candidate(context.templates[0], context.lr_max / 2**k, "halved")
            for k in range(context.trials)
        ]


@dataclasses.dataclass(frozen=True, kw_only=True)
class _ShortThenFull(Objective):
    """A horizon objective in miniature: sweep at a fraction of the budget, then train the
    best short-run LR for the full budget."""

    fraction: float = 0.25
    name = "short-then-full"
    stored_name = "short-then-full"
    json_key = "short_then_full"

    def initial_trials(self, plan, candidates):
        return plan.trial_rows(candidates, total_steps=round(self.fraction * plan.total_steps))

    def next_trials(self, plan, store, study, trials):
        if any(t.total_steps == plan.total_steps for t in trials):
            return []
        best = max(
            (t for t in trials if "accuracy" in t.metrics), key=lambda t: t.metrics["accuracy"]
        )
        return plan.trial_rows([Candidate(best.family, best.lr, "short-run best")])

    def pending_trials(self, plan, study, trials):
        return 0 if any(t.total_steps == plan.total_steps for t in trials) else plan.config.seeds

    def summary(self, result):
        short = [t for t in result.trials if t.total_steps < result.study.budget]
        return {"short_runs": len(short), "chosen_lr": result.best.lr}


@pytest.fixture
def plugins() -> Iterator[None]:
    register_strategy(_HalvedLRs)
    register_objective(_ShortThenFull)
    yield
    del STRATEGIES["halved"], OBJECTIVES["short-then-full"]


def test_a_registered_objective_and_strategy_run_through_the_unchanged_runner(
    plugins: None, tmp_path: Path
) -> None:
    config = StudyConfig(
        task="digits-mlp",
        policies=("cosine",),
        lr_max=1.0,
        strategy="halved",
        trials=4,
        total_steps=80,
        objective=_ShortThenFull(),
    )
    db = f"sqlite:///{tmp_path / 'p.db'}"
    result = tune(config, db=db)
    short = [t for t in result.trials if t.total_steps == 20]
    full = [t for t in result.trials if t.total_steps == 80]
    assert sorted(t.lr for t in short) == [0.125, 0.25, 0.5, 1.0]
    best_short = max(short, key=lambda t: t.metrics["accuracy"])
    assert [t.lr for t in full] == [best_short.lr]
    assert [s.total_steps for s in result.leaderboard] == [80]  # only the full run ranks
    summary = result.to_json()
    assert summary["objective"] == "short-then-full"
    assert summary["short_then_full"] == {"short_runs": 4, "chosen_lr": best_short.lr}
    assert summary["compose"] is None
    again = tune(config, db=db)  # resumes: nothing trains again
    assert [t.attempt for t in again.trials] == [1] * 5
    assert not math.isnan(again.best.mean)
