"""Policy templates: a family name (or a spec with placeholders) made concrete for an LR value.

A study searches over (family, LR) pairs; the template fixes each family's shape relative to
the horizon, so `cosine` at LR 0.1 over 1,000 steps is
`cosine(lr=0.1,total_steps=1000,warmup_steps=30)`. A template may also be any spec with the
placeholders `{lr}` and `{total_steps}`, e.g. `"poly(lr={lr},total_steps={total_steps},power=3)"`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from lrbench.exceptions import ConfigError
from lrbench.policies import Policy, parse, policy_names

__all__ = ["CYCLIC_FAMILIES", "TEMPLATES", "family_of", "make_policy", "split_policies"]


def _warmup(total: int) -> int:
    """3% of the horizon (the usual fine-tuning warmup), at least one step."""
    return max(1, round(0.03 * total))


def _g(value: float) -> str:
    return f"{value:.6g}"


#: family -> spec maker for (lr, total_steps). The shapes follow common practice.
TEMPLATES: dict[str, Callable[[float, int], str]] = {
    "fixed": lambda lr, t: f"fixed(lr={lr!r})",
    "step": lambda lr, t: f"step(lr={lr!r},gamma=0.1,step_size={max(1, math.ceil(t / 3))})",
    "multistep": lambda lr, t: (
        f"multistep(lr={lr!r},gamma=0.1,milestones=[{max(1, t // 2)},{max(2, 3 * t // 4)}])"
    ),
    "exp": lambda lr, t: f"exp(lr={lr!r},gamma={_g(0.01 ** (1 / t))})",
    "inv": lambda lr, t: f"inv(lr={lr!r},gamma={_g(10 / t)},power=0.75)",
    "poly": lambda lr, t: f"poly(lr={lr!r},total_steps={t},power=2)",
    "linear": lambda lr, t: f"linear(lr={lr!r},total_steps={t},warmup_steps={_warmup(t)})",
    "cosine": lambda lr, t: f"cosine(lr={lr!r},total_steps={t},warmup_steps={_warmup(t)})",
    "wsd": lambda lr, t: (
        f"wsd(lr={lr!r},total_steps={t},warmup_steps={_warmup(t)},"
        f"decay_steps={max(1, t // 5)},decay_shape=sqrt)"
    ),
    "inverse_sqrt": lambda lr, t: f"inverse_sqrt(lr={lr!r},warmup_steps={_warmup(t)})",
    "one_cycle": lambda lr, t: f"one_cycle(max_lr={lr!r},total_steps={max(t, 4)})",
    "cosine_restarts": lambda lr, t: f"cosine_restarts(lr={lr!r},period={max(1, t // 4)})",
    "sigmoid": lambda lr, t: f"sigmoid(lr={lr!r},gamma={_g(-10 / t)},center={t // 2})",
}


def _cyclic(name: str) -> Callable[[float, int], str]:
    def spec(lr: float, t: int) -> str:
        gamma = f",gamma={_g(0.01 ** (1 / t))}" if name.endswith("_exp") else ""
        return f"{name}(min_lr={lr / 10!r},max_lr={lr!r},half_cycle={max(1, t // 8)}{gamma})"

    return spec


CYCLIC_FAMILIES = [
    n
    for n in policy_names()
    if n not in TEMPLATES and n not in ("warmup", "sequence", "plateau", "switch_on_plateau")
]
TEMPLATES.update({name: _cyclic(name) for name in CYCLIC_FAMILIES})


def family_of(template: str) -> str:
    """The family name of a template: the name itself, or a spec's policy name."""
    return template.split("(", 1)[0].strip()


def make_policy(template: str, lr: float, total_steps: int) -> Policy:
    """The policy of `template` at peak LR `lr` over `total_steps`."""
    if "(" in template:
        if "{lr}" not in template:
            raise ConfigError(f"a policy template must contain {{lr}}, got {template!r}")
        return parse(template.replace("{lr}", repr(lr)).replace("{total_steps}", str(total_steps)))
    if template not in TEMPLATES:
        raise ConfigError(
            f"unknown policy family {template!r} for tuning (known: {', '.join(TEMPLATES)}; or "
            'give a spec with {lr}, e.g. "poly(lr={lr},total_steps={total_steps},power=3)")'
        )
    return parse(TEMPLATES[template](lr, total_steps))


def split_policies(text: str) -> list[str]:
    """Split `--policies` at top-level commas: `fixed,cosine,poly(lr={lr},...)`."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    names = [p for p in parts if p]
    if not names:
        raise ConfigError("`--policies` is empty; give e.g. fixed,cosine,one_cycle")
    for name in names:
        if not re.fullmatch(r"[A-Za-z_][\w]*(\(.*\))?", name, flags=re.S):
            raise ConfigError(f"`--policies` has a malformed entry {name!r}")
    return names
