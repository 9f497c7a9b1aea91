"""Benchmarks with lm-evaluation-harness: a local multiple-choice task scored for real on the
tiny test model (against log-likelihoods computed here), MMLU from the wheel, bad input."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest

from lrbench import ConfigError

pytest.importorskip("lm_eval")
transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from lrbench.integrations.lmeval import (  # noqa: E402
    Benchmark,
    BenchmarkCallback,
    BenchmarkScorer,
    parse_benchmarks,
    stratified_mmlu,
)

QUESTIONS = [
    {"question": f"What does {name} return?", "choices": choices, "answer": answer}
    for name, choices, answer in [
        ("len", ["a count", "a list", "a string"], 0),
        ("str.split", ["a number", "a list", "nothing"], 1),
        ("dict.get", ["a value or a default", "a key", "an error"], 0),
        ("sorted", ["a generator", "a new list", "a set"], 1),
        ("abs", ["an absolute value", "a string", "a tuple"], 0),
        ("repr", ["a float", "a bool", "a printable string"], 2),
        ("zip", ["an iterator of tuples", "a dict", "a list of lists"], 0),
        ("range", ["a float", "a range object", "a set"], 1),
    ]
]


@pytest.fixture(scope="module")
def local_task(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A multiple-choice lm-eval task in YAML reading local JSONL files."""
    folder = tmp_path_factory.mktemp("mc-task")
    for split, rows in (("test", QUESTIONS[:6]), ("train", QUESTIONS[6:])):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "pydoc_mc.yaml").write_text(
        "task: pydoc_mc\n"
        "dataset_path: json\n"
        f"dataset_kwargs: {{data_files: {{test: {folder / 'test.jsonl'}, "
        f"train: {folder / 'train.jsonl'}}}}}\n"
        "test_split: test\nfewshot_split: train\noutput_type: multiple_choice\n"
        'doc_to_text: "Q: {{question}}\\nA:"\n'
        'doc_to_choice: "{{choices}}"\n'
        'doc_to_target: "{{answer}}"\n'
        "metric_list:\n  - metric: acc\n"
    )
    return folder / "pydoc_mc.yaml"


def _log_likelihood(model, tokenizer, context: str, continuation: str) -> float:
    """Sum of log-probabilities of the continuation's tokens after the context."""
    context_ids = tokenizer(context)["input_ids"]
    whole = tokenizer(context + continuation)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([whole])).logits[0].log_softmax(-1)
    return sum(float(logits[i - 1, whole[i]]) for i in range(len(context_ids), len(whole)))


def test_a_local_task_scores_as_the_log_likelihoods_say(tiny_llama: Path, local_task: Path):
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_llama).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_llama)
    scorer = BenchmarkScorer(parse_benchmarks(f"{local_task}:0"), batch_size=4)
    scorer.check()
    assert scorer.metrics() == ("pydoc_mc/acc", "benchmark_seconds", "benchmark_tokens")
    callback = BenchmarkCallback(scorer)
    callback.due = True
    scores = {"eval_loss": 1.0}
    before = torch.get_rng_state()
    state = types.SimpleNamespace(global_step=6)
    callback.on_evaluate(None, state, None, scores, model=model, processing_class=tokenizer)
    assert torch.equal(torch.get_rng_state(), before)  # training draws as if nothing ran
    expected = (
        sum(
            max(
                range(len(q["choices"])),
                key=lambda i, q=q: _log_likelihood(
                    model, tokenizer, f"Q: {q['question']}\nA:", " " + q["choices"][i]
                ),
            )
            == q["answer"]
            for q in QUESTIONS[:6]
        )
        / 6
    )
    assert scores["pydoc_mc/acc"] == pytest.approx(expected)
    assert scores["eval_loss"] == 1.0 and not callback.due
    assert scores["benchmark_seconds"] > 0 and scores["benchmark_tokens"] > 6 * 3 * 5


def test_mmlu_from_the_wheel_is_a_stratified_sample_with_shots_from_outside_it(
    tiny_llama: Path,
) -> None:
    sample, pool = stratified_mmlu(20, 2, seed=0)
    assert len(sample) == 20 and len({row["topic"] for row in sample}) == 20
    assert not {row["question"] for row in sample} & {row["question"] for row in pool}
    assert len(pool) == 2 * 57 and len({row["topic"] for row in pool}) == 57
    everything, _ = stratified_mmlu(None, 0)
    assert len(everything) == 14044 - 57  # one question per subject kept for examples
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_llama).train()
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_llama)
    scores = BenchmarkScorer([Benchmark("mmlu-local", 1)], limit=8).score(model, tokenizer)
    assert 0 <= scores["mmlu-local/acc"] <= 1 and scores["mmlu-local/acc"] * 8 == round(
        scores["mmlu-local/acc"] * 8
    )
    assert model.training  # left in the mode it was in


def test_benchmark_names_shots_and_bad_input(local_task: Path) -> None:
    assert parse_benchmarks("mmlu,arc_challenge:0,mmlu-local") == (
        Benchmark("mmlu", 5),
        Benchmark("arc_challenge", 0),
        Benchmark("mmlu-local", 0),
    )
    with pytest.raises(ConfigError, match="shots must be a whole number, as in mmlu:5"):
        parse_benchmarks("mmlu:five")
    with pytest.raises(ConfigError, match="has 2 few-shot examples, fewer than the 5 shots"):
        BenchmarkScorer(parse_benchmarks(f"{local_task}:5")).check()
    with pytest.raises(ConfigError, match="unknown lm-eval task 'arc_challange'.*arc_challenge"):
        BenchmarkScorer(parse_benchmarks("arc_challange")).check()
    with pytest.raises(ConfigError, match="'hellaswag' cannot be loaded.*dataset_path: json"):
        BenchmarkScorer(parse_benchmarks("hellaswag")).check()


def _scored_steps(params: dict, **trial_options) -> tuple[dict, list[int], list[int]]:
    """A 4-update hf-causal-lm trial's final metrics, the steps its benchmark was scored at,
    and the steps it reported eval_loss at."""
    import lrbench
    from lrbench.tasks import load_task

    spec = load_task("hf-causal-lm", params)
    reports: list[tuple[int, dict]] = []
    trial = lrbench.Trial(
        policy="fixed(lr=1e-3)",
        total_steps=4,
        params=spec.params,
        reporter=lambda step, metrics: reports.append((step, dict(metrics))),
        **trial_options,
    )
    metrics = dict(spec.function(trial))
    scored = [step for step, reported in reports if "pydoc_mc/acc" in reported]
    return metrics, scored, [step for step, reported in reports if "eval_loss" in reported]


def test_a_fine_tuning_study_scores_benchmarks_and_can_optimise_them(
    tiny_llama: Path, local_task: Path, tmp_path: Path
) -> None:
    pytest.importorskip("peft")
    from lrbench.study import StudyConfig, tune

    params = {
        "model": str(tiny_llama),
        "max_length": 64,
        "max_records": 48,
        "benchmarks": f"{local_task}:1",
        "benchmark_every": 2,
    }
    metrics, scored, _ = _scored_steps(params)
    assert scored == [2, 4] and 0 <= metrics["pydoc_mc/acc"] <= 1
    assert metrics["benchmark_tokens"] > 0 and "eval_loss" in metrics
    # Within its first epoch: scored once, at the end (not again when the Trainer closes it).
    assert _scored_steps({**params, "benchmark_every": 0})[1] == [4]
    # In a pruning study whose rungs compare eval_loss (still every 2 updates asked for): only
    # a trial that reaches its end pays for the benchmark.
    _, scored, evaluated = _scored_steps(
        params, should_prune=lambda step, metrics: False, pruned_on="eval_loss"
    )
    assert scored == [4] and any(step < 4 for step in evaluated)

    config = StudyConfig(
        task="hf-causal-lm",
        params=params,
        metric="pydoc_mc/acc",
        mode="max",
        policies=("fixed",),
        lr_min=1e-4,
        lr_max=1e-2,
        trials=2,
        total_steps=2,
    )
    result = tune(config, db=f"sqlite:///{tmp_path / 'bench.db'}")
    assert result.best is not None and result.best.metric == "pydoc_mc/acc"
    with pytest.raises(ConfigError, match="never reports metric 'pydoc_mc/f1'"):
        tune(
            StudyConfig(task="hf-causal-lm", params=params, metric="pydoc_mc/f1", trials=1),
            db=f"sqlite:///{tmp_path / 'bench.db'}",
        )
