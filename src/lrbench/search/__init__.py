"""Search: policy templates, and the strategies that choose which configurations to train.

Every strategy implements `Strategy` (see its docstring for the contract) and is one module:
`grid`, `random`, `topk`, `bayes` (Optuna's TPE); `bracket.Bracketed` wraps any of them to
search only the range the LR range test brackets. `compose` holds the pure functions of
multi-policy composition (phases, forks).
"""

from lrbench.search import bayes, grid, random, topk  # noqa: F401  (register the strategies)
from lrbench.search._base import (
    STRATEGIES,
    Candidate,
    SearchContext,
    Strategy,
    make_strategy,
    register_strategy,
    strategy_names,
)
from lrbench.search.bracket import Bracketed
from lrbench.search.grid import log_grid
from lrbench.search.random import random_search
from lrbench.search.templates import TEMPLATES, family_of, make_policy, split_policies

__all__ = [
    "STRATEGIES",
    "TEMPLATES",
    "Bracketed",
    "Candidate",
    "SearchContext",
    "Strategy",
    "family_of",
    "log_grid",
    "make_policy",
    "make_strategy",
    "random_search",
    "register_strategy",
    "split_policies",
    "strategy_names",
]
