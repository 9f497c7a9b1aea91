"""Every figure from stored studies of every shape: the data step, then the files."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest

from lrbench.policies import parse
from lrbench.store import Store, StudyRecord
from lrbench.viz import data, figures


def png_size(path: Path) -> tuple[int, int]:
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", raw[16:24])


def all_figures(store: Store, study: StudyRecord) -> dict[str, object]:
    board = store.leaderboard(study)
    made = {
        "lr-sweep": figures.lr_sweep_figure(data.lr_sweep(study, board)),
        "curves": figures.study_curves_figure(data.study_curves(store, study, board)),
        "pareto": figures.pareto_figure(data.cost_points(study, board)),
        "heatmap": figures.heatmap_figure(data.heatmap(study, board)),
    }
    for trial in store.trials(study.id)[:2]:
        made[f"trial-{trial.number}"] = figures.trial_figure(data.trial_curves(store, trial))
    return made


@pytest.mark.parametrize("name", ["normal", "empty", "one-trial", "all-diverged", "big"])
def test_every_figure_renders_to_png_and_svg(name: str, studies, tmp_path: Path) -> None:
    store, made = studies
    for kind, figure in all_figures(store, made[name]).items():
        png, svg = tmp_path / f"{kind}.png", tmp_path / f"{kind}.svg"
        figure.savefig(png)
        figure.savefig(svg)
        assert png_size(png) == (1600, 1000), kind
        assert png.stat().st_size > 5_000, kind
        text = svg.read_text()
        assert text.lstrip().startswith("<?xml") and text.rstrip().endswith("</svg>"), kind


def test_lr_sweep_groups_by_family_sorts_by_lr_and_marks_the_choice(studies) -> None:
    store, made = studies
    study = made["normal"]
    sweep = data.lr_sweep(study, store.leaderboard(study))
    lrs, means, stds = sweep.lines["cosine"]
    assert lrs.tolist() == [0.01, 0.1, 1.0]
    np.testing.assert_allclose(means, [0.705, 0.955, 0.505])
    np.testing.assert_allclose(stds, np.std([0, 0.01], ddof=1))
    assert sweep.lines["fixed"][0].tolist() == [0.01, 0.1]
    assert sweep.diverged == {"fixed": pytest.approx(np.array([1.0]))}
    assert sweep.chosen == ("cosine", 0.1, pytest.approx(0.955))


def test_heatmap_places_each_mean_and_leaves_failures_empty(studies) -> None:
    store, made = studies
    study = made["normal"]
    grid = data.heatmap(study, store.leaderboard(study))
    assert grid.families == ["cosine", "fixed"] and grid.lrs == [0.01, 0.1, 1.0]
    assert grid.values[1, 1] == pytest.approx(0.905)
    assert math.isnan(grid.values[1, 2])


def test_pareto_front_keeps_only_unbeaten_points() -> None:
    cost = np.array([10.0, 20.0, 20.0, 30.0, 5.0])
    value = np.array([0.5, 0.8, 0.6, 0.7, 0.4])
    assert data.pareto_front(cost, value, "max").tolist() == [4, 0, 1]
    assert data.pareto_front(cost, value, "min").tolist() == [4]


def test_cost_points_and_study_curves(studies) -> None:
    store, made = studies
    study = made["normal"]
    board = store.leaderboard(study)
    points = data.cost_points(study, board)
    assert points.target == 0.8 and len(points.cost) == 5 and set(points.cost) == {200.0}
    curves = data.study_curves(store, study, board)
    reach = data.cost_points(study, board, curves)
    # steps to reach the target 0.8: curves rise linearly to their final value at step 100
    assert "target" in reach.cost_label and len(reach.cost) == 2
    assert dict(zip(reach.labels, reach.cost)) == {
        "cosine(lr=0.1,total_steps=100)": 90.0,
        "fixed(lr=0.1)": 90.0,
    }
    assert len(curves.curves) == 12 and curves.best_policy == "cosine(lr=0.1,total_steps=100)"
    assert all(len(steps) == 10 for _, _, steps, _ in curves.curves)


def test_trial_curves_carry_points_lr_and_end(studies) -> None:
    store, made = studies
    diverged = store.trials(made["all-diverged"].id)[0]
    curves = data.trial_curves(store, diverged)
    assert curves.status == "diverged" and curves.end_step == 37
    assert set(curves.metrics) == {"acc", "loss"}
    np.testing.assert_array_equal(curves.lr, parse(diverged.policy).values(curves.lr_steps))
    big = data.trial_curves(store, store.trials(made["big"].id)[0])
    assert len(big.metrics["acc"][0]) == 10_000 and len(big.lr_steps) <= 2000
