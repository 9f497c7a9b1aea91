"""Bayesian search: Optuna's TPE proposes policies through ask/tell.

TPE searches the policy family, the peak LR and, for the families listed in `SHAPES`, the
shape of the schedule: the floor (`min_lr` as a fraction of the LR), the warmup and decay
lengths (as fractions of the budget), the decay shape, the cycle length of cyclic policies.
Families given as templates with `{lr}` are searched over the LR alone.

The proposer keeps no state of its own: it is rebuilt from the study's stored trials before each
round (their parameters are read back from the stored policy specs), so a resumed study
continues where it stopped and our store stays the only record. Finished configurations are
told to Optuna with their mean metric over seeds; configurations that never completed
(diverged, failed) are told as bad as the worst result so far, so that TPE steers away from
their region.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution

from lrbench.evaluate import Direction, seed_spread
from lrbench.exceptions import ConfigError
from lrbench.policies import Policy, parse
from lrbench.search._base import Candidate, SearchContext, Strategy, register_strategy
from lrbench.search.templates import CYCLIC_FAMILIES, family_of, make_policy
from lrbench.store import TrialRecord, TrialStatus

__all__ = ["SHAPES", "BayesSearch", "Shape", "propose"]

_MAX_RETRIES = 20


def _g(value: float) -> str:
    return f"{value:.4g}"


@dataclasses.dataclass(frozen=True)
class Shape:
    """The shape parameters TPE searches for one family, besides the peak LR.

    Attributes:
        space: Parameter name -> Optuna distribution (fractions of the LR or of the budget).
        spec: (lr, total_steps, parameters) -> the policy spec.
        read: (policy, total_steps) -> the parameters, from a stored policy.
    """

    space: dict[str, BaseDistribution]
    spec: Callable[[float, int, Mapping[str, Any]], str]
    read: Callable[[Any, int], dict[str, Any]]


def _anneal(family: str) -> Shape:
    return Shape(
        space={"min_lr_ratio": FloatDistribution(0.0, 0.2), "warmup": FloatDistribution(0.0, 0.2)},
        spec=lambda lr, t, p: (
            f"{family}(lr={lr!r},total_steps={t},min_lr={_g(lr * p['min_lr_ratio'])},"
            f"warmup_steps={round(p['warmup'] * t)})"
        ),
        read=lambda policy, t: {
            "min_lr_ratio": policy.min_lr / policy.lr,
            "warmup": policy.warmup_steps / t,
        },
    )


def _cyclic(family: str) -> Shape:
    def spec(lr: float, t: int, p: Mapping[str, Any]) -> str:
        gamma = f",gamma={_g(0.01 ** (1 / t))}" if family.endswith("_exp") else ""
        half_cycle = max(1, round(p["cycle"] * t))
        min_lr = _g(lr * p["min_lr_ratio"])
        return f"{family}(min_lr={min_lr},max_lr={lr!r},half_cycle={half_cycle}{gamma})"

    return Shape(
        space={
            "min_lr_ratio": FloatDistribution(0.01, 0.5, log=True),
            "cycle": FloatDistribution(1 / 32, 1 / 2, log=True),
        },
        spec=spec,
        read=lambda policy, t: {
            "min_lr_ratio": policy.min_lr / policy.max_lr,
            "cycle": policy.half_cycle / t,
        },
    )


#: The families whose shape TPE searches, and how.
SHAPES: dict[str, Shape] = {
    "cosine": _anneal("cosine"),
    "linear": _anneal("linear"),
    "wsd": Shape(
        space={
            "warmup": FloatDistribution(0.0, 0.2),
            "decay": FloatDistribution(0.05, 0.5),
            "decay_shape": CategoricalDistribution(["linear", "cosine", "sqrt"]),
        },
        spec=lambda lr, t, p: (
            f"wsd(lr={lr!r},total_steps={t},warmup_steps={round(p['warmup'] * t)},"
            f"decay_steps={max(1, round(p['decay'] * t))},decay_shape={p['decay_shape']})"
        ),
        read=lambda policy, t: {
            "warmup": policy.warmup_steps / t,
            "decay": policy.decay_steps / t,
            "decay_shape": policy.decay_shape,
        },
    ),
    "poly": Shape(
        space={"power": FloatDistribution(0.5, 4.0, log=True)},
        spec=lambda lr, t, p: f"poly(lr={lr!r},total_steps={t},power={_g(p['power'])})",
        read=lambda policy, t: {"power": policy.power},
    ),
    "one_cycle": Shape(
        space={"pct_start": FloatDistribution(0.1, 0.5)},
        spec=lambda lr, t, p: (
            f"one_cycle(max_lr={lr!r},total_steps={max(t, 4)},pct_start={_g(p['pct_start'])})"
        ),
        read=lambda policy, t: {"pct_start": policy.pct_start},
    ),
    "step": Shape(
        space={
            "gamma": FloatDistribution(0.05, 0.7, log=True),
            "step": FloatDistribution(0.1, 0.5),
        },
        spec=lambda lr, t, p: (
            f"step(lr={lr!r},gamma={_g(p['gamma'])},step_size={max(1, round(p['step'] * t))})"
        ),
        read=lambda policy, t: {"gamma": policy.gamma, "step": policy.step_size / t},
    ),
    **{family: _cyclic(family) for family in CYCLIC_FAMILIES},
}


def _clamp(value: Any, distribution: BaseDistribution) -> Any:
    if isinstance(distribution, FloatDistribution):
        return min(max(float(value), distribution.low), distribution.high)
    return value


class _Space:
    """The search space over templates: family, LR, and each shaped family's parameters."""

    def __init__(
        self, templates: Sequence[str], lr_min: float, lr_max: float, total_steps: int
    ) -> None:
        self.templates = list(templates)
        self.total_steps = total_steps
        self.lr = FloatDistribution(lr_min, lr_max, log=True)
        self.choice = CategoricalDistribution(self.templates)

    def ask(self, trial: optuna.Trial) -> tuple[str, float, str]:
        """(template, lr, the policy spec) for an Optuna trial."""
        template = str(trial.suggest_categorical("template", self.templates))
        lr = float(_g(trial.suggest_float("lr", self.lr.low, self.lr.high, log=True)))
        shape = SHAPES.get(template)
        if shape is None:
            return template, lr, str(make_policy(template, lr, self.total_steps))
        params = {
            name: _suggest(trial, f"{template}.{name}", distribution)
            for name, distribution in shape.space.items()
        }
        return template, lr, str(parse(shape.spec(lr, self.total_steps, params)))

    def told(self, template: str, policy: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The (params, distributions) of a stored policy, or None outside the space."""
        parsed: Policy = parse(policy)
        lr = float(getattr(parsed, "lr", getattr(parsed, "max_lr", math.nan)))
        if not self.lr.low <= lr <= self.lr.high:
            return None
        params: dict[str, Any] = {"template": template, "lr": lr}
        distributions: dict[str, Any] = {"template": self.choice, "lr": self.lr}
        shape = SHAPES.get(template)
        if shape is not None:
            try:
                values = shape.read(parsed, self.total_steps)
            except (AttributeError, ZeroDivisionError):  # a baseline of another shape
                return None
            for name, distribution in shape.space.items():
                params[f"{template}.{name}"] = _clamp(values[name], distribution)
                distributions[f"{template}.{name}"] = distribution
        return params, distributions


def _suggest(trial: optuna.Trial, name: str, distribution: BaseDistribution) -> Any:
    if isinstance(distribution, FloatDistribution):
        return trial.suggest_float(name, distribution.low, distribution.high, log=distribution.log)
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, list(distribution.choices))
    raise TypeError(f"no suggestion for {type(distribution).__name__} (parameter {name!r})")


def _means(trials: Sequence[TrialRecord], metric: str) -> dict[tuple[str, str], float]:
    """(family, policy) -> `seed_spread`'s mean over the seeds that completed (NaN: none)."""
    runs: dict[tuple[str, str], list[float]] = {}
    for trial in trials:
        value = trial.metrics.get(metric, math.nan)
        if trial.status is not TrialStatus.complete:
            value = math.nan
        runs.setdefault((trial.family, trial.policy), []).append(value)
    return {key: seed_spread(values)[0] for key, values in runs.items()}


def _sampler_seed(seed: int, round_number: int) -> int:
    """A seed for each round of each study seed, independent across both: `seed + round`
    made study seed 1's first round repeat study seed 0's second."""
    return int(np.random.SeedSequence([seed, round_number]).generate_state(1)[0])


def propose(
    trials: Sequence[TrialRecord],
    *,
    templates: Sequence[str],
    family_of_template: dict[str, str],
    lr_min: float,
    lr_max: float,
    total_steps: int,
    metric: str,
    direction: Direction,
    count: int,
    seed: int,
    startup: int,
) -> list[Candidate]:
    """`count` new configurations, given every trial stored so far.

    Args:
        trials: The study's trials (baselines included: they inform the model too).
        templates: The templates searched over (categorical).
        family_of_template: Maps a stored trial's family back to its template.
        total_steps: The budget (shape parameters are fractions of it).
        seed: The study's seed; each round draws from its own stream of it.
        startup: Random proposals before TPE takes over.
    """
    if count < 1:
        raise ConfigError(f"`count` must be >= 1, got {count}")
    space = _Space(templates, lr_min, lr_max, total_steps)
    configurations = len({t.policy for t in trials})
    study = optuna.create_study(
        direction="maximize" if direction is Direction.MAX else "minimize",
        sampler=optuna.samplers.TPESampler(
            seed=_sampler_seed(seed, configurations), n_startup_trials=startup, constant_liar=True
        ),
    )
    means = _means(trials, metric)
    # A configuration that diverged is told as bad as the worst result seen, so TPE learns to
    # avoid its region (a failed Optuna trial would simply be ignored).
    worst = direction.worst(list(means.values()))
    for (family, policy), mean in means.items():
        template = family_of_template.get(family)
        told = space.told(template, policy) if template is not None else None
        if told is None:
            continue
        value = mean if math.isfinite(mean) else worst
        study.add_trial(
            optuna.trial.create_trial(
                params=told[0],
                distributions=told[1],
                value=value if math.isfinite(value) else None,
                state=optuna.trial.TrialState.COMPLETE
                if math.isfinite(value)
                else optuna.trial.TrialState.FAIL,
            )
        )
    seen = {policy for _, policy in means}
    proposals: list[Candidate] = []
    for _ in range(count * _MAX_RETRIES):
        if len(proposals) == count:
            break
        asked = study.ask()
        template, lr, policy = space.ask(asked)
        if policy in seen or not math.isfinite(lr):
            study.tell(asked, state=optuna.trial.TrialState.FAIL)
            continue
        seen.add(policy)
        proposals.append(Candidate(template, lr, "bayes", policy))
    return proposals


@register_strategy
class BayesSearch(Strategy):
    """Optuna's TPE over family x LR x shape, asked round by round from the stored trials.

    Each round proposes `context.batch` configurations (the executor's parallelism) until
    `context.trials` have been proposed; the first max(3, trials // 4) are TPE's random
    start-up draws.
    """

    name = "bayes"
    listing = 3
    adaptive = True

    def propose(self, context: SearchContext, history: Sequence[TrialRecord]) -> list[Candidate]:
        searched = len({t.policy for t in history} - context.baselines)
        remaining = context.trials - searched
        if remaining <= 0:
            return []
        return propose(
            history,
            templates=list(context.templates),
            family_of_template={family_of(t): t for t in context.templates},
            lr_min=context.lr_min,
            lr_max=context.lr_max,
            total_steps=context.total_steps,
            metric=context.metric,
            direction=context.direction,
            count=min(context.batch, remaining),
            seed=context.seed,
            startup=max(3, context.trials // 4),
        )
