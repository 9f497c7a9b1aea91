"""The LR value range test: sweep the LR up over a short run and read a good LR off the loss.

    result = lrbench.range_test("digits-mlp", lr_min=1e-5, lr_max=10, steps=200)
    result = lrbench.range_test_model(model, optimizer, loader, loss_fn)  # model left untouched
    result = lrbench.rangetest.range_test_trainer(trainer)  # a Hugging Face Trainer, restored
    result.suggestion, result.range        # a point, and [lo, hi] for cyclic policies / search
    result.candidates                      # every rule's pick

The sweep trains from one starting state while the LR rises exponentially (or linearly) from
`lr_min` to `lr_max`, one value per step, and stops when the loss diverges. The suggestion rules
are pure functions of the (LR, smoothed loss) curve:

* `steepest`: where the smoothed loss falls fastest against log LR. Against log LR, not LR: the
  sweep is exponential, and a slope against linear LR favours the first, tiny LRs (Lightning 2.6
  does that and suggests LRs decades too low).
* `minimum/10`: a tenth of the LR at the lowest smoothed loss (the fastai/Smith rule of thumb).
* `valley`: the middle of the longest stretch over which the smoothed loss keeps falling.

The suggestion is `valley`'s pick (the median of the other two, on a log scale, where it finds
none); every rule's pick and their spread are reported. Measured against tuned optima on four
tasks (docs/benchmarks.md), valley erred by 3x on average and least on the two fine-tuning
tasks (0.87x on SmolLM2 with LoRA, 0.56x on MiniLM; 0.33x and 0.08x on the from-scratch
built-ins, where it errs low, the safe side); the median of the three rules by 4x, steepest
descent by up to 4,000x (it catches the first, noisy steps of a pretrained model's flat
loss). fastai's `lr_find` also defaults to a valley rule of its own.

The range is [the LR where the loss starts falling, the LR at its minimum].
Reference: Smith, "Cyclical Learning Rates for Training Neural Networks" (WACV 2017).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from lrbench._random import random_states, restore_random_states
from lrbench.evaluate import Direction
from lrbench.exceptions import ConfigError, Diverged

__all__ = [
    "MIN_SWEEP_STEPS",
    "RangeTestResult",
    "grid_range",
    "minimum_tenth",
    "range_test",
    "range_test_model",
    "range_test_trainer",
    "smooth",
    "steepest",
    "suggest",
    "sweep_spec",
    "valley",
]


#: The shortest sweep whose curve the rules can read.
MIN_SWEEP_STEPS = 5


def smooth(losses: np.ndarray, beta: float = 0.9) -> np.ndarray:
    """Exponential moving average with bias correction (no lag towards zero at the start)."""
    out = np.empty(len(losses))
    average = 0.0
    for index, loss in enumerate(np.asarray(losses, dtype=float)):
        average = beta * average + (1 - beta) * loss
        out[index] = average / (1 - beta ** (index + 1))
    return out


def _finite_prefix(smoothed: np.ndarray) -> int:
    """How many leading points are finite (a NaN/inf loss ends what can be read)."""
    finite = np.isfinite(smoothed)
    return int(np.argmin(finite)) if not finite.all() else len(smoothed)


def steepest(lrs: np.ndarray, smoothed: np.ndarray) -> float | None:
    """The LR where the smoothed loss falls fastest against log LR (before its minimum).

    The first tenth of the sweep is skipped: there the moving average is still settling, and
    its early swings would win at LRs too small to train anything.
    """
    end = int(np.nanargmin(smoothed)) + 1
    skip = max(1, len(smoothed) // 10)
    if end - skip < 3:
        return None
    slope = np.gradient(smoothed[:end], np.log(lrs[:end]))[skip:]
    index = int(np.argmin(slope))
    return float(lrs[skip + index]) if slope[index] < 0 else None


def minimum_tenth(lrs: np.ndarray, smoothed: np.ndarray) -> float | None:
    """A tenth of the LR at the lowest smoothed loss (None if the loss never fell)."""
    index = int(np.nanargmin(smoothed))
    return float(lrs[index] / 10) if index > 0 and smoothed[index] < smoothed[0] else None


def valley(lrs: np.ndarray, smoothed: np.ndarray) -> float | None:
    """The LR in the middle (on a log scale) of the longest run of falling smoothed loss."""
    falling = np.diff(smoothed) < 0
    best_start, best_length, start = 0, 0, None
    for index, down in enumerate([*falling, False]):
        if down and start is None:
            start = index
        elif not down and start is not None:
            if index - start > best_length:
                best_start, best_length = start, index - start
            start = None
    if best_length < 2:
        return None
    middle = best_start + best_length // 2
    return float(lrs[middle])


RULES = {"steepest": steepest, "minimum/10": minimum_tenth, "valley": valley}


@dataclasses.dataclass(frozen=True, kw_only=True)
class RangeTestResult:
    """The sweep's curve and what it suggests.

    Attributes:
        lrs: The LR at each step of the sweep.
        losses: The raw training loss at each step.
        smoothed: The bias-corrected moving average of `losses`.
        candidates: Each rule's suggestion (None where it found nothing).
        suggestion: `valley`'s candidate (else the median of the others on a log scale), or
            None when the loss never fell.
        spread: max/min ratio of the candidates (1 when they agree).
        range: [lo, hi]: where the loss starts falling, and where it is lowest; None likewise.
        diverged_at: The step at which the sweep stopped on divergence, or None.
        reason: Why there is no suggestion, if there is none.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    candidates: dict[str, float | None]
    suggestion: float | None
    spread: float | None
    range: tuple[float, float] | None
    diverged_at: int | None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary (`lrbench range-test --format json`)."""
        return {
            "suggestion": self.suggestion,
            "range": list(self.range) if self.range else None,
            "candidates": self.candidates,
            "spread": self.spread,
            "steps": len(self.lrs),
            "diverged_at": self.diverged_at,
            "reason": self.reason or None,
            "curve": {
                "lr": self.lrs.tolist(),
                "loss": self.losses.tolist(),
                "smoothed": self.smoothed.tolist(),
            },
        }


def suggest(
    lrs: np.ndarray, losses: np.ndarray, *, beta: float = 0.9, diverged_at: int | None = None
) -> RangeTestResult:
    """Apply every rule to a sweep's curve (pure: no training here)."""
    lrs = np.asarray(lrs, dtype=float)
    losses = np.asarray(losses, dtype=float)
    smoothed = smooth(losses, beta)
    usable = _finite_prefix(smoothed)
    lrs_used, smooth_used = lrs[:usable], smoothed[:usable]
    start_level = smooth_used[0] if usable else math.nan
    if usable < 5 or not np.nanmin(smooth_used) < start_level * 0.98:
        return RangeTestResult(
            lrs=lrs,
            losses=losses,
            smoothed=smoothed,
            candidates={name: None for name in RULES},
            suggestion=None,
            spread=None,
            range=None,
            diverged_at=diverged_at,
            reason="the loss never fell over the sweep: lower lr_min (or the model "
            "does not train); no suggestion",
        )
    candidates = {name: rule(lrs_used, smooth_used) for name, rule in RULES.items()}
    found = [c for c in candidates.values() if c is not None]
    suggestion = candidates["valley"]
    if suggestion is None and found:
        suggestion = float(np.exp(np.median(np.log(found))))
    spread = float(max(found) / min(found)) if found else None
    low_index = int(np.argmax(smooth_used < start_level * 0.98))
    high_index = int(np.nanargmin(smooth_used))
    return RangeTestResult(
        lrs=lrs,
        losses=losses,
        smoothed=smoothed,
        candidates=candidates,
        suggestion=suggestion,
        spread=spread,
        range=(float(lrs_used[low_index]), float(lrs_used[high_index])),
        diverged_at=diverged_at,
    )


def sweep_spec(lr_min: float, lr_max: float, steps: int, mode: str = "exp") -> str:
    """The policy of the sweep: from `lr_min` at step 0 to `lr_max` at step `steps - 1`.

    Exponential (`exp`, the usual choice: every decade gets the same number of steps) or linear
    (`linear`: a warmup from lr_min to lr_max).
    """
    if not 0 < lr_min < lr_max < math.inf:
        raise ConfigError(
            f"`--lr-min` and `--lr-max` must be finite, 0 < lr_min < lr_max, got "
            f"lr_min={lr_min!r}, lr_max={lr_max!r}"
        )
    if steps < MIN_SWEEP_STEPS:
        raise ConfigError(f"`--steps` must be >= {MIN_SWEEP_STEPS}, got {steps}")
    if mode == "exp":
        return f"exp(lr={lr_min!r},gamma={(lr_max / lr_min) ** (1 / (steps - 1))!r})"
    if mode == "linear":
        return (
            f"warmup(policy=fixed(lr={lr_max!r}),warmup_steps={steps - 1},warmup_init={lr_min!r})"
        )
    raise ConfigError(f"`--mode` must be exp or linear, got {mode!r}")


def range_test(
    task: str,
    *,
    lr_min: float = 1e-6,
    lr_max: float = 10.0,
    steps: int = 100,
    mode: str = "exp",
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    beta: float = 0.9,
) -> RangeTestResult:
    """Run the range test on a task (built-in name, `module:function` or `file.py:function`).

    The task runs once from its usual starting state (a fresh model, or the pretrained
    checkpoint for `charlm`) with the LR rising from `lr_min` to `lr_max` over `steps` updates;
    the Monitor records each step's loss and stops the run when the loss diverges.
    """
    from lrbench.tasks import load_task
    from lrbench.trial import Trial

    policy = sweep_spec(lr_min, lr_max, steps, mode)
    resolved = load_task(task, params)
    trial = Trial(policy=policy, total_steps=steps, seed=seed, params=resolved.params, sweep=True)
    return _run_sweep(trial, resolved.function, f"task {resolved.name}", beta)


def _run_sweep(trial: Any, train: Callable[[Any], Any], what: str, beta: float) -> RangeTestResult:
    """Train the sweep's trial (up to divergence) and read its curve from the trial's Monitor."""
    diverged_at = None
    try:
        train(trial)
    except Diverged as diverged:
        diverged_at = diverged.step
    monitor = trial.active_monitor
    if monitor is None:
        raise ConfigError(
            f"{what} did not call trial.monitor(optimizer): the range "
            "test needs the Monitor to record the loss"
        )
    history = monitor.history
    if history.stride != 1:
        raise ConfigError(f"`--steps` must be <= {len(history.step)} for a range test")
    return suggest(history.lr, history.loss, beta=beta, diverged_at=diverged_at)


def _loss_of_batch(
    loss_fn: Callable[[Any, Any], Any] | None, criterion: Callable[[Any, Any], Any] | None
) -> Callable[[Any, Any], Any]:
    """`loss_fn`, or the loss `criterion` gives a batch of (inputs, targets)."""
    if (loss_fn is None) == (criterion is None):
        raise ConfigError(
            "give one of `loss_fn(model, batch)` and `criterion(output, target)`, "
            f"got {'both' if loss_fn is not None else 'neither'}"
        )
    if loss_fn is not None:
        return loss_fn
    assert criterion is not None

    def loss_of(model: Any, batch: Any) -> Any:
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise ConfigError(
                "`criterion` needs batches of (inputs, targets), got a batch of type "
                f"{type(batch).__name__}; pass `loss_fn(model, batch)` for other batches"
            )
        device = next(model.parameters()).device
        inputs, targets = (part.to(device) if hasattr(part, "to") else part for part in batch)
        return criterion(model(inputs), targets)

    return loss_of


def range_test_model(
    model: Any,
    optimizer: Any,
    batches: Iterable[Any],
    loss_fn: Callable[[Any, Any], Any] | None = None,
    *,
    criterion: Callable[[Any, Any], Any] | None = None,
    lr_min: float = 1e-6,
    lr_max: float = 10.0,
    steps: int = 100,
    mode: str = "exp",
    beta: float = 0.9,
    scaler: Any | None = None,
) -> RangeTestResult:
    """The range test on your own model, leaving it exactly as it was.

    Args:
        model: A `torch.nn.Module`.
        optimizer: Its optimizer (the sweep sets its LR; its state is restored afterwards).
        batches: An iterable of batches (a DataLoader); cycled if shorter than `steps`.
        loss_fn: `loss_fn(model, batch) -> loss tensor`; or instead
        criterion: `criterion(model(inputs), targets)` for batches of `(inputs, targets)`
            (as torch-lr-finder takes it: `criterion=nn.CrossEntropyLoss()`); both are moved
            to the model's device.
        scaler: A `torch.amp.GradScaler` for mixed precision, restored afterwards too.

    Raises:
        ConfigError: neither or both of `loss_fn` and `criterion`, or a batch that is not
            `(inputs, targets)` where `criterion` is given.

    The model's parameters and buffers, the optimizer's state (momentum, Adam moments, LRs), the
    scaler's state and the Python, NumPy, torch (and CUDA) random states are copied before the
    sweep and put back after it, also when it stops on divergence or raises.
    """
    import copy

    from lrbench.monitor import Monitor

    compute_loss = _loss_of_batch(loss_fn, criterion)
    sweep = sweep_spec(lr_min, lr_max, steps, mode)
    saved_model = copy.deepcopy(model.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    saved_scaler = copy.deepcopy(scaler.state_dict()) if scaler is not None else None
    saved_rng = random_states()
    was_training = model.training
    monitor = Monitor(sweep, optimizer, on_divergence="raise", history_size=max(2 * steps, 4096))
    diverged_at = None
    try:
        model.train()
        iterator = iter(batches)
        for _ in range(steps):
            try:
                batch = next(iterator)
            except StopIteration:
                iterator = iter(batches)
                batch = next(iterator)
            loss = compute_loss(model, batch)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            monitor.step(loss=loss)
    except Diverged as diverged:
        diverged_at = diverged.step
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        if scaler is not None:
            scaler.load_state_dict(saved_scaler)
        restore_random_states(saved_rng)
        model.train(was_training)
    history = monitor.history
    return suggest(history.lr, history.loss, beta=beta, diverged_at=diverged_at)


def range_test_trainer(
    trainer: Any,
    *,
    lr_min: float = 1e-7,
    lr_max: float = 1.0,
    steps: int = 100,
    mode: str = "exp",
    beta: float = 0.9,
) -> RangeTestResult:
    """The range test on a Hugging Face `Trainer` you built, leaving it as it was.

    The Trainer trains `steps` updates with the LR rising from `lr_min` to `lr_max` (its own
    optimizer kept, the loss logged every step, no evaluation, stopping on divergence). After
    the sweep, also when it stops or raises, the trainable weights (the adapter alone under
    LoRA) and buffers, the optimizer and its state, the scheduler, the arguments, the callbacks,
    the Trainer's state and the random states are put back: `trainer.train()` then trains as if
    no sweep had run.
    """
    from lrbench.integrations.huggingface import run_trainer
    from lrbench.trial import Trial

    trial = Trial(
        policy=sweep_spec(lr_min, lr_max, steps, mode),
        total_steps=steps,
        seed=int(trainer.args.seed),
        sweep=True,
    )
    with _trainer_restored(trainer):
        return _run_sweep(trial, lambda sweep: run_trainer(sweep, trainer), "the Trainer", beta)


@contextlib.contextmanager
def _trainer_restored(trainer: Any) -> Iterator[None]:
    """Put back everything a run of `trainer` changes. Trainable weights and buffers are
    copied to the CPU (frozen weights do not change), so a large model on a GPU needs no
    second copy there."""
    import copy

    import torch

    model = trainer.model
    trained = {
        name: tensor
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]
        if not isinstance(tensor, torch.nn.Parameter) or tensor.requires_grad
    }
    saved_weights = {
        name: tensor.detach().to("cpu", copy=True) for name, tensor in trained.items()
    }
    optimizer = trainer.optimizer
    saved_optimizer = None if optimizer is None else copy.deepcopy(optimizer.state_dict())
    saved = {
        "args": copy.deepcopy(trainer.args),
        "state": copy.deepcopy(trainer.state),
        "callbacks": list(trainer.callback_handler.callbacks),
        "lr_scheduler": trainer.lr_scheduler,
        "model_wrapped": trainer.model_wrapped,
    }
    had_own_scheduler_factory = "create_scheduler" in vars(trainer)
    own_scheduler_factory = vars(trainer).get("create_scheduler")
    saved_rng = random_states()
    try:
        yield
    finally:
        with torch.no_grad():
            for name, tensor in trained.items():
                tensor.copy_(saved_weights[name])
        trainer.optimizer = optimizer
        if optimizer is not None:
            optimizer.load_state_dict(saved_optimizer)
        for name, value in saved.items():
            if name != "callbacks":
                setattr(trainer, name, value)
        trainer.callback_handler.callbacks = saved["callbacks"]
        if had_own_scheduler_factory:
            trainer.create_scheduler = own_scheduler_factory
        else:
            vars(trainer).pop("create_scheduler", None)
        restore_random_states(saved_rng)


def grid_range(
    lrs: np.ndarray, values: np.ndarray, *, mode: str, tolerance: float
) -> tuple[float | None, tuple[float, float] | None]:
    """The best LR and the contiguous range around it within `tolerance` of the best (pure)."""
    finite = np.isfinite(values)
    if not finite.any():
        return None, None
    sign = Direction.of(mode).sign
    scores = np.where(finite, sign * values, -np.inf)
    best = int(np.argmax(scores))
    bound = values[best] - sign * tolerance * abs(values[best])

    def good(index: int) -> bool:
        return bool(finite[index] and sign * values[index] >= sign * bound)

    low = high = best
    while low > 0 and good(low - 1):
        low -= 1
    while high < len(lrs) - 1 and good(high + 1):
        high += 1
    return float(lrs[best]), (float(lrs[low]), float(lrs[high]))
