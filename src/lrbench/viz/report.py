"""The study report: a self-contained HTML page (figures inline) plus one page per trial.

`write_report(store, ["my-study"], Path("report"))` writes `report/index.html` and
`report/trials/*.html`; everything opens from disk with no network and no server.
"""

from __future__ import annotations

import base64
import io
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jinja2
from matplotlib.figure import Figure

from lrbench.evaluate import Direction
from lrbench.execution.claims import study_status
from lrbench.store import PolicyScore, Store, StudyRecord, TrialRecord, TrialStatus
from lrbench.study.objectives import HorizonTransfer, PredictedSchedules, objective_of_study
from lrbench.study.result import ProxyAgreement, StudyResult, cautions, proxy_agreement
from lrbench.viz import data as viz_data
from lrbench.viz import figures

__all__ = ["recommendation", "write_report"]

MAX_POINT_ROWS = 300
TRIAL_PAGE_DPI = 60  # trial pages: 960 x 600 pixels, fast enough for hundreds of trials

_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("lrbench.viz", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
)


def _png(figure: Figure, dpi: int = 100) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "study"


def recommendation(
    study: StudyRecord, leaderboard: Sequence[PolicyScore], trials: Sequence[TrialRecord]
) -> str:
    """The study's answer in one sentence."""
    counts = {status: sum(t.status is status for t in trials) for status in TrialStatus}
    best = next((s for s in leaderboard if not math.isnan(s.mean)), None)
    if best is None:
        return (
            f"No configuration of {study.task.name} completed yet ({len(trials)} trials: "
            f"{counts[TrialStatus.diverged]} diverged, {counts[TrialStatus.failed]} failed); "
            "widen or lower the LR range."
        )
    spread = f" ± {best.std:.2g} over {best.seeds} seeds" if best.seeds > 1 else ""
    return (
        f"For {study.task.name}, use {best.policy}: {study.metric} {best.mean:.4g}{spread}, "
        f"the best of {len(trials)} trials ({counts[TrialStatus.diverged]} diverged), "
        f"{Direction.of(study.mode).wording} is better."
    )


#: The study settings whose stored name would mislead a reader of the report.
_CONFIG_LABELS = {"trials": "configurations (--trials)"}


def _config_text(key: str, value: Any) -> str:
    """A study setting as a reader writes it (`0.1 step`, not `['step', 0.1]`)."""
    if key == "policies":
        return ", ".join(str(p) for p in value)
    if key == "baselines":
        return ", ".join(f"{lr:g} {family}" for family, lr in value)
    return str(value)


def _config_rows(study: StudyRecord) -> list[tuple[str, str]]:
    config = study.config.get("config", {})
    rows = [
        ("task", study.task.name),
        ("model", study.task.model or "—"),
        ("dataset", study.task.dataset or "—"),
        ("optimizer", study.task.optimizer or "—"),
        ("objective", f"{study.objective}: {study.metric} ({study.mode})"),
        ("strategy", study.strategy),
        ("status", study_status(study)),
    ]
    for key in (
        "policies",
        "lr_min",
        "lr_max",
        "trials",
        "total_steps",
        "seeds",
        "target",
        "baselines",
        "params",
    ):
        if config.get(key) not in (None, [], {}):
            rows.append((_CONFIG_LABELS.get(key, key), _config_text(key, config[key])))
    rows += [(key, str(value)) for key, value in objective_of_study(study).options().items()]
    if config.get("bracket"):
        rows.append(("bracket", "range test first"))
    return rows


def _study_figures(
    store: Store, study: StudyRecord, leaderboard: list[PolicyScore]
) -> list[dict[str, str]]:
    shown = [s.policy for s in leaderboard[:6] if viz_data.readable(s.policy)]
    curves = viz_data.study_curves(store, study, leaderboard)
    horizon = int(study.config.get("config", {}).get("total_steps") or study.task.horizon or 1)
    made: list[tuple[str, Figure]] = [
        (
            f"Final {study.metric} against peak LR, one line per policy (the chosen LR starred)",
            figures.lr_sweep_figure(viz_data.lr_sweep(study, leaderboard)),
        ),
        (
            f"{study.metric} of every trial over training, coloured by policy (best in bold)",
            figures.study_curves_figure(curves),
        ),
        (
            f"Policy x LR heatmap of mean {study.metric}",
            figures.heatmap_figure(viz_data.heatmap(study, leaderboard)),
        ),
        (
            "Steps each configuration needed for its result, with the Pareto front",
            figures.pareto_figure(viz_data.cost_points(study, leaderboard, curves)),
        ),
    ]
    if shown:
        made.append(
            (
                "Schedules of the top configurations",
                figures.schedule_figure(figures.schedule_curves(shown, horizon), log_y=True),
            )
        )
    return [{"title": title, "png": _png(figure)} for title, figure in made]


def _trial_page(store: Store, study: StudyRecord, trial: TrialRecord, anchor: str) -> str:
    points = store.points(trial.id)
    if len(points) > MAX_POINT_ROWS:
        stride = math.ceil(len(points) / MAX_POINT_ROWS)
        points = points[::stride]
    figure = figures.trial_figure(viz_data.trial_curves(store, trial), fast=True)
    png = _png(figure, dpi=TRIAL_PAGE_DPI)
    return _environment.get_template("trial.html.j2").render(
        title=f"{study.name}: trial {trial.number}",
        subtitle=f"{study.task.name} · {trial.status.value}",
        trial=trial,
        png=png,
        metrics=sorted(trial.metrics.items()),
        points=points,
        study=study.name,
        anchor=anchor,
    )


def _study_context(
    store: Store,
    study: StudyRecord,
    out_dir: Path,
    trial_pages: bool,
    on_trial: Callable[[], None] | None,
) -> dict[str, Any]:
    leaderboard = store.leaderboard(study)
    trials = store.trials(study.id)
    anchor = _slug(study.name)
    by_configuration: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for trial in trials:
        href = f"trials/{anchor}-{trial.number}.html"
        if trial_pages:
            (out_dir / href).write_text(_trial_page(store, study, trial, anchor))
            if on_trial is not None:
                on_trial()
        by_configuration.setdefault((trial.policy, trial.total_steps), []).append(
            {"number": trial.number, "status": trial.status.value, "href": href}
        )
    sign = Direction.of(study.mode).sign
    rows = []
    for rank, score in enumerate(leaderboard, 1):
        finite = not math.isnan(score.mean)
        rows.append(
            {
                "rank": rank,
                "policy": score.policy,
                "family": score.family,
                "lr": score.lr,
                "lr_text": f"{score.lr:.3g}",
                "mean_sort": score.mean if finite else -sign * 1e300,
                "mean_text": f"{score.mean:.4g}" if finite else "—",
                "std": score.std if finite else 0.0,
                "std_text": f"{score.std:.2g}" if finite else "—",
                "seeds": score.seeds,
                "statuses": ", ".join(f"{n} {s}" for s, n in sorted(score.statuses.items())),
                "cost_steps": score.cost_steps,
                "trials": by_configuration.get((score.policy, score.total_steps or 0), []),
            }
        )
    best = next((s for s in leaderboard if not math.isnan(s.mean)), None)
    return {
        "name": study.name,
        "anchor": anchor,
        "task": study.task.name,
        "metric": study.metric,
        "mode": study.mode,
        "recommendation": recommendation(study, leaderboard, trials),
        "cautions": cautions(leaderboard),
        "proxy": [_proxy_sentence(found) for found in proxy_agreement(trials)],
        "horizon": _horizon_lines(study, trials),
        "schedules": _schedule_rows(study, leaderboard, trials),
        "config": _config_rows(study),
        "rows": rows,
        "figures": _study_figures(store, study, leaderboard) + _horizon_figures(study, trials),
        "best_policy": best.policy if best else None,
        "best_value_text": f"{best.mean:.4g}" if best else "—",
        "best_value_sort": best.mean if best else 0.0,
        "trial_count": len(trials),
        "cost_steps": sum(t.cost_steps for t in trials),
    }


def _horizon_laws(study: StudyRecord, trials: Sequence[TrialRecord]) -> dict[str, Any]:
    """A horizon study's laws by family ({} for other objectives)."""
    method = objective_of_study(study)
    if not isinstance(method, HorizonTransfer) or study.budget is None:
        return {}
    return method.laws(study, trials)


def _horizon_lines(study: StudyRecord, trials: Sequence[TrialRecord]) -> list[str]:
    lines = []
    for family, law in _horizon_laws(study, trials).items():
        if isinstance(law, str):
            lines.append(f"Horizon law, {family}: {law}.")
            continue
        found = law.predict(float(study.budget or 1))
        lines.append(
            f"Horizon law, {family}: {law.describe()}. At {study.budget} steps it predicts "
            f"LR {found.lr:.3g} ({law.confidence:.0%} interval {found.low:.3g} .. "
            f"{found.high:.3g}), the LR the full run trained at."
        )
    return lines


def _horizon_figures(study: StudyRecord, trials: Sequence[TrialRecord]) -> list[dict[str, str]]:
    return [
        {
            "title": f"Best LR against training horizon, {family}: the fit and its prediction",
            "png": _png(figures.horizon_law_figure(law, [float(study.budget or 1)])),
        }
        for family, law in _horizon_laws(study, trials).items()
        if not isinstance(law, str)
    ]


def _schedule_rows(
    study: StudyRecord, leaderboard: list[PolicyScore], trials: Sequence[TrialRecord]
) -> list[dict[str, str]]:
    """A schedule study's predictions, with the measured result where one trained in full."""
    method = objective_of_study(study)
    if not isinstance(method, PredictedSchedules):
        return []
    summary = method.summary(
        StudyResult(study=study, leaderboard=leaderboard, trials=list(trials))
    )
    rows = []
    for row in (summary or {}).get("predictions", []):
        rows.append(
            {
                "policy": row["policy"],
                "predicted": "—" if row["loss"] is None else f"{row['loss']:.4g}",
                "measured": "—" if row["measured"] is None else f"{row['measured']:.4g}",
                "note": row["refused"] and f"not predicted: {row['refused']}",
            }
        )
    return rows


def _proxy_sentence(found: ProxyAgreement) -> str:
    if found.spearman is None:
        return (
            f"Too few distinct results ({found.configurations} configurations) to say how "
            f"well {found.proxy} ranks them against {found.target}."
        )
    return (
        f"{found.proxy} ranked the {found.configurations} configurations as {found.target} "
        f"did with Spearman ρ = {found.spearman:+.2f} (+1: the same order; a low value says "
        f"to tune on {found.target} itself)."
    )


def write_report(
    store: Store,
    studies: Sequence[str],
    out_dir: Path,
    *,
    trial_pages: bool = True,
    on_trial: Callable[[], None] | None = None,
) -> Path:
    """Write `out_dir/index.html` for one study, or a comparison of several; return its path.

    Args:
        store: Where the studies are.
        studies: Study names (each must exist).
        out_dir: Created if missing; existing report files are overwritten.
        trial_pages: Also write one page per trial under `out_dir/trials/`.
        on_trial: Called after each trial page (for progress bars).
    """
    records = [store.require_study(name) for name in studies]
    (out_dir / "trials").mkdir(parents=True, exist_ok=True)
    contexts = [
        _study_context(store, record, out_dir, trial_pages, on_trial) for record in records
    ]
    title = (
        f"LRBench++ report: {records[0].name}"
        if len(records) == 1
        else f"LRBench++ report: {len(records)} studies"
    )
    subtitle = " · ".join(sorted({r.task.name for r in records})) + f" · {store.display_url}"
    index = out_dir / "index.html"
    index.write_text(
        _environment.get_template("index.html.j2").render(
            title=title, subtitle=subtitle, studies=contexts
        )
    )
    return index
