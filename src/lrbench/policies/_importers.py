"""Importers from other vocabularies: original LRBench dicts and Hugging Face scheduler names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrbench.exceptions import ConfigError
from lrbench.policies._base import Policy
from lrbench.policies._cyclic import CYCLIC_POLICIES
from lrbench.policies._spec import build

__all__ = ["LRBENCH_NAMES", "from_hf", "from_lrbench"]

# LRBench name -> (our name, {LRBench key: our parameter}) for the non-cyclic policies.
_LRBENCH_CLASSIC: dict[str, tuple[str, dict[str, str]]] = {
    "FIX": ("fixed", {"k0": "lr"}),
    "STEP": ("step", {"k0": "lr", "gamma": "gamma", "l": "step_size"}),
    "NSTEP": ("multistep", {"k0": "lr", "gamma": "gamma", "l": "milestones"}),
    "EXP": ("exp", {"k0": "lr", "gamma": "gamma"}),
    "INV": ("inv", {"k0": "lr", "gamma": "gamma", "p": "power"}),
    "POLY": ("poly", {"k1": "lr", "k0": "min_lr", "l": "total_steps", "p": "power"}),
    "SIG": ("sigmoid", {"k0": "lr", "gamma": "gamma", "l": "center"}),
}
_LRBENCH_CYCLIC = {"k0": "min_lr", "k1": "max_lr", "l": "half_cycle", "gamma": "gamma"}
_LRBENCH_KEYS = ("lrPolicy", "k0", "k1", "gamma", "p", "l")

#: LRBench's 34 policy names mapped to ours.
LRBENCH_NAMES: dict[str, str] = {
    **{lb: ours for lb, (ours, _) in _LRBENCH_CLASSIC.items()},
    **{cls.lrbench_name: name for name, cls in CYCLIC_POLICIES.items()},
}


def from_lrbench(config: Mapping[str, Any]) -> Policy:
    """Build a policy from an original LRBench dict (keys `lrPolicy, k0, k1, gamma, p, l`).

    `k0` is the LR (or the lower bound of a cyclic policy), `k1` the upper bound, `l` the step
    size, milestones, centre, horizon or half cycle. POLY decays from `k1` to `k0`; written with
    `k0` alone (as in the paper) it decays from `k0` to 0.

    Example:
        >>> from_lrbench({"lrPolicy": "SINEXP", "k0": 0.01, "k1": 0.1, "gamma": 0.99, "l": 50})
        lrbench.parse('sin_exp(min_lr=0.01,max_lr=0.1,half_cycle=50,gamma=0.99)')
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"an LRBench policy must be a dict, got {type(config).__name__}")
    unknown = sorted(set(config) - set(_LRBENCH_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown LRBench key `{unknown[0]}` (valid: {', '.join(_LRBENCH_KEYS)})"
        )
    lb_name = config.get("lrPolicy")
    if lb_name not in LRBENCH_NAMES:
        raise ConfigError(
            f"`lrPolicy` must be one of LRBench's {len(LRBENCH_NAMES)} names "
            f"({', '.join(LRBENCH_NAMES)}), got lrPolicy={lb_name!r}"
        )
    values = {k: v for k, v in config.items() if k != "lrPolicy" and v is not None}
    if lb_name in _LRBENCH_CLASSIC:
        name, keys = _LRBENCH_CLASSIC[lb_name]
        if lb_name == "POLY" and "k1" not in values:
            keys = {"k0": "lr", "l": "total_steps", "p": "power"}
    else:
        name, keys = LRBENCH_NAMES[lb_name], _LRBENCH_CYCLIC
        if not name.endswith("_exp"):
            keys = {k: v for k, v in keys.items() if k != "gamma"}
    ignored = sorted(set(values) - set(keys))
    if ignored:
        raise ConfigError(
            f"LRBench policy {lb_name} takes {', '.join(keys)}; got also {', '.join(ignored)}"
        )
    return build(name, {keys[k]: v for k, v in values.items()})


def _cosine_with_restarts(lr: float, warmup: int, total: int, num_cycles: float = 1) -> Policy:
    if not isinstance(num_cycles, (int, float)) or num_cycles <= 0:
        raise ConfigError(f"`num_cycles` must be > 0, got num_cycles={num_cycles!r}")
    period = (total - warmup) / num_cycles
    return build(
        "cosine_restarts",
        {"lr": lr, "period": period, "total_steps": total, "warmup_steps": warmup},
    )


def _hf_cosine(
    lr: float,
    warmup: int,
    total: int,
    num_cycles: float = 0.5,
    min_lr: float | None = None,
    min_lr_rate: float | None = None,
) -> Policy:
    if num_cycles != 0.5:
        raise ConfigError(
            f"`num_cycles` must be 0.5 (half a cosine) for cosine, got num_cycles={num_cycles!r};"
            " use cosine_restarts for several cycles"
        )
    if min_lr is not None and min_lr_rate is not None:
        raise ConfigError("give only one of `min_lr` and `min_lr_rate`")
    floor = min_lr if min_lr is not None else lr * (min_lr_rate or 0.0)
    return build(
        "cosine", {"lr": lr, "min_lr": floor, "total_steps": total, "warmup_steps": warmup}
    )


def _hf_wsd(
    lr: float,
    warmup: int,
    total: int | None,
    num_decay_steps: int,
    num_stable_steps: int | None = None,
    warmup_type: str = "linear",
    decay_type: str = "cosine",
    min_lr_ratio: float = 0.0,
    num_cycles: float = 0.5,
) -> Policy:
    if num_cycles != 0.5:
        raise ConfigError(f"`num_cycles` must be 0.5 for wsd, got num_cycles={num_cycles!r}")
    shapes = {"linear": "linear", "cosine": "cosine", "1-sqrt": "sqrt"}
    for key, shape in (("warmup_type", warmup_type), ("decay_type", decay_type)):
        if shape not in shapes:
            raise ConfigError(f"`{key}` must be one of linear, cosine, 1-sqrt, got {shape!r}")
    if num_stable_steps is not None:
        total = warmup + num_stable_steps + num_decay_steps
    if total is None:
        raise ConfigError("warmup_stable_decay needs `num_training_steps` or `num_stable_steps`")
    return build(
        "wsd",
        {
            "lr": lr,
            "min_lr": lr * min_lr_ratio,
            "total_steps": total,
            "warmup_steps": warmup,
            "decay_steps": num_decay_steps,
            "decay_shape": shapes[decay_type],
            "warmup_shape": shapes[warmup_type],
        },
    )


def _hf_plateau(lr: float, warmup: int, total: int | None, **kwargs: Any) -> Policy:
    if warmup:
        raise ConfigError("reduce_lr_on_plateau takes no warmup (num_warmup_steps=0)")
    keys = {
        "mode": "mode",
        "factor": "factor",
        "patience": "patience",
        "threshold": "threshold",
        "threshold_mode": "threshold_mode",
        "cooldown": "cooldown",
        "min_lr": "min_lr",
        "eps": "eps",
    }
    return build("plateau", {"lr": lr, **{keys.get(k, k): v for k, v in kwargs.items()}})


def _require_total(name: str, total: int | None) -> int:
    if total is None:
        raise ConfigError(f"the Hugging Face scheduler {name!r} needs `num_training_steps`")
    return total


def from_hf(
    name: str,
    *,
    lr: float,
    num_warmup_steps: int = 0,
    num_training_steps: int | None = None,
    **scheduler_kwargs: Any,
) -> Policy:
    """Build the policy equal to a Hugging Face scheduler (`transformers.get_scheduler` names).

    `lr` is the optimizer's LR (the Trainer's `learning_rate`); `scheduler_kwargs` are the
    scheduler-specific options (`lr_scheduler_kwargs`): `lr_end`, `power`, `num_cycles`,
    `timescale`, `min_lr`, `min_lr_rate`, `num_decay_steps`, `decay_type`, ...

    Example:
        >>> from_hf("cosine", lr=2e-5, num_warmup_steps=30, num_training_steps=1000)
        lrbench.parse('cosine(lr=2e-05,total_steps=1000,warmup_steps=30)')
    """
    warmup = num_warmup_steps
    total = num_training_steps
    kw = scheduler_kwargs
    try:
        if name == "constant":
            return build("fixed", {"lr": lr, **kw})
        if name == "constant_with_warmup":
            return build("fixed", {"lr": lr, "warmup_steps": warmup, **kw})
        if name == "linear":
            return build(
                "linear",
                {
                    "lr": lr,
                    "total_steps": _require_total(name, total),
                    "warmup_steps": warmup,
                    **kw,
                },
            )
        if name in ("cosine", "cosine_with_min_lr"):
            return _hf_cosine(lr, warmup, _require_total(name, total), **kw)
        if name == "cosine_with_restarts":
            return _cosine_with_restarts(lr, warmup, _require_total(name, total), **kw)
        if name == "polynomial":
            return build(
                "poly",
                {
                    "lr": lr,
                    "min_lr": kw.pop("lr_end", 1e-7),
                    "total_steps": _require_total(name, total),
                    "warmup_steps": warmup,
                    **kw,
                },
            )
        if name == "inverse_sqrt":
            return build("inverse_sqrt", {"lr": lr, "warmup_steps": warmup, **kw})
        if name == "warmup_stable_decay":
            return _hf_wsd(lr, warmup, total, **kw)
        if name == "reduce_lr_on_plateau":
            return _hf_plateau(lr, warmup, total, **kw)
    except TypeError as error:  # an option the scheduler does not take
        raise ConfigError(f"bad option for Hugging Face scheduler {name!r}: {error}") from None
    supported = (
        "constant, constant_with_warmup, linear, cosine, cosine_with_min_lr, "
        "cosine_with_restarts, polynomial, inverse_sqrt, warmup_stable_decay, "
        "reduce_lr_on_plateau"
    )
    raise ConfigError(f"unsupported Hugging Face scheduler {name!r} (supported: {supported})")
