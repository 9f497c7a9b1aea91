"""`lrbench scale fit|predict`: from stored studies at several horizons and from a CSV."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import store_sweeps

from lrbench.cli.main import main
from lrbench.store import Store

GRID = [float(lr) for lr in np.geomspace(1e-3, 1e-1, 7)]


def best_lr(horizon: float) -> float:
    return 0.2 * horizon**-0.25


def loss(lr: float, horizon: float) -> float:
    return 3.0 + 0.5 * (math.log(lr) - math.log(best_lr(horizon))) ** 2


def store_with_sweeps(path: Path, horizons: list[int]) -> str:
    """Cosine studies of one task at each horizon (the top LR diverged at the longest), plus
    a fixed-LR study at the first one."""
    url = f"sqlite:///{path / 'sweeps.db'}"
    sweeps = {("cosine", h): GRID for h in horizons} | {("fixed", horizons[0]): GRID}

    def value(lr: float, horizon: int) -> float | None:
        return None if (lr, horizon) == (GRID[0], horizons[-1]) else loss(lr, horizon)

    store_sweeps(Store(url), "charlm-like", sweeps, value)
    return url


def test_fit_over_stored_studies_finds_the_exponent_and_draws_the_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = store_with_sweeps(tmp_path, [100, 200, 400])
    studies = ["cosine-100", "cosine-200", "cosine-400", "fixed-100"]
    figure = tmp_path / "fit.png"
    args = ["scale", "fit", *studies, "--at", "1600", "--plot", str(figure), "--db", url]
    assert main([*args, "--format", "json"]) == 0
    fitted = json.loads(capsys.readouterr().out)
    assert fitted["family"] == "cosine" and fitted["metric"] == "val_loss"
    assert fitted["exponent"] == pytest.approx(0.25, abs=1e-6) and not fitted["flat"]
    assert [o["horizon"] for o in fitted["optima"]] == [100, 200, 400]
    (predicted,) = fitted["predictions"]
    assert predicted["lr"] == pytest.approx(best_lr(1600), rel=1e-6)
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(args) == 0
    shown = capsys.readouterr().out
    assert "beta = 0.250" in shown and f"At 1600: LR {best_lr(1600):.3g}" in shown


def test_predict_from_a_csv_with_one_horizon_states_the_prior(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweeps = tmp_path / "sweeps.csv"
    sweeps.write_text("horizon,lr,value\n" + "".join(f"50,{lr},{loss(lr, 50)}\n" for lr in GRID))
    assert main(["scale", "predict", "--csv", str(sweeps), "--horizon", "800"]) == 0
    shown = capsys.readouterr().out
    assert f"LR {best_lr(50) * 16**-0.32:.3g}" in shown and "prior 0.32" in shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scale", "fit"], "give study names or `--csv FILE`"),
        (["scale", "fit", "nope"], "no study named 'nope'"),
        (["scale", "fit", "cosine-100", "--family", "step"], "`family` 'step' was not swept"),
        (["scale", "predict", "cosine-100", "--horizon", "-4"], "must be a positive number"),
        (["scale", "fit", "--csv", "missing.csv"], "is not a file"),
    ],
)
def test_bad_input_is_one_line(
    tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = store_with_sweeps(tmp_path, [100, 200])
    assert main([*args, "--db", url]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and message in error[0]


def test_a_csv_without_the_columns_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("steps,lr,loss\n10,0.1,2.0\n")
    assert main(["scale", "fit", "--csv", str(bad)]) == 2
    assert "lacks the column(s) horizon, value" in capsys.readouterr().err
