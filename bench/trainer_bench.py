"""The Trainer path's overhead: a Hugging Face Trainer run under a study trial (our scheduler
and callback, `run_trainer`) against the same run with the Trainer's own cosine scheduler.

    python bench/trainer_bench.py [--quick]

Both runs train the same model on the same data for the same steps with the same cosine
schedule (ours: `cosine(lr,total_steps,warmup_steps)`; theirs: `lr_scheduler_type="cosine"`),
interleaved, fastest of `--repeats`; tokens per second of training (`train_runtime`), side by
side. Two models: SmolLM2-135M with LoRA r=8 from its wheel (the real case, about a second per
step on 2 cores) and a tiny GPT-2 from a config (milliseconds per step: the worst case for a
fixed per-step cost).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
import transformers

import lrbench
from lrbench.integrations.huggingface import run_trainer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers.logging.set_verbosity_error()


def smollm2(folder: Path, steps: int, ours: bool) -> tuple[Any, int]:
    """A LoRA Trainer on SmolLM2-135M (the `hf-causal-lm` task's model and data)."""
    from peft import LoraConfig, get_peft_model

    from lrbench.tasks.causal_lm import (
        _Collator,
        encode_records,
        resolve_model,
        stdlib_instructions,
    )

    source = resolve_model("smollm2")
    tokenizer = transformers.AutoTokenizer.from_pretrained(source)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    model = get_peft_model(
        model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"])
    )
    rows = encode_records(stdlib_instructions()[:128], tokenizer, 64)
    return _trainer(folder, model, rows, _Collator(int(tokenizer.pad_token_id)), steps, ours), 4


def tiny_gpt2(folder: Path, steps: int, ours: bool) -> tuple[Any, int]:
    """A one-layer GPT-2 on random tokens."""
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        n_layer=1, n_head=2, n_embd=32, vocab_size=128, n_positions=64
    )
    generator = torch.Generator().manual_seed(0)
    rows = [
        {"input_ids": ids, "labels": ids}
        for ids in (torch.randint(0, 128, (64,), generator=generator) for _ in range(256))
    ]
    model = transformers.GPT2LMHeadModel(config)
    return _trainer(folder, model, rows, None, steps, ours), 8


def _trainer(folder: Path, model: Any, rows: list, collator: Any, steps: int, ours: bool) -> Any:
    batch = 4 if collator is not None else 8
    args = transformers.TrainingArguments(
        output_dir=str(folder),
        max_steps=steps,
        per_device_train_batch_size=batch,
        learning_rate=1e-3,
        lr_scheduler_type="cosine",
        seed=0,  # what the trial sets: the same data order, the same padded batches
        data_seed=0,
        warmup_steps=2,
        logging_steps=max(1, steps // 20),
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=True,
        include_num_input_tokens_seen=True,
        remove_unused_columns=False,
    )
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=rows, data_collator=collator
    )
    if not ours:
        trainer.remove_callback(transformers.trainer_callback.PrinterCallback)
    return trainer


def tokens_per_second(build: Any, folder: Path, steps: int, ours: bool) -> float:
    trainer, _ = build(folder, steps, ours)
    if ours:
        trial = lrbench.Trial(
            policy=f"cosine(lr=1e-3,total_steps={steps},warmup_steps=2)", total_steps=steps
        )
        run_trainer(trial, trainer)
    else:
        trainer.train()
    runtime = next(r["train_runtime"] for r in trainer.state.log_history if "train_runtime" in r)
    return trainer.state.num_input_tokens_seen / runtime


def per_step_microseconds(steps: int = 20_000) -> tuple[float, float]:
    """The fixed cost per update of what a trial adds, without any model: (Hugging Face's
    cosine `LambdaLR.step`, our `LRBenchScheduler.step` plus the trial callback's step hook)."""
    import time

    from lrbench.integrations.huggingface import TrialCallback, create_scheduler

    def timed(step: Any) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        return 1e6 * (time.perf_counter() - start) / steps

    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    theirs = transformers.get_cosine_schedule_with_warmup(optimizer, 2, steps)
    ours = create_scheduler(f"cosine(lr=1e-3,total_steps={steps},warmup_steps=2)", optimizer)
    trial = lrbench.Trial(policy=ours.policy, total_steps=steps)
    callback = TrialCallback(trial)
    state = transformers.TrainerState()
    callback.on_train_begin(None, state, None)

    def our_step() -> None:
        ours.step()
        state.global_step += 1
        callback.on_step_end(None, state, None)

    return min(timed(theirs.step) for _ in range(3)), min(timed(our_step) for _ in range(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    columns = ("model", "steps", "Hugging Face cosine (tokens/s)", "LRBench++ trial", "overhead")
    print("| " + " | ".join(columns) + " |")
    print("|---|---:|---:|---:|---:|")
    for label, build, steps in (
        ("SmolLM2-135M, LoRA r=8", smollm2, 6 if args.quick else 40),
        ("tiny GPT-2", tiny_gpt2, 50 if args.quick else 300),
    ):
        theirs, ours = [], []
        with tempfile.TemporaryDirectory() as folder:
            tokens_per_second(build, Path(folder), steps, ours=False)  # warm-up, not counted
            # Interleaved, in alternating order: the machine's noise and any order effect
            # (allocator, caches) hit both alike.
            for repeat in range(repeats):
                for mine in (repeat % 2 == 1, repeat % 2 == 0):
                    found = tokens_per_second(build, Path(folder), steps, ours=mine)
                    (ours if mine else theirs).append(found)
        best_theirs, best_ours = max(theirs), max(ours)
        print(
            f"| {label} | {steps} | {best_theirs:,.0f} | {best_ours:,.0f} | "
            f"{100 * (best_theirs / best_ours - 1):+.1f}% |"
        )
    theirs_us, ours_us = per_step_microseconds()
    print(
        f"\nfixed cost per update, no model: Hugging Face cosine LambdaLR.step {theirs_us:.1f} us;"
        f" LRBench++ scheduler + trial callback {ours_us:.1f} us"
    )


if __name__ == "__main__":
    main()
