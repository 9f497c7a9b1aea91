"""`lrbench scale fit|predict`: how the best LR moves with the training horizon."""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from lrbench.cli._common import DbOption, FormatOption, OutputFormat, print_json, stdout
from lrbench.exceptions import ConfigError

if TYPE_CHECKING:
    from lrbench.scaling import HorizonLaw

app = typer.Typer(
    help="""Fit how the best LR falls with the training horizon; predict it for a longer run.

The law is LR*(D) = B D^-beta, fitted on sweeps at several horizons (studies in the store,
or a CSV).

Examples:

  lrbench scale fit charlm-horizons --plot horizon.png

  lrbench scale predict charlm-horizons --horizon 2000

  lrbench scale fit --csv sweeps.csv --mode min --at 1e9 --format json
""",
    no_args_is_help=True,
)

StudiesArgument = Annotated[
    list[str] | None,
    typer.Argument(help="Studies holding sweeps at two or more training lengths."),
]
CsvOption = Annotated[
    Path | None,
    typer.Option(
        "--csv", help="Sweeps as CSV with columns horizon,lr,value (instead of studies)."
    ),
]
ModeOption = Annotated[str, typer.Option(help="With --csv: min (lower value is better) or max.")]
FamilyOption = Annotated[
    str | None,
    typer.Option(help="The policy family to fit \\[the one swept at the most horizons]."),
]


@dataclasses.dataclass(frozen=True)
class _Fitted:
    law: HorizonLaw
    source: dict[str, Any]


def _fit(
    studies: list[str] | None, csv_path: Path | None, mode: str, family: str | None, db: str | None
) -> _Fitted:
    from lrbench.scaling import fit_horizon_law
    from lrbench.scaling.stored import stored_law

    if bool(studies) == (csv_path is not None):
        raise ConfigError("give study names or `--csv FILE`, not both and not neither")
    if csv_path is not None:
        sweeps = _read_csv(csv_path)
        return _Fitted(fit_horizon_law(sweeps, mode=mode), {"csv": str(csv_path), "mode": mode})
    from lrbench.store import Store

    found, law = stored_law(Store(db, create=False), studies or [], family=family)
    source = {"studies": studies, "task": found.task, "metric": found.metric}
    return _Fitted(law, {**source, "mode": found.mode, "family": found.family})


def _read_csv(path: Path) -> dict[float, tuple[list[float], list[float]]]:
    if not path.is_file():
        raise ConfigError(f"`--csv` {str(path)!r} is not a file")
    sweeps: dict[float, tuple[list[float], list[float]]] = {}
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"horizon", "lr", "value"} - set(reader.fieldnames or ())
        if missing:
            raise ConfigError(
                f"`--csv` {str(path)!r} lacks the column(s) {', '.join(sorted(missing))}; "
                "it needs a header row horizon,lr,value"
            )
        for line, row in enumerate(reader, start=2):
            try:
                horizon, lr, value = (float(row[k]) for k in ("horizon", "lr", "value"))
            except (TypeError, ValueError):
                raise ConfigError(
                    f"`--csv` {str(path)!r} line {line}: horizon, lr and value must be numbers, "
                    f"got {row}"
                ) from None
            lrs, values = sweeps.setdefault(horizon, ([], []))
            lrs.append(lr)
            values.append(value)
    return sweeps


def _law_json(fitted: _Fitted, targets: list[float]) -> dict[str, Any]:
    law = fitted.law
    return {
        **fitted.source,
        "coefficient": law.coefficient,
        "exponent": law.exponent,
        "exponent_interval": [law.exponent_low, law.exponent_high],
        "confidence": law.confidence,
        "flat": law.flat,
        "prior": law.prior,
        "description": law.describe(),
        "optima": [dataclasses.asdict(o) for o in law.optima],
        "predictions": [dataclasses.asdict(law.predict(t)) for t in targets],
    }


def _check_targets(targets: list[float]) -> list[float]:
    for target in targets:
        if not (math.isfinite(target) and target > 0):
            raise ConfigError(f"a horizon to predict at must be a positive number, got {target}")
    return targets


@app.command(
    "fit",
    help="Fit LR*(D) = B D^-beta over sweeps at several horizons; print the fit and each "
    "horizon's optimum.\n\nExamples:\n\n  lrbench scale fit charlm-horizons --plot fit.png\n\n"
    "  lrbench scale fit --csv sweeps.csv --at 4000 --format json",
)
def fit(
    studies: StudiesArgument = None,
    csv_path: CsvOption = None,
    mode: ModeOption = "min",
    family: FamilyOption = None,
    at: Annotated[
        list[float] | None, typer.Option(help="Horizons to predict the LR at (repeatable).")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write the figure of the fit (PNG, SVG or PDF).")
    ] = None,
    db: DbOption = None,
    output: FormatOption = OutputFormat.human,
) -> None:
    """Fit the horizon law."""
    targets = _check_targets(at or [])
    fitted = _fit(studies, csv_path, mode, family, db)
    if plot is not None:
        from lrbench.viz.figures import horizon_law_figure

        horizon_law_figure(fitted.law, targets).savefig(plot)
    if output is OutputFormat.json:
        print_json(_law_json(fitted, targets))
        return
    law = fitted.law
    stdout.print(law.describe(), markup=False, highlight=False)
    table = Table(title="optimum at each horizon swept")
    for column in ("horizon", "best LR", "near-optimal band", "value", "LRs", "note"):
        table.add_column(column)
    for optimum in law.optima:
        note = "best LR swept (no parabola fits)" if not optimum.fitted else ""
        if optimum.edge:
            note = f"at the {optimum.edge} of the sweep: widen it"
        table.add_row(
            f"{optimum.horizon:g}",
            f"{optimum.lr:.3g}",
            f"{optimum.low:.3g} .. {optimum.high:.3g}",
            f"{optimum.value:.4g}",
            str(optimum.points),
            note,
        )
    stdout.print(table)
    for target in targets:
        _print_prediction(law, target)
    if plot is not None:
        stdout.print(f"Figure: {plot}", markup=False, highlight=False)


@app.command(
    "predict",
    help="Predict the best LR for a longer run from sweeps at shorter ones.\n\nExamples:\n\n"
    "  lrbench scale predict charlm-horizons --horizon 2000\n\n"
    "  lrbench scale predict --csv sweeps.csv --horizon 1e9 --format json",
)
def predict(
    horizon: Annotated[float, typer.Option(help="The run's horizon, in the sweeps' unit.")],
    studies: StudiesArgument = None,
    csv_path: CsvOption = None,
    mode: ModeOption = "min",
    family: FamilyOption = None,
    db: DbOption = None,
    output: FormatOption = OutputFormat.human,
) -> None:
    """Predict the best LR at a horizon."""
    _check_targets([horizon])
    fitted = _fit(studies, csv_path, mode, family, db)
    if output is OutputFormat.json:
        print_json(_law_json(fitted, [horizon]))
        return
    _print_prediction(fitted.law, horizon)
    stdout.print(fitted.law.describe(), markup=False, highlight=False)


def _print_prediction(law: HorizonLaw, horizon: float) -> None:
    found = law.predict(horizon)
    stdout.print(
        f"At {horizon:g}: LR {found.lr:.3g} ({law.confidence:.0%} interval {found.low:.3g} .. "
        f"{found.high:.3g}; near-optimal band {found.band_low:.3g} .. {found.band_high:.3g})",
        markup=False,
        highlight=False,
    )
