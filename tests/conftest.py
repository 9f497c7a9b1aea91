"""Shared test helpers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from hypothesis import settings

from lrbench.store import Store, TaskInfo, TrialStatus

# Nothing is downloaded: models load from local directories and wheels.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-9) -> None:
    """Equal to `rtol` relative (and 1e-15 absolute near zero), with the first bad step shown."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape
    bad = ~np.isclose(actual, expected, rtol=rtol, atol=1e-15)
    if bad.any():
        step = int(np.argmax(bad))
        raise AssertionError(
            f"first mismatch at step {step}: got {actual[step]!r}, expected {expected[step]!r} "
            f"({int(bad.sum())} of {bad.size} steps differ)"
        )


def store_sweeps(
    store: Store,
    task: str,
    sweeps: Mapping[tuple[str, int], Sequence[float]],
    loss: Callable[[float, int], float | None],
) -> None:
    """Finished grid studies named FAMILY-HORIZON of one task, one per (family, horizon) of
    `sweeps` (their LRs): each trial's `val_loss` is `loss(lr, horizon)`, None for a
    diverged run."""
    record = store.task(TaskInfo(name=task, optimizer="adamw"))
    for (family, horizon), lrs in sweeps.items():
        study = store.create_study(
            name=f"{family}-{horizon}",
            task=record,
            objective="single-policy",
            metric="val_loss",
            mode="min",
            strategy="grid",
            config={},
            trials=[
                {
                    "policy": f"{family}(lr={lr})",
                    "family": family,
                    "lr": lr,
                    "seed": 0,
                    "total_steps": horizon,
                }
                for lr in lrs
            ],
        )
        for trial in store.trials(study.id):
            store.start_trial(trial.id)
            value = loss(trial.lr, horizon)
            store.finish_trial(
                trial.id,
                TrialStatus.diverged if value is None else TrialStatus.complete,
                metrics={} if value is None else {"val_loss": value},
                cost_steps=horizon,
                cost_seconds=1.0,
            )


@pytest.fixture(autouse=True, scope="session")
def _checkpoint_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep charlm's pretrained checkpoint in the session's temporary folder."""
    os.environ.setdefault("LRBENCH_CACHE", str(tmp_path_factory.mktemp("lrbench-cache")))


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer LLaMA (random weights) and a byte-level BPE tokenizer trained on Python's docs."""
    from pydoc_data.topics import topics

    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<eos>"])
    tokenizer.train_from_iterator(list(topics.values())[:40], trainer)
    folder = tmp_path_factory.mktemp("tiny-llama")
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<eos>")
    fast.save_pretrained(folder)
    config = transformers.LlamaConfig(
        vocab_size=fast.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=128,
    )
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    return folder


# The storage backends store tests run against: SQLite, and PostgreSQL when reachable.
POSTGRES_URL = os.environ.get(
    "LRBENCH_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_reason() -> str | None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except sa.exc.OperationalError as error:
        return f"no PostgreSQL server at {POSTGRES_URL}: {str(error.orig).splitlines()[0]}"
    return None


_SKIP_POSTGRES = _postgres_reason()


def reset_postgres() -> None:
    """Drop LRBench++'s tables so each test starts from an empty database."""
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        for table in (
            "lrb_metric_point",
            "lrb_trial",
            "lrb_study",
            "lrb_task",
            "lrb_recipe",
            "alembic_version",
        ):
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'lrbench.db'}"
        return
    if _SKIP_POSTGRES:
        pytest.skip(_SKIP_POSTGRES)
    reset_postgres()
    yield POSTGRES_URL
    reset_postgres()
