"""The training skeleton the built-in tasks share: optimizer choice, the Monitor, evaluation
cadence, and the checkpoints that let a composed study fork a trained phase."""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Callable, Mapping
from typing import Any

from lrbench.exceptions import ConfigError
from lrbench.trial import Trial

__all__ = [
    "FINE_TUNING_OPTIMIZERS",
    "LR_FREE_OPTIMIZERS",
    "OPTIMIZERS",
    "PRECISIONS",
    "check_fine_tuning_optimizer",
    "check_precision",
    "fine_tuning_optimizer",
    "load_state_dicts",
    "lr_free_optimizer",
    "make_optimizer",
    "state_dicts",
    "train_loop",
    "trainer_precision",
    "updates_per_epoch",
]

#: Optimizers that claim to need no LR tuning, for comparison (`pip install -e
#: ".[optimizers]"`): Prodigy, D-Adaptation (Adam) and Schedule-Free AdamW.
LR_FREE_OPTIMIZERS = ("prodigy", "dadaptation", "schedule_free")

#: The optimizers the from-scratch tasks take (`--param optimizer=...`).
OPTIMIZERS = ("sgd", "adam", "adamw", *LR_FREE_OPTIMIZERS)

#: The optimizers the Trainer-based tasks take: the Trainer's AdamW, or one without LR tuning.
FINE_TUNING_OPTIMIZERS = ("adamw", *LR_FREE_OPTIMIZERS)
_OPTIMIZER_PACKAGES = {
    "prodigy": "prodigyopt",
    "dadaptation": "dadaptation",
    "schedule_free": "schedulefree",
}

#: The arithmetic the Trainer-based tasks train in (`--param precision=...`).
PRECISIONS = ("auto", "bf16", "fp16", "fp32")


def make_optimizer(name: str, parameters: Any, params: Mapping[str, Any]) -> Any:
    """The optimizer named `name` (`sgd` with `params['momentum']`, `adam`, `adamw`, or one of
    `LR_FREE_OPTIMIZERS`), with `params['weight_decay']`; its LR is set by the Monitor."""
    import torch

    decay = float(params["weight_decay"])
    if name == "sgd":
        return torch.optim.SGD(
            parameters, lr=0.0, momentum=float(params["momentum"]), weight_decay=decay
        )
    if name == "adam":
        return torch.optim.Adam(parameters, lr=0.0, weight_decay=decay)
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=0.0, weight_decay=decay)
    if name in LR_FREE_OPTIMIZERS:
        return lr_free_optimizer(name, parameters, decay)
    raise ConfigError(f"`optimizer` must be one of {', '.join(OPTIMIZERS)}, got {name!r}")


def updates_per_epoch(rows: int, batch_size: int, grad_accum: int = 1) -> int:
    """Optimizer updates in one epoch of `rows`, counted as the Trainer counts them."""
    return max(1, math.ceil(math.ceil(rows / batch_size) / grad_accum))


def check_fine_tuning_optimizer(params: Mapping[str, Any]) -> None:
    """Refuse an unknown `params['optimizer']`, or one whose package is missing."""
    from lrbench._wheels import require

    name = params["optimizer"]
    if name not in FINE_TUNING_OPTIMIZERS:
        raise ConfigError(
            f"`optimizer` must be one of {', '.join(FINE_TUNING_OPTIMIZERS)}, got {name!r}"
        )
    if name in _OPTIMIZER_PACKAGES:
        require((_OPTIMIZER_PACKAGES[name], "optimizers"))


def check_precision(params: Mapping[str, Any]) -> None:
    """Refuse an unknown `params['precision']`, or mixed precision without a CUDA GPU."""
    import torch

    name = params["precision"]
    if name not in PRECISIONS:
        raise ConfigError(f"`precision` must be one of {', '.join(PRECISIONS)}, got {name!r}")
    if name in ("bf16", "fp16") and not torch.cuda.is_available():
        raise ConfigError(
            f"`precision` is {name}, which needs a CUDA GPU and none is visible: use auto "
            "(fp32 on the CPU) or fp32"
        )
    if name == "bf16" and not torch.cuda.is_bf16_supported():
        raise ConfigError("`precision` is bf16, which this GPU lacks: use auto (fp16) or fp16")


def trainer_precision(params: Mapping[str, Any]) -> tuple[bool, bool]:
    """The Trainer's (`bf16`, `fp16`) flags for `params['precision']`: `auto` is bf16 on a
    GPU that has it, fp16 on one that does not, fp32 on the CPU."""
    import torch

    name = params["precision"]
    if name == "auto" and torch.cuda.is_available():
        name = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return name == "bf16", name == "fp16"


def lr_free_optimizer(name: str, parameters: Any, weight_decay: float) -> Any:
    """One of `LR_FREE_OPTIMIZERS` over `parameters`, its package checked first.

    `prodigy` (Mishchenko & Defazio, 2023) and `dadaptation` (Defazio & Mishchenko, 2023, the
    Adam variant with decoupled weight decay) estimate their own step size: the policy's LR
    multiplies it (use 1, with the schedule's shape). `schedule_free` is Schedule-Free AdamW
    (Defazio et al., 2024): the policy's LR is its LR (the package's default is 2.5e-3,
    constant after a warmup); it evaluates at an average of its iterates, so the training loop
    switches it between its train and eval modes.
    """
    from lrbench._wheels import require

    require((_OPTIMIZER_PACKAGES[name], "optimizers"))
    if name == "prodigy":
        from prodigyopt import Prodigy

        return Prodigy(parameters, lr=1.0, weight_decay=weight_decay)
    if name == "dadaptation":
        from dadaptation import DAdaptAdam

        with contextlib.redirect_stdout(io.StringIO()):  # it prints that decay is decoupled
            return DAdaptAdam(parameters, lr=1.0, weight_decay=weight_decay, decouple=True)
    from schedulefree import AdamWScheduleFree

    return AdamWScheduleFree(parameters, lr=0.0, weight_decay=weight_decay)


def fine_tuning_optimizer(model: Any, params: Mapping[str, Any]) -> Any:
    """The optimizer of a Trainer-based task's trainable weights (`params['optimizer']`, with
    `params['weight_decay']`), or None for the Trainer's own AdamW. The Trainer switches
    Schedule-Free's train and eval modes itself."""
    check_fine_tuning_optimizer(params)
    if params["optimizer"] == "adamw":
        return None
    trainable = [p for p in model.parameters() if p.requires_grad]
    return lr_free_optimizer(str(params["optimizer"]), trainable, float(params["weight_decay"]))


def state_dicts(objects: Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint of a task's objects: each one's `state_dict()` (a generator's RNG state)."""
    import torch

    return {
        name: obj.get_state() if isinstance(obj, torch.Generator) else obj.state_dict()
        for name, obj in objects.items()
    }


def load_state_dicts(objects: Mapping[str, Any], state: Mapping[str, Any]) -> None:
    """Put the objects back as `state_dicts(objects)` saved them."""
    import torch

    for name, obj in objects.items():
        if isinstance(obj, torch.Generator):
            obj.set_state(state[name])
        else:
            obj.load_state_dict(state[name])


def train_loop(
    trial: Trial,
    *,
    model: Any,
    optimizer: Any,
    generator: Any,
    batch_loss: Callable[[], Any],
    evaluate: Callable[[float], Mapping[str, float]],
    evaluations: int,
) -> float:
    """Train `model` from `trial.start_step` to `trial.total_steps`; return the last loss.

    Each update draws a batch with `batch_loss()` (which should use `generator` for its
    data order), steps the optimizer and the Monitor (which sets the LR and stops the trial
    on divergence). `evaluations` times over the budget, and after the last update,
    `trial.report(step, **evaluate(train_loss))`. A forked trial resumes the model, optimizer
    and generator from `trial.resume_state`; where the study asks for it, their state is saved.
    """
    state = {"model": model, "optimizer": optimizer, "generator": generator}
    if trial.resume_state is not None:  # a forked phase of a composed study
        load_state_dicts(state, trial.resume_state)
    monitor = trial.monitor(optimizer)
    modes = _OptimizerModes(optimizer)
    modes.train()
    every = max(1, trial.total_steps // evaluations)
    train_loss = math.nan
    for step in range(trial.start_step, trial.total_steps):
        loss = batch_loss()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        monitor.step(loss=loss)
        train_loss = loss.item()
        if (step + 1) % every == 0 or step + 1 == trial.total_steps:
            modes.eval()
            metrics = evaluate(train_loss)
            modes.train()
            trial.report(step + 1, **metrics)
        if trial.wants_checkpoint(step + 1):
            trial.save_checkpoint(step + 1, state_dicts(state))
    modes.eval()
    return train_loss


class _OptimizerModes:
    """Switches an optimizer that keeps separate training and evaluation weights
    (Schedule-Free) between them; a no-op for the others."""

    def __init__(self, optimizer: Any) -> None:
        self._train = getattr(optimizer, "train", None)
        self._eval = getattr(optimizer, "eval", None)

    def train(self) -> None:
        """Put the training weights in the model."""
        if callable(self._train):
            self._train()

    def eval(self) -> None:
        """Put the evaluation weights in the model."""
        if callable(self._eval):
            self._eval()
