"""The Strategy protocol: what every search strategy is called with and must return."""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lrbench._registry import Registry
from lrbench.evaluate import Direction
from lrbench.store import TaskInfo, TrialRecord

if TYPE_CHECKING:
    from lrbench.store import Store

__all__ = [
    "STRATEGIES",
    "Candidate",
    "SearchContext",
    "Strategy",
    "make_strategy",
    "register_strategy",
    "round_lr",
    "strategy_names",
]


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One configuration to train: a policy template at a peak LR, and why it was chosen.

    `policy` is the exact policy spec where the search fixed more than the LR (Bayesian search
    over shape parameters); otherwise the template makes the policy for the LR and the budget.
    """

    template: str
    lr: float
    origin: str = ""
    policy: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class SearchContext:
    """What a strategy searches over, and for what.

    Attributes:
        templates: Policy families or `{lr}` templates to compare.
        lr_min, lr_max: The LR range (log scale), narrowed by bracketing where it ran.
        total_steps: The budget of a full trial.
        trials: Configurations to propose over the whole study (seeds not counted).
        seed: The study's seed: a strategy that draws at random draws from it.
        metric, direction: What "better" means.
        task: The task, for strategies that look up what is known about it.
        store: The study's store (for `topk`; None where a strategy is used on its own).
        batch: Configurations an adaptive strategy should propose per round (the executor's
            parallelism).
        baselines: Policy specs added by the user, not counted among `trials`.
        prepared: What the strategy's `prepare` returned when the study was created.
    """

    templates: tuple[str, ...]
    lr_min: float
    lr_max: float
    total_steps: int
    trials: int
    seed: int = 0
    metric: str = ""
    direction: Direction = Direction.MAX
    task: TaskInfo = dataclasses.field(default_factory=lambda: TaskInfo(name=""))
    store: Store | None = None
    batch: int = 1
    baselines: frozenset[str] = frozenset()
    prepared: dict[str, Any] | None = None


class Strategy(abc.ABC):
    """Proposes the configurations (template, LR) a study trains.

    Who calls it: the study runner, in the main process, never concurrently. When the study is
    created it calls `prepare(context)` once (one-off work such as a range test; the result is
    stored with the study and handed back as `context.prepared` ever after, on resume too),
    then `propose(context, history=[])`; after each round of trials has run it calls
    `propose(context, history)` again with every trial stored so far (all seeds, every status,
    baselines included), and queues what it returns, crossed with the seeds.

    What it returns: the configurations to add now, at most `context.trials` over the study
    (baselines not counted); an empty list means it has nothing more to propose, which ends
    the study. A non-adaptive strategy (grid, random, top-k) proposes everything at once and
    returns [] whenever the history is non-empty.

    How it resumes: a strategy keeps no state between calls; whatever it needs is read back
    from `history` (the store is the only record), so a study resumed after a crash, on
    another machine or under another executor proposes what an uninterrupted one would.

    Errors: `ConfigError` for settings it cannot work with, naming the argument.
    """

    #: The name users give (`--strategy`), stored with the study.
    name: str = ""
    #: True if proposals depend on results (rounds); objectives that plan all their trials
    #: up front (composition) refuse adaptive strategies.
    adaptive: bool = False
    #: Where the strategy comes in lists of the strategies (help, error messages).
    listing: int = 100

    def prepare(self, context: SearchContext) -> dict[str, Any] | None:
        """One-off work before the first proposal; its JSON-ready result is stored."""
        return None

    @abc.abstractmethod
    def propose(self, context: SearchContext, history: Sequence[TrialRecord]) -> list[Candidate]:
        """The configurations to queue now (see the class docstring)."""


#: Strategy name -> class; `register_strategy` adds one.
STRATEGIES: Registry[Strategy] = Registry("--strategy")
register_strategy = STRATEGIES.register
strategy_names = STRATEGIES.names


def make_strategy(name: str) -> Strategy:
    """The registered strategy called `name`."""
    return STRATEGIES.lookup(name)()


def round_lr(lr: float) -> float:
    """An LR rounded to 3 significant digits, as strategies propose them."""
    return float(f"{lr:.3g}") if math.isfinite(lr) else lr
