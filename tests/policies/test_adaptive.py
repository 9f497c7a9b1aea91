"""Adaptive policies: plateau against torch's ReduceLROnPlateau; switch_on_plateau's moves."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.optim import lr_scheduler

import lrbench


@given(
    metrics=st.lists(st.floats(0.0, 2.0), min_size=1, max_size=80),
    mode=st.sampled_from(["min", "max"]),
    threshold_mode=st.sampled_from(["rel", "abs"]),
    threshold=st.floats(0, 0.1),
    patience=st.integers(0, 5),
    cooldown=st.integers(0, 3),
    factor=st.floats(0.1, 0.9),
    floor=st.floats(0, 0.01),
)
def test_plateau_matches_reducelronplateau(
    metrics: list[float],
    mode: str,
    threshold_mode: str,
    threshold: float,
    patience: int,
    cooldown: int,
    factor: float,
    floor: float,
) -> None:
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    reference = lr_scheduler.ReduceLROnPlateau(
        optimizer,
        mode=mode,
        factor=factor,
        patience=patience,
        threshold=threshold,
        threshold_mode=threshold_mode,
        cooldown=cooldown,
        min_lr=floor,
    )
    policy = lrbench.parse(
        f"plateau(lr=0.1,factor={factor!r},min_lr={floor!r},metric=val_loss,mode={mode},"
        f"patience={patience},threshold={threshold!r},threshold_mode={threshold_mode},"
        f"cooldown={cooldown})"
    )
    controller = policy.controller()  # type: ignore[attr-defined]
    for step, value in enumerate(metrics):
        reference.step(value)
        controller.report(step, {"val_loss": value, "other": 5.0})
        assert controller.lr(step) == optimizer.param_groups[0]["lr"]


def test_plateau_ignores_reports_without_its_metric(recwarn: pytest.WarningsRecorder) -> None:
    controller = lrbench.parse("plateau(lr=0.1,patience=0)").controller()  # type: ignore
    for step in range(5):
        controller.report(step, {"accuracy": 0.5})
    assert controller.lr(5) == 0.1
    assert not recwarn.list  # other metrics alone: a trainer's logs between evaluations
    with pytest.warns(UserWarning) as told:
        for step in range(5):
            controller.report(step, {"eval/loss": 0.5})
    assert len(told) == 1  # a variant of the watched name: said once


def test_a_monitor_reporting_another_metric_than_the_watched_one_is_told_which(
    recwarn: pytest.WarningsRecorder,
) -> None:
    weight = torch.nn.Parameter(torch.zeros(1))
    monitor = lrbench.Monitor("plateau(lr=0.1,patience=0)", torch.optim.SGD([weight], lr=0.0))
    with pytest.warns(
        UserWarning,
        match=r"`plateau` watches 'loss', which this report lacks \(it has val_loss\): report "
        r"loss=... or give plateau\(metric=NAME\)",
    ) as told:
        monitor.report(val_loss=0.4)
    assert told[0].filename == __file__  # it points at the user's report call
    watching = lrbench.Monitor(
        "plateau(lr=0.1,patience=0,metric=val_loss)", torch.optim.SGD([weight], lr=0.0)
    )
    watching.report(val_loss=0.4)
    watching.report(val_loss=0.4)
    assert not recwarn.list and watching.lr < 0.1


def test_switch_on_plateau_moves_through_policies_on_their_own_clocks() -> None:
    policy = lrbench.parse(
        "switch_on_plateau(policies=[fixed(lr=0.1),exp(lr=0.05,gamma=0.5),"
        "fixed(lr=0.001)],patience=1,mode=max,metric=acc)"
    )
    assert policy.values(np.arange(3)).tolist() == [0.1, 0.1, 0.1]
    controller = policy.controller()  # type: ignore[attr-defined]
    for step, acc in [(10, 0.5), (20, 0.6), (30, 0.6), (40, 0.6)]:
        controller.report(step, {"acc": acc})
    assert controller.lr(40) == 0.05 and controller.lr(42) == 0.05 * 0.25
    saved = controller.state_dict()
    for step in (50, 60, 70, 80, 90):
        controller.report(step, {"acc": 0.6})
    assert controller.lr(90) == 0.001  # the last policy runs to the end
    fresh = policy.controller()  # type: ignore[attr-defined]
    fresh.load_state_dict(saved)
    assert fresh.lr(42) == 0.05 * 0.25
