"""Search: policy templates and the strategies that choose which configurations to train."""

from lrbench.search.strategies import STRATEGIES, Candidate, grid, log_grid, random_search, top_k
from lrbench.search.templates import TEMPLATES, family_of, make_policy, split_policies

__all__ = [
    "STRATEGIES",
    "TEMPLATES",
    "Candidate",
    "family_of",
    "grid",
    "log_grid",
    "make_policy",
    "random_search",
    "split_policies",
    "top_k",
]
