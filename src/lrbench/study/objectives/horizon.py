"""Horizon transfer: sweep the LR on short runs, predict it for the full one, train that.

Each configuration the strategy proposes trains at a few short horizons (by default 1/16,
1/8 and 1/4 of the budget); per policy family, the optimum of each horizon's sweep and the
law LR*(D) = B D^-beta across them (`lrbench.scaling`) predict the best LR at the full
budget, and only that LR (or, with `final_runs=3`, also the ends of its near-optimal band)
trains in full. The short runs stay out of the ranking: only full-budget trials are ranked.

With `branch=True` the sweeps cost less (Hagele et al. 2024's WSD branching): per LR, one
stable run at a constant LR (after warmup) saves its state where each horizon's cooldown
starts, and each horizon's run is a WSD schedule whose last `COOLDOWN` of steps decay
linearly to 0, forked from that state. The law is then fitted on WSD runs, and the full run
is a WSD run too. A task without checkpoint support trains each branch from step 0: the
same result at the cost of separate runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from lrbench._files import checkpoint_path
from lrbench.evaluate import Direction
from lrbench.exceptions import ConfigError
from lrbench.policies import parse
from lrbench.scaling import HorizonLaw, fit_horizon_law
from lrbench.scaling.stored import trial_sweeps
from lrbench.search import Candidate, family_of
from lrbench.store import Store, StudyRecord, TrialRecord, TrialStatus
from lrbench.study.objectives._base import (
    Objective,
    refuse_adaptive_strategy,
    register_objective,
)
from lrbench.study.objectives.compose import stored_candidates

__all__ = ["HorizonTransfer", "fitted_laws"]

#: The share of each branched run spent cooling down (10-20% matches cosine: Hagele et al.).
COOLDOWN = 0.2
#: The family of a branching study's stable runs, which are not sweep points themselves.
STABLE = "warmup"

#: The short horizons swept by default, as fractions of the budget (Bjorck et al. 2024 fit
#: their law over horizons an order of magnitude apart).
DEFAULT_HORIZONS = (1 / 16, 1 / 8, 1 / 4)


@register_objective
@dataclasses.dataclass(frozen=True, kw_only=True)
class HorizonTransfer(Objective):
    """Predict the full run's LR from sweeps at short horizons, then train it.

    Attributes:
        horizons: The short horizons, as fractions of the budget, each in (0, 1).
        final_runs: Full runs per family: 1 (the predicted LR) or 3 (also its band's ends).
        branch: Branch every horizon's WSD cooldown off one stable run per LR.
    """

    horizons: tuple[float, ...] = DEFAULT_HORIZONS
    final_runs: int = 1
    branch: bool = False

    name = "horizon"
    min_configurations = 3  # an optimum in ln LR is read off three LRs or more
    stored_name = "horizon-transfer"
    json_key = "horizon"
    description = "sweep short runs, predict the full run's LR (LR* = B D^-beta), train it"
    listing = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "horizons", tuple(float(h) for h in self.horizons))

    def options(self) -> dict[str, Any]:
        return {
            "horizons": list(self.horizons),
            "final_runs": self.final_runs,
            "branch": self.branch,
        }

    def validate(self, config: Any) -> None:
        if not self.horizons or any(not 0.0 < h < 1.0 for h in self.horizons):
            raise ConfigError(
                f"`--horizons` must be fractions of the budget in (0, 1), e.g. "
                f"1/16,1/8,1/4; got {list(self.horizons)}"
            )
        if len(set(self.horizons)) != len(self.horizons):
            raise ConfigError(f"`--horizons` repeats a value: {list(self.horizons)}")
        if self.final_runs not in (1, 3):
            raise ConfigError(f"`--final-runs` must be 1 or 3, got {self.final_runs}")
        refuse_adaptive_strategy(
            config, "horizon", "sweeps every configuration at each short horizon up front"
        )
        if self.branch and tuple(config.policies) != ("wsd",):
            raise ConfigError(
                "`--branch` sweeps WSD schedules cooled down from one stable run: give "
                f"--policies wsd (got {','.join(config.policies)})"
            )

    def short_steps(self, total_steps: int) -> list[int]:
        """The short horizons in updates (distinct, at least 1, below the budget)."""
        steps = {max(1, round(h * total_steps)) for h in self.horizons}
        return sorted(s for s in steps if s < total_steps)

    def initial_trials(self, plan: Any, candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
        steps = self.short_steps(plan.total_steps)
        if len(steps) < 1:
            raise ConfigError(
                f"a budget of {plan.total_steps} updates leaves no short horizon for "
                f"`--horizons` {list(self.horizons)}: raise --total-steps"
            )
        if steps[0] < MIN_HORIZON_STEPS:
            shortest = min(self.horizons)
            raise ConfigError(
                f"`--horizons` {shortest:g} of {plan.total_steps} updates is {steps[0]} "
                f"update(s); a short horizon needs {MIN_HORIZON_STEPS} or more: raise "
                "--total-steps or give longer horizons"
            )
        swept = [c for c in candidates if c.origin != "baseline"]
        baselines = [c for c in candidates if c.origin == "baseline"]
        if self.branch:
            stable_end = _cooldown_start(steps[-1])
            rows = plan.trial_rows(
                [
                    Candidate(STABLE, lr, "stable", _stable_policy(lr, steps[0]))
                    for lr in sorted({c.lr for c in swept})
                ],
                total_steps=stable_end,
            )
        else:
            rows = [row for s in steps for row in plan.trial_rows(swept, total_steps=s)]
        return rows + plan.trial_rows(baselines)

    def expected_runs(self, plan: Any, configurations: int) -> float:
        """Every configuration at each short horizon (branched: the stable run and the
        cooldowns), and the final runs of each family."""
        steps = self.short_steps(plan.total_steps)
        short = sum(steps) / plan.total_steps
        families = 1 if self.branch else max(1, len(plan.config.policies))
        if self.branch:
            cooldowns = sum(s - _cooldown_start(s) for s in steps)
            short = (_cooldown_start(steps[-1]) + cooldowns) / plan.total_steps
        return configurations * short + families * self.final_runs

    def job_settings(
        self, plan: Any, store: Store, study: StudyRecord, trials: Sequence[TrialRecord]
    ) -> dict[int, dict[str, Any]]:
        """Branching: where stable runs save their state, and which state each branch loads."""
        if not self.branch:
            return {}
        directory = str(store.artifact_dir(study.name) / "checkpoints")
        starts = tuple(_cooldown_start(s) for s in self.short_steps(plan.total_steps))
        stables = {(t.lr, t.seed): t for t in trials if t.family == STABLE}
        found: dict[int, dict[str, Any]] = {}
        for trial in trials:
            if trial.family == STABLE:
                found[trial.id] = {"checkpoint_dir": directory, "checkpoint_steps": starts}
                continue
            stable = stables.get((trial.lr, trial.seed))
            if stable is None or trial.total_steps >= plan.total_steps:
                continue
            start = _cooldown_start(trial.total_steps)
            path = checkpoint_path(directory, stable.id, start)
            if path.exists():
                found[trial.id] = {"start_step": start, "resume_from": str(path)}
        return found

    def next_trials(
        self, plan: Any, store: Store, study: StudyRecord, trials: Sequence[TrialRecord]
    ) -> list[dict[str, Any]]:
        if self.branch and not any(t.family == "wsd" for t in trials):
            return self._branch_rows(plan, trials)
        if self._finals_queued(plan, trials) or not self._sweeps_done(plan, trials):
            return []
        templates = {
            family_of(c.template): c.template
            for c in stored_candidates(study)
            if c.origin != "baseline"
        }
        if self.branch:
            templates = {"wsd": _wsd_template(plan.total_steps)}
        laws = self.laws(study, trials)
        rows: list[dict[str, Any]] = []
        for family, law in laws.items():
            if isinstance(law, str) or family not in templates:
                continue
            for lr in self._final_lrs(plan, law):
                rows += plan.trial_rows([Candidate(templates[family], lr, "horizon")])
        return rows

    def laws(
        self, study: StudyRecord, trials: Sequence[TrialRecord]
    ) -> dict[str, HorizonLaw | str]:
        """The study's horizon law per family (`fitted_laws`; branching's stable runs left out)."""
        return fitted_laws(
            trials,
            metric=study.metric,
            mode=study.mode,
            total_steps=int(study.budget or 0),
            helpers=(STABLE,) if self.branch else (),
        )

    def _branch_rows(self, plan: Any, trials: Sequence[TrialRecord]) -> list[dict[str, Any]]:
        """Each horizon's WSD run, for each stable run that ended (once all have)."""
        stables = [t for t in trials if t.family == STABLE]
        if not stables or not all(t.status.finished for t in stables):
            return []
        steps = self.short_steps(plan.total_steps)
        rows = []
        for stable in stables:
            if stable.status is not TrialStatus.complete:
                continue  # diverged or failed: nothing to branch from, no point at this LR
            for horizon in steps:
                policy = _branch_policy(stable.lr, horizon, steps[0])
                rows.append(
                    {
                        "policy": policy,
                        "family": "wsd",
                        "lr": stable.lr,
                        "seed": stable.seed,
                        "total_steps": horizon,
                    }
                )
        return rows

    def _final_lrs(self, plan: Any, law: HorizonLaw) -> list[float]:
        found = law.predict(plan.total_steps)
        lr_min, lr_max = plan.lr_range
        chosen = (
            [found.lr] if self.final_runs == 1 else [found.band_low, found.lr, found.band_high]
        )
        # three significant digits: the band is far wider, and specs stay readable
        return [float(f"{min(max(lr, lr_min), lr_max):.3g}") for lr in chosen]

    def _sweeps_done(self, plan: Any, trials: Sequence[TrialRecord]) -> bool:
        short = [t for t in trials if t.total_steps < plan.total_steps and t.family != STABLE]
        return bool(short) and all(t.status.finished for t in short)

    def _finals_queued(self, plan: Any, trials: Sequence[TrialRecord]) -> bool:
        baselines = plan.baseline_policies()
        return any(t.total_steps == plan.total_steps and t.policy not in baselines for t in trials)

    def pending_trials(self, plan: Any, study: StudyRecord, trials: Sequence[TrialRecord]) -> int:
        if self._finals_queued(plan, trials):
            return 0
        families = {c.template for c in stored_candidates(study) if c.origin != "baseline"}
        if self.branch:
            families = {"wsd"}
        return len(families) * self.final_runs * plan.config.seeds

    def grid_full_runs(self, result: Any) -> int:
        """Every swept configuration and seed trained in full instead."""
        swept = [c for c in stored_candidates(result.study) if c.origin != "baseline"]
        return len(swept) * int(result.study.config["config"]["seeds"])

    def summary(self, result: Any) -> dict[str, Any]:
        """Per family: the fitted law, each short horizon's optimum, the prediction."""
        study = result.study
        laws = self.laws(study, result.trials)
        found: dict[str, Any] = {}
        for family, law in laws.items():
            if isinstance(law, str):
                found[family] = {"error": law}
                continue
            predicted = law.predict(study.budget)
            found[family] = {
                "exponent": law.exponent,
                "exponent_interval": [law.exponent_low, law.exponent_high],
                "flat": law.flat,
                "prior": law.prior,
                "description": law.describe(),
                "predicted_lr": predicted.lr,
                "interval": [predicted.low, predicted.high],
                "band": [predicted.band_low, predicted.band_high],
                "optima": [dataclasses.asdict(o) for o in law.optima],
            }
        return found


def fitted_laws(
    trials: Sequence[TrialRecord],
    *,
    metric: str,
    mode: str | Direction,
    total_steps: int,
    helpers: Sequence[str] = (),
) -> dict[str, HorizonLaw | str]:
    """Per policy family (but the `helpers`, such as branching's stable runs), the horizon
    law over the sweeps of a study's trials shorter than `total_steps`, or why there is none
    (every run at each horizon diverged, say)."""
    ended = (TrialStatus.complete, TrialStatus.diverged)
    short = [
        t
        for t in trials
        if t.total_steps < total_steps and t.family not in helpers and t.status in ended
    ]
    laws: dict[str, HorizonLaw | str] = {}
    for family in sorted({t.family for t in short}):
        usable = trial_sweeps([t for t in short if t.family == family], metric)
        if not usable:
            laws[family] = "no short horizon had finite results at 2 or more LRs"
            continue
        laws[family] = fit_horizon_law(usable, mode=mode)
    return laws


#: The fewest updates a short horizon may have (a branch needs a stable part and a cooldown).
MIN_HORIZON_STEPS = 5


def _cooldown_start(horizon: int) -> int:
    """Where a branched run of `horizon` steps leaves the stable phase."""
    return max(1, horizon - max(1, round(COOLDOWN * horizon)))


def _warmup_steps(shortest: int) -> int:
    """One warmup for every branch: 3% of the shortest horizon (shorter than its stable part)."""
    return max(1, min(round(0.03 * shortest), _cooldown_start(shortest) - 1))


def _stable_policy(lr: float, shortest: int) -> str:
    return str(parse(f"warmup(policy=fixed(lr={lr!r}),warmup_steps={_warmup_steps(shortest)})"))


def _branch_policy(lr: float, horizon: int, shortest: int) -> str:
    decay = horizon - _cooldown_start(horizon)
    warmup = _warmup_steps(shortest)
    return str(
        parse(f"wsd(lr={lr!r},total_steps={horizon},warmup_steps={warmup},decay_steps={decay})")
    )


def _wsd_template(total_steps: int) -> str:
    """The full run's WSD schedule, cooling down over its last `COOLDOWN` as the branches."""
    warmup = max(1, round(0.03 * total_steps))
    decay = total_steps - _cooldown_start(total_steps)
    return f"wsd(lr={{lr}},total_steps={{total_steps}},warmup_steps={warmup},decay_steps={decay})"
