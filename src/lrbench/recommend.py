"""Where to start before any tuning: what the store knows about this task or the nearest ones,
the published recipes, and rules from the literature, each kept as evidence.

    points = starting_points(store, task, k=3, metric="accuracy", direction=Direction.MAX)
    advice = recommend(store, task)        # a point, a range to search, and the evidence
    advice.family, advice.lr, advice.lr_min, advice.lr_max, advice.evidence

The order of preference is: the best configurations of the task's own studies, else of the
nearest known tasks (sharing the most of model, dataset, optimizer and domain), else the
published recipes that fit the task (same domain and method, full or LoRA; else the same
optimizer family). The `topk` strategy searches around `starting_points`; `recommend` (the
`lrbench recommend` command) adds the rules and turns it all into one point and a range.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from lrbench.evaluate import Direction
from lrbench.exceptions import ConfigError
from lrbench.store import RecipeRecord, Store, TaskInfo

__all__ = [
    "Evidence",
    "Recommendation",
    "StartingPoint",
    "recipe_priors",
    "recommend",
    "starting_points",
]


@dataclasses.dataclass(frozen=True, kw_only=True)
class StartingPoint:
    """A policy family at a peak LR, and where the evidence for it comes from.

    Attributes:
        family: The policy family (a template name).
        lr: The peak LR.
        source: `study NAME` for a stored result, `recipe NAME` for a published one.
        policy: The exact policy spec of a stored result ("" for a recipe).
        value: Its mean metric over seeds (None for a recipe).
    """

    family: str
    lr: float
    source: str
    policy: str = ""
    value: float | None = None


def _optimizer_family(name: str) -> str:
    return "adam" if name.startswith("adam") else name


def fitting_recipes(
    recipes: Sequence[RecipeRecord], task: TaskInfo
) -> tuple[list[RecipeRecord], bool]:
    """The published recipes that fit the task: same domain and method (a LoRA recipe's LR
    is ~10x a full fine-tuning one's), else the generic ones of its optimizer family; and
    whether they are the generic ones."""
    fits = [r for r in recipes if r.domain and (r.domain, r.method) == (task.domain, task.method)]
    if fits:
        return fits, False
    generic = [
        r
        for r in recipes
        if not r.domain
        and r.optimizer
        and _optimizer_family(r.optimizer) == _optimizer_family(task.optimizer)
    ]
    return generic, True


def recipe_priors(recipes: Sequence[RecipeRecord], task: TaskInfo) -> list[StartingPoint]:
    """The fitting recipes (`fitting_recipes`) as starting points, one per (family, LR)."""
    seen: dict[tuple[str, float], StartingPoint] = {}
    for recipe in fitting_recipes(recipes, task)[0]:
        seen.setdefault(
            (recipe.family, recipe.lr),
            StartingPoint(family=recipe.family, lr=recipe.lr, source=f"recipe {recipe.name}"),
        )
    return list(seen.values())


def starting_points(
    store: Store,
    task: TaskInfo,
    *,
    k: int,
    metric: str | None = None,
    direction: Direction | None = None,
) -> list[StartingPoint]:
    """Up to `k` starting points: the best known (own task, else nearest), else recipes."""
    known = [
        StartingPoint(
            family=score.family,
            lr=score.lr,
            source=score.source,
            policy=score.policy,
            value=score.mean,
        )
        for score in store.top_k(task, k, metric=metric, mode=direction)
    ]
    return known or recipe_priors(store.recipes(), task)[:k]


# -- recommend: one point, a range, and the evidence ----------------------------------------

#: Domains whose tasks start from a pretrained model.
FINE_TUNING_DOMAINS = ("llm-finetune", "text-classification")

#: Peak pre-training LRs of well-known models (fine-tuning in full should stay below them):
#: name fragment -> (LR, source).
PRETRAINING_LRS: dict[str, tuple[float, str]] = {
    "llama-7b": (3e-4, "Touvron et al., LLaMA (2023): 7B and 13B pre-trained at peak 3e-4"),
    "llama-13b": (3e-4, "Touvron et al., LLaMA (2023): 7B and 13B pre-trained at peak 3e-4"),
    "llama-2-7b": (3e-4, "Touvron et al., Llama 2 (2023): 7B and 13B pre-trained at peak 3e-4"),
}

#: GPT-3's pre-training peak LR by model size (Brown et al., 2020, Table 2.1).
GPT3_LRS = (
    (125e6, 6e-4),
    (350e6, 3e-4),
    (760e6, 2.5e-4),
    (1.3e9, 2e-4),
    (2.7e9, 1.6e-4),
    (6.7e9, 1.2e-4),
    (13e9, 1e-4),
    (175e9, 0.6e-4),
)

#: How far around a stored optimum to search, and beyond an edge of its searched range.
AROUND, BEYOND_EDGE = 3.0, 10.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class Evidence:
    """One line of evidence for a starting LR.

    Attributes:
        kind: `horizon law` (the LR fitted across stored horizons), `store` (a stored
            result), `recipe` (a published recipe) or `rule`.
        lr: The LR it points at (None for a rule that only bounds the range).
        low, high: The range it supports (None where it gives none).
        family: The policy family it points at ("" for a rule).
        source: Where it comes from (study and task, recipe and paper, rule and paper).
        note: What to know about it (e.g. that it sat at the edge of its searched range).
        edge: For a stored result, `top` or `bottom` where it sat at that end of the range
            its study searched (the best LR may lie beyond), else "".
    """

    kind: str
    source: str
    lr: float | None = None
    low: float | None = None
    high: float | None = None
    family: str = ""
    note: str = ""
    edge: str = ""

    @property
    def point(self) -> float:
        """The LR it points at, or the middle (log scale) of the range it gives."""
        if self.lr is not None:
            return self.lr
        return math.sqrt((self.low or 0.0) * (self.high or 0.0))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Recommendation:
    """A starting LR and policy, the range to search around it, and why.

    Attributes:
        family: The policy family to start with.
        lr: The starting peak LR.
        lr_min, lr_max: The range to search (`lrbench tune --lr-min/--lr-max`).
        basis: Which evidence decided: `own task`, `nearest task`, `recipes` or `rules`.
        evidence: Every line considered, the deciding ones first.
    """

    family: str
    lr: float
    lr_min: float
    lr_max: float
    basis: str
    evidence: tuple[Evidence, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (`lrbench recommend --format json`)."""
        return {
            "family": self.family,
            "lr": self.lr,
            "range": [self.lr_min, self.lr_max],
            "basis": self.basis,
            "evidence": [dataclasses.asdict(e) for e in self.evidence],
        }


def _spanning(lines: Sequence[Evidence]) -> tuple[float, float]:
    """The range covering every line: its own range, else its LR / 3 .. x 3."""
    lows = [e.low if e.low is not None else e.point / AROUND for e in lines]
    highs = [e.high if e.high is not None else e.point * AROUND for e in lines]
    return min(lows), max(highs)


def _epochs(epochs: float | None) -> str:
    return "" if epochs is None else f"{epochs:g} epochs"


def _is_adam(optimizer: str) -> bool:
    return optimizer.lower().startswith("adam") or optimizer == ""


def batch_scaled(
    lr: float, *, from_batch: int | None, to_batch: int | None, optimizer: str
) -> tuple[float, str]:
    """`lr` moved to another batch size: square root for Adam (Malladi et al., 2022), linear
    for SGD (Goyal et al., 2017); unchanged when either size is unknown. Returns (lr, note)."""
    if not from_batch or not to_batch or from_batch == to_batch:
        return lr, ""
    ratio = to_batch / from_batch
    if _is_adam(optimizer):
        return (
            lr * math.sqrt(ratio),
            f"x{math.sqrt(ratio):.3g} for batch {from_batch} -> "
            f"{to_batch} (square-root rule for Adam, Malladi et al. 2022)",
        )
    return (
        lr * ratio,
        f"x{ratio:.3g} for batch {from_batch} -> {to_batch} (linear rule "
        "for SGD, Goyal et al. 2017)",
    )


def _stored_evidence(
    store: Store, task: TaskInfo, metric: str | None, direction: Direction | None
) -> tuple[str, list[Evidence]]:
    """The best stored configurations (own task, else nearest), with edge and batch notes."""
    found = []
    basis = ""
    for score in store.top_k(task, 3, metric=metric, mode=direction):
        study = store.study(score.source.removeprefix("study "))
        if study is None:
            continue
        own = study.task.name == task.name
        basis = basis or ("own task" if own else "nearest task")
        searched = study.config.get("config", {})
        low, high = searched.get("lr_min"), searched.get("lr_max")
        edge = ""
        if high and score.lr >= high / 1.5:
            edge = "top"
        elif low and score.lr <= low * 1.5:
            edge = "bottom"
        notes = (
            [f"at the {edge} of its searched range {low:g}..{high:g}: the best LR may lie beyond"]
            if edge
            else []
        )
        lr, scaled = batch_scaled(
            score.lr,
            from_batch=study.task.batch_size,
            to_batch=task.batch_size,
            optimizer=task.optimizer,
        )
        notes += [scaled] if scaled else []
        found.append(
            Evidence(
                kind="store",
                lr=lr,
                family=score.family,
                note="; ".join(notes),
                edge=edge,
                source=f"study {study.name} (task {study.task.name}): {score.metric} "
                f"{score.mean:.4g} over {score.seeds} seed(s)",
            )
        )
    return basis, found


def _horizon_evidence(store: Store, task: TaskInfo, metric: str | None) -> Evidence | None:
    """The LR the horizon law predicts at the task's budget, where the store holds sweeps of
    this task at two or more training lengths (a `--objective horizon` study, or studies at
    several `--total-steps`) of one metric; None otherwise."""
    from lrbench.scaling.stored import stored_law

    own = [s for s in store.studies() if s.task.name == task.name]
    by_metric: dict[tuple[str, str], list[str]] = {}
    for study in own:
        if metric is None or study.metric == metric:
            by_metric.setdefault((study.metric, study.mode), []).append(study.name)
    for names in sorted(by_metric.values(), key=len, reverse=True):
        try:
            found, law = stored_law(store, names)
        except ConfigError:  # no family swept over 2 or more LRs at some horizon
            continue
        if law.prior:
            continue
        horizon = task.horizon or max(o.horizon for o in law.optima)
        predicted = law.predict(horizon)
        return Evidence(
            kind="horizon law",
            lr=predicted.lr,
            low=predicted.low,
            high=predicted.high,
            family=found.family,
            source=f"LR* = B D^-beta over {len(law.optima)} horizons of "
            f"{', '.join(names[:3])}{' ...' if len(names) > 3 else ''} ({found.metric})",
            note=f"at {horizon:g} steps; {law.describe()}",
        )
    return None


def _pretraining_lr(task: TaskInfo, model_params: float | None) -> Evidence | None:
    name = task.model.lower().removesuffix("-lora")
    for fragment, (lr, source) in PRETRAINING_LRS.items():
        if fragment in name:
            return Evidence(
                kind="rule",
                high=lr,
                source=source,
                note="fine-tuning in full stays below the pre-training peak LR",
            )
    if model_params:
        size, lr = min(GPT3_LRS, key=lambda row: abs(math.log(row[0] / model_params)))
        return Evidence(
            kind="rule",
            high=lr,
            note="fine-tuning in full stays below the "
            f"pre-training peak LR; GPT-3's at {size:.3g} parameters",
            source="Brown et al., GPT-3 (2020), Table 2.1",
        )
    return None


#: Adam on a pretrained transformer, every weight trained.
FULL_FINE_TUNING_RULE = Evidence(
    kind="rule",
    low=1e-5,
    high=1e-4,
    note="Adam on a pretrained transformer",
    source="Devlin et al., BERT (2019): 2e-5..5e-5; Mosbach et al., On the Stability of "
    "Fine-tuning BERT (ICLR 2021)",
)
#: Adam on a LoRA adapter.
LORA_RULE = Evidence(
    kind="rule",
    low=1e-4,
    high=1e-3,
    note="LoRA adapters start at zero and take ~10x full fine-tuning's LR",
    source="Hu et al., LoRA (ICLR 2022); Dettmers et al., QLoRA (NeurIPS 2023): 2e-4",
)


def _point_rule(lr: float, *, family: str, note: str, source: str) -> Evidence:
    """A rule that points at one LR, to be searched from a third to three times it."""
    return Evidence(
        kind="rule",
        lr=lr,
        low=lr / AROUND,
        high=lr * AROUND,
        family=family,
        note=note,
        source=source,
    )


def rules(
    task: TaskInfo, *, model_params: float | None = None, tokens: float | None = None
) -> list[Evidence]:
    """The rules from the literature that apply to the task."""
    found = []
    fine_tuning = task.domain in FINE_TUNING_DOMAINS or task.method == "lora"
    if fine_tuning and _is_adam(task.optimizer):
        if task.method == "lora":
            found.append(LORA_RULE)
        else:
            found.append(FULL_FINE_TUNING_RULE)
            ceiling = _pretraining_lr(task, model_params)
            found += [ceiling] if ceiling else []
    elif model_params and tokens:
        compute = 6 * model_params * tokens
        lr = 0.3118 * compute**-0.125
        batch = 0.2920 * compute**0.3271
        found.append(
            _point_rule(
                lr,
                family="wsd",
                note=f"compute C = 6 x params x tokens = {compute:.3g} FLOPs; "
                f"its batch rule says {batch:.3g} tokens per batch",
                source="DeepSeek-AI, DeepSeek LLM (2024): lr = 0.3118 C^-0.125 for pre-training",
            )
        )
    elif task.optimizer == "sgd" and task.batch_size:
        lr = 0.1 * task.batch_size / 256
        found.append(
            _point_rule(
                lr,
                family="step",
                note=f"0.1 x batch {task.batch_size} / 256",
                source="Goyal et al., Accurate, Large Minibatch SGD (2017): linear scaling",
            )
        )
    return found


def recommend(
    store: Store,
    task: TaskInfo,
    *,
    metric: str | None = None,
    direction: Direction | None = None,
    model_params: float | None = None,
    tokens: float | None = None,
) -> Recommendation:
    """A starting policy and LR for `task` and the range to search, with the evidence.

    Stored results decide when there are any (the task's own, else the nearest task's, moved
    to this task's batch size), then the fitting recipes, then the rules. A range is the
    deciding LR / 3 .. x 3 (x 10 past an edge of the range a stored study searched), or the
    recipes' span widened likewise, or the rule's; a pre-training ceiling caps full
    fine-tuning.

    Args:
        store: The store to consult.
        task: The task (stored, built-in, or described).
        metric, direction: Count only stored studies of this metric and direction.
        model_params, tokens: The model's parameter count and the training tokens, for the
            rules that need them.

    Raises:
        ConfigError: nothing applies (no stored result, recipe or rule): the message says
            what to describe.
    """
    basis, stored = _stored_evidence(store, task, metric, direction)
    law = _horizon_evidence(store, task, metric)
    fits, generic = fitting_recipes(store.recipes(), task)
    recipes = [
        Evidence(
            kind="recipe",
            lr=r.lr,
            family=r.family,
            source=f"recipe {r.name}: {r.source}",
            note=", ".join(
                part
                for part in (r.model, r.method if r.domain else "", _epochs(r.epochs), r.warmup)
                if part
            ),
        )
        for r in fits
    ]
    found_rules = rules(task, model_params=model_params, tokens=tokens)
    pointing = [e for e in found_rules if e.low is not None and e.high is not None]
    if law is not None:
        deciding, basis, lr = [law], "horizon law", law.point
        low, high = min(law.low or lr, lr / AROUND), max(law.high or lr, lr * AROUND)
    elif stored:
        deciding, best = stored, stored[0]
        lr = best.point
        low = lr / (BEYOND_EDGE if best.edge == "bottom" else AROUND)
        high = lr * (BEYOND_EDGE if best.edge == "top" else AROUND)
    elif recipes and not (generic and pointing):
        deciding, basis, lr = recipes, "recipes", recipes[0].point
        low, high = _spanning(recipes)
    elif pointing:  # an optimizer's generic default is weaker than a rule for the task
        deciding, basis, lr = pointing, "rules", pointing[0].point
        low, high = _spanning([*pointing, *recipes])
    else:
        raise ConfigError(
            f"nothing is known for task {task.name!r}: no stored study of it or a similar "
            "task, no recipe and no rule fits; describe it (--optimizer, --lora, --params "
            "and --tokens) or run a study first"
        )
    ceilings = [e.high for e in found_rules if e.high is not None and e.low is None]
    if ceilings and task.method == "full":
        high = min(high, *ceilings)
        low, lr = min(low, high / AROUND), min(lr, high)
    others = [e for e in (*stored, *recipes, *found_rules) if e not in deciding]
    return Recommendation(
        family=deciding[0].family or "cosine",
        lr=lr,
        lr_min=low,
        lr_max=high,
        basis=basis,
        evidence=(*deciding, *others),
    )
