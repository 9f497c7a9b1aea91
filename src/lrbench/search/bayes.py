"""Bayesian search: Optuna's TPE proposes (policy family, LR) pairs through ask/tell.

The proposer keeps no state of its own: it is rebuilt from the study's stored trials before each
round, so a resumed study continues where it stopped and our store stays the only record.
Finished configurations are told to Optuna with their mean metric over seeds; configurations
that never completed (diverged, failed) are told as bad as the worst result so far, so that TPE
steers away from their region.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import optuna

from lrbench.search.strategies import Candidate
from lrbench.store import TrialRecord, TrialStatus

__all__ = ["propose"]

_MAX_RETRIES = 20


def _distributions(
    templates: Sequence[str], lr_min: float, lr_max: float
) -> dict[str, optuna.distributions.BaseDistribution]:
    return {
        "template": optuna.distributions.CategoricalDistribution(list(templates)),
        "lr": optuna.distributions.FloatDistribution(lr_min, lr_max, log=True),
    }


def propose(
    trials: Sequence[TrialRecord],
    *,
    templates: Sequence[str],
    family_of_template: dict[str, str],
    lr_min: float,
    lr_max: float,
    metric: str,
    mode: str,
    count: int,
    seed: int,
    startup: int,
) -> list[Candidate]:
    """`count` new configurations, given every trial stored so far.

    Args:
        trials: The study's trials (baselines included: they inform the model too).
        templates: The templates searched over (categorical).
        family_of_template: Maps a stored trial's family back to its template.
        startup: Random proposals before TPE takes over.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = _distributions(templates, lr_min, lr_max)
    study = optuna.create_study(
        direction="maximize" if mode == "max" else "minimize",
        sampler=optuna.samplers.TPESampler(
            seed=seed + len(trials), n_startup_trials=startup, constant_liar=True
        ),
    )
    by_config: dict[tuple[str, float], list[TrialRecord]] = {}
    for trial in trials:
        by_config.setdefault((trial.family, trial.lr), []).append(trial)
    means: dict[tuple[str, float], float | None] = {}
    for (family, lr), runs in by_config.items():
        template = family_of_template.get(family)
        if template is None or not lr_min <= lr <= lr_max:
            continue
        values = [
            t.metrics[metric]
            for t in runs
            if t.status is TrialStatus.complete and metric in t.metrics
        ]
        means[(template, lr)] = sum(values) / len(values) if values else None
    finite = [m for m in means.values() if m is not None]
    # A configuration that diverged is told as bad as the worst result seen, so TPE learns to
    # avoid its region (a failed Optuna trial would simply be ignored).
    worst = (min(finite) if mode == "max" else max(finite)) if finite else None
    for (template, lr), mean in means.items():
        value = mean if mean is not None else worst
        study.add_trial(
            optuna.trial.create_trial(
                params={"template": template, "lr": lr},
                distributions=distributions,
                value=value,
                state=optuna.trial.TrialState.COMPLETE
                if value is not None
                else optuna.trial.TrialState.FAIL,
            )
        )
    seen = set(means)
    proposals: list[Candidate] = []
    for _ in range(count * _MAX_RETRIES):
        if len(proposals) == count:
            break
        asked = study.ask(distributions)
        lr = float(f"{asked.params['lr']:.3g}")
        key = (asked.params["template"], lr)
        if key in seen or not math.isfinite(lr):
            study.tell(asked, state=optuna.trial.TrialState.FAIL)
            continue
        seen.add(key)
        proposals.append(Candidate(key[0], lr, "bayes"))
    return proposals
