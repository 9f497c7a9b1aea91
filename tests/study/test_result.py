"""A study's result: how well the validation loss ranked its configurations on a benchmark."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrbench.store import Store, TaskInfo, TrialStatus
from lrbench.study import StudyResult
from lrbench.study.result import proxy_agreement
from lrbench.viz.report import write_report

# (LR, seed) -> (final eval_loss, final mmlu-local/acc): the loss ranks 1e-4 > 3e-4 > 1e-3 >
# 3e-3, the benchmark (mean over seeds) 1e-4 > 1e-3 > 3e-4 > 3e-3: one swap in four.
RESULTS = {
    (1e-4, 0): (2.0, 0.40),
    (1e-4, 1): (2.2, 0.36),
    (3e-4, 0): (2.4, 0.30),
    (3e-4, 1): (2.4, 0.30),
    (1e-3, 0): (2.6, 0.34),
    (1e-3, 1): (2.8, 0.32),
    (3e-3, 0): (3.5, 0.25),
    (3e-3, 1): (3.7, 0.24),
}


def test_proxy_agreement_per_configuration_means_and_in_the_report(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'proxy.db'}")
    study = store.create_study(
        name="proxy",
        task=store.task(TaskInfo(name="toy-llm", domain="llm-finetune")),
        objective="single-policy",
        metric="mmlu-local/acc",
        mode="max",
        strategy="grid",
        config={"config": {"total_steps": 10}},
        trials=[
            {
                "policy": f"fixed(lr={lr})",
                "family": "fixed",
                "lr": lr,
                "seed": seed,
                "total_steps": 10,
            }
            for lr, seed in RESULTS
        ],
    )
    for trial in store.trials(study.id):
        loss, accuracy = RESULTS[(trial.lr, trial.seed)]
        store.start_trial(trial.id)
        store.finish_trial(
            trial.id,
            TrialStatus.complete,
            metrics={
                "eval_loss": loss,
                "mmlu-local/acc": accuracy,
                "best_mmlu-local/acc": accuracy,  # the study metric's curve summary
                "benchmark_seconds": 1.0,
            },
            cost_steps=10,
            cost_seconds=1.0,
        )
    (found,) = proxy_agreement(store.trials(study.id))
    # Ranks by loss (best first): 1, 2, 3, 4; by accuracy: 1, 3, 2, 4: d = (0, 1, -1, 0),
    # rho = 1 - 6 * 2 / (4 * 15) = 0.8.
    assert (found.target, found.configurations) == ("mmlu-local/acc", 4)
    assert found.spearman == pytest.approx(0.8)
    summary = StudyResult.load(store, study).to_json()
    assert summary["proxy_agreement"][0]["spearman"] == pytest.approx(0.8)
    page = write_report(store, ["proxy"], tmp_path / "report", trial_pages=False).read_text()
    assert "eval_loss ranked the 4 configurations as mmlu-local/acc did with Spearman" in page
    assert "ρ = +0.80" in page
