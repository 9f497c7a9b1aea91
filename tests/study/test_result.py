"""A study's result: how well the validation loss ranked its configurations on a benchmark."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrbench.store import PolicyScore, Store, TaskInfo, TrialStatus
from lrbench.study import StudyResult
from lrbench.study.result import cautions, proxy_agreement
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
    # the best LR is the lowest searched: said in the JSON and the report
    (edge,) = summary["cautions"]
    assert edge.startswith("the best LR 0.0001 is the lowest of the 4 fixed LRs searched")
    assert f"Caution: {edge}." in page


def score(lr: float, mean: float, std: float, seeds: int = 3) -> PolicyScore:
    return PolicyScore(
        policy=f"cosine(lr={lr})", family="cosine", lr=lr, metric="accuracy", mean=mean,
        std=std, seeds=seeds, statuses={"complete": seeds}, cost_steps=0, cost_seconds=0.0,
    )  # fmt: skip


def test_a_lead_within_the_seed_spread_is_a_caution_and_a_clear_one_is_not() -> None:
    close = [score(0.1, 0.90, 0.02), score(0.3, 0.89, 0.01), score(0.03, 0.80, 0.01)]
    (caution,) = cautions(close)
    assert caution == (
        "the best leads cosine(lr=0.3) by 0.01, less than the seeds' spread (0.02): more seeds "
        "(--seeds) may change the order"
    )
    clear = [score(0.1, 0.90, 0.02), score(0.3, 0.85, 0.01), score(0.03, 0.80, 0.01)]
    assert cautions(clear) == []
    one_seed = [score(0.1, 0.90, 0.0, seeds=1), score(0.3, 0.899, 0.0, seeds=1)]
    assert cautions(one_seed) == []  # no spread measured: nothing to compare the lead with
