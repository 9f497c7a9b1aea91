"""Learning-rate policies: pure, closed-form functions of the step, plus two adaptive ones.

`parse("cosine(lr=0.1,total_steps=1000,warmup_steps=100)")` builds a policy from a spec;
`policy(t)` is the LR for the update after `t` updates; `policy.values(steps)` is vectorised.
No torch here: policies are plain data and NumPy.
"""

from __future__ import annotations

from lrbench.policies._adaptive import Controller, Plateau, SwitchOnPlateau
from lrbench.policies._base import Param, Policy
from lrbench.policies._combinators import Sequence, Warmup, WithWarmup
from lrbench.policies._cyclic import CYCLIC_POLICIES, Cyclic
from lrbench.policies._decay import (
    Cosine,
    CosineRestarts,
    Exp,
    Fixed,
    Inv,
    InverseSqrt,
    Linear,
    MultiStep,
    OneCycle,
    Poly,
    Sigmoid,
    Step,
    WarmupStableDecay,
)
from lrbench.policies._importers import LRBENCH_NAMES, from_hf, from_lrbench
from lrbench.policies._registry import get_policy_class, policy_names, register
from lrbench.policies._spec import from_dict, parse

__all__ = [
    "CYCLIC_POLICIES",
    "LRBENCH_NAMES",
    "Controller",
    "Cosine",
    "CosineRestarts",
    "Cyclic",
    "Exp",
    "Fixed",
    "Inv",
    "InverseSqrt",
    "Linear",
    "MultiStep",
    "OneCycle",
    "Param",
    "Plateau",
    "Policy",
    "Poly",
    "Sequence",
    "Sigmoid",
    "Step",
    "SwitchOnPlateau",
    "Warmup",
    "WarmupStableDecay",
    "WithWarmup",
    "from_dict",
    "from_hf",
    "from_lrbench",
    "get_policy_class",
    "parse",
    "policy_names",
    "register",
]
