"""Predicted schedules: fit the loss law on two short runs, train only what it ranks best.

At each peak LR the strategy proposes, a constant run and a cosine run train for
`fit_fraction` of the budget (default all of it: fitted on a quarter of the budget, the law
extrapolated to the full one with 10-18x the error on charlm and digits-mlp, see
docs/benchmarks.md); their reported curves fit the annealing law of Tissue et al.
(2024) (`lrbench.scaling.schedule_law`), which predicts the final loss of every candidate
schedule over the full budget: each family in `--policies` at that LR, and WSD with each
decay shape (linear, sqrt, cosine) and a decay of 10%, 20% or 30% of the budget. Only the
`train_top` schedules predicted best are trained in full (where no law could be fitted, the
fit run of the lowest loss is). The study's JSON and report give predicted against measured
for every schedule trained in full.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from lrbench.exceptions import ConfigError
from lrbench.scaling import MeasuredCurve, fit_annealing_law, rank_schedules
from lrbench.search import Candidate, make_policy
from lrbench.search.templates import family_of
from lrbench.store import Store, StudyRecord, TrialRecord, TrialStatus
from lrbench.study.objectives._base import (
    Objective,
    refuse_adaptive_strategy,
    register_objective,
)

__all__ = ["PredictedSchedules", "candidate_schedules"]

#: The decay shapes and lengths (fractions of the budget) of the WSD candidates.
WSD_SHAPES = ("linear", "sqrt", "cosine")
WSD_DECAYS = (0.1, 0.2, 0.3)
#: The two fit runs: a constant LR (the law's power term) and a decay (its annealing term).
FIT_TEMPLATES = ("fixed", "cosine")
#: Where the law's findings are kept with the study (`Store.annotate_study`).
ANNOTATION = "schedule_law"


def candidate_schedules(families: Sequence[str], lr: float, total_steps: int) -> list[str]:
    """Every schedule ranked at peak LR `lr`: each family's template, with `wsd` expanded
    into each decay shape x decay length."""
    specs = []
    for family in families:
        if family_of(family) != "wsd" or "(" in family:
            specs.append(str(make_policy(family, lr, total_steps)))
            continue
        warmup = max(1, round(0.03 * total_steps))
        for decay in WSD_DECAYS:
            for shape in WSD_SHAPES:
                steps = max(1, round(decay * total_steps))
                specs.append(
                    f"wsd(lr={lr!r},total_steps={total_steps},warmup_steps={warmup},"
                    f"decay_steps={steps},decay_shape={shape})"
                )
    return list(dict.fromkeys(specs))


@register_objective
@dataclasses.dataclass(frozen=True, kw_only=True)
class PredictedSchedules(Objective):
    """Rank schedules by the loss law fitted on two short runs; train the best in full.

    Attributes:
        fit_fraction: Length of the two fit runs, as a fraction of the budget (0, 1].
        train_top: Schedules trained in full, the best predicted first.
    """

    fit_fraction: float = 1.0
    train_top: int = 1

    name = "schedule"
    stored_name = "predicted-schedules"
    json_key = "schedule"
    description = "fit the loss law on a constant and a cosine run; train only the best-ranked"
    listing = 4

    def validate(self, config: Any) -> None:
        if not 0.0 < self.fit_fraction <= 1.0:
            raise ConfigError(f"`--fit-fraction` must be in (0, 1], got {self.fit_fraction}")
        if self.train_top < 1:
            raise ConfigError(f"`--train-top` must be >= 1, got {self.train_top}")
        refuse_adaptive_strategy(config, "schedule", "fits its law on runs chosen up front")

    def fit_steps(self, total_steps: int) -> int:
        """The fit runs' length in updates."""
        return max(1, round(self.fit_fraction * total_steps))

    def initial_trials(self, plan: Any, candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
        if plan.direction.value != "min":
            raise ConfigError(
                f"`--objective schedule` predicts a loss (lower is better), but {plan.metric!r} "
                "is maximised: give a loss metric with --metric and --mode min"
            )
        lrs = sorted({c.lr for c in candidates if c.origin != "baseline"})
        fits = [Candidate(t, lr, "fit") for lr in lrs for t in FIT_TEMPLATES]
        baselines = [c for c in candidates if c.origin == "baseline"]
        steps = self.fit_steps(plan.total_steps)
        return plan.trial_rows(fits, total_steps=steps) + plan.trial_rows(baselines)

    def expected_runs(self, plan: Any, configurations: int) -> float:
        """Two fit runs per peak LR, then the schedules trained in full."""
        fits = len(FIT_TEMPLATES) * self.fit_steps(plan.total_steps) / plan.total_steps
        return configurations * fits + self.train_top

    def next_trials(
        self, plan: Any, store: Store, study: StudyRecord, trials: Sequence[TrialRecord]
    ) -> list[dict[str, Any]]:
        current = store.require_study(study.name)  # `study` is as the round began
        if ANNOTATION in current.config or not _fits_done(plan, self, trials):
            return []
        predictions = _predict(plan, self, store, trials)
        store.annotate_study(study.id, ANNOTATION, predictions)
        ranked = sorted(
            (p for p in predictions["predictions"] if p["loss"] is not None),
            key=lambda p: p["loss"],
        )
        trained = {t.policy for t in trials if t.total_steps == plan.total_steps}
        if not ranked:  # no law could be fitted: the best fit run is the evidence left
            return plan.trial_rows(_best_fit_run(plan, self, trials))
        chosen = [p for p in ranked if p["policy"] not in trained][: self.train_top]
        return plan.trial_rows(
            [Candidate(family_of(p["policy"]), p["lr"], "predicted", p["policy"]) for p in chosen]
        )

    def pending_trials(self, plan: Any, study: StudyRecord, trials: Sequence[TrialRecord]) -> int:
        return 0 if ANNOTATION in study.config else self.train_top * plan.config.seeds

    def grid_full_runs(self, result: Any) -> int:
        """Every candidate schedule at every peak LR, trained in full."""
        found = result.study.config.get(ANNOTATION) or {}
        seeds = int(result.study.config["config"]["seeds"])
        return len(found.get("predictions", [])) * seeds

    def summary(self, result: Any) -> dict[str, Any] | None:
        """Each fitted law, and each schedule's predicted final loss beside the measured one
        where it trained in full; the mean absolute error over those."""
        found = result.study.config.get(ANNOTATION)
        if not found:
            return None
        measured = {s.policy: s.mean for s in result.leaderboard if not math.isnan(s.mean)}
        rows = [{**p, "measured": measured.get(p["policy"])} for p in found["predictions"]]
        errors = [
            abs(r["loss"] - r["measured"])
            for r in rows
            if r["loss"] is not None and r["measured"] is not None
        ]
        return {
            "laws": found["laws"],
            "predictions": rows,
            "mean_absolute_error": sum(errors) / len(errors) if errors else None,
        }


def _fits_done(plan: Any, objective: PredictedSchedules, trials: Sequence[TrialRecord]) -> bool:
    steps = objective.fit_steps(plan.total_steps)
    fits = [t for t in trials if t.total_steps == steps and t.family in FIT_TEMPLATES]
    return bool(fits) and all(t.status.finished for t in fits)


def _best_fit_run(
    plan: Any, objective: PredictedSchedules, trials: Sequence[TrialRecord]
) -> list[Candidate]:
    """The fit run of the lowest final loss, to train in full (none where the fit runs were
    full-length already, or all diverged)."""
    steps = objective.fit_steps(plan.total_steps)
    finished = [
        t
        for t in trials
        if t.total_steps == steps
        and t.status is TrialStatus.complete
        and math.isfinite(t.metrics.get(plan.metric, math.nan))
    ]
    if steps == plan.total_steps or not finished:
        return []
    best = min(finished, key=lambda t: t.metrics[plan.metric])
    return [Candidate(best.family, best.lr, "best fit run")]


def _predict(
    plan: Any, objective: PredictedSchedules, store: Store, trials: Sequence[TrialRecord]
) -> dict[str, Any]:
    """Per peak LR: the law fitted on its fit runs (seed 0) and every candidate's prediction."""
    steps = objective.fit_steps(plan.total_steps)
    laws: dict[str, Any] = {}
    predictions: list[dict[str, Any]] = []
    for lr in sorted({t.lr for t in trials if t.total_steps == steps}):
        fit_runs = [
            t
            for t in trials
            if t.lr == lr
            and t.total_steps == steps
            and t.family in FIT_TEMPLATES
            and t.status is TrialStatus.complete
            and t.seed == 0
        ]
        curves = [
            MeasuredCurve.of(t.policy, steps, _curve(store, t, plan.metric)) for t in fit_runs
        ]
        try:
            law = fit_annealing_law(curves)
        except ConfigError as error:  # both fit runs diverged or reported too little
            laws[f"{lr:g}"] = {"error": str(error)}
            continue
        laws[f"{lr:g}"] = dataclasses.asdict(law)
        candidates = candidate_schedules(plan.config.policies, lr, plan.total_steps)
        for found in rank_schedules(law, candidates, plan.total_steps):
            predictions.append(
                {
                    "policy": found.policy,
                    "lr": lr,
                    "loss": None if found.refused else found.loss,
                    "refused": found.refused,
                }
            )
    return {"laws": laws, "predictions": predictions}


def _curve(store: Store, trial: TrialRecord, metric: str) -> dict[int, float]:
    return {step: value for step, name, value in store.points(trial.id, metric)}
