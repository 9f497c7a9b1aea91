"""Shared test helpers."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
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


class Relay:
    """Forwards a local port to a server; `cut()` drops its connections and refuses new
    ones until `restore()`."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._serve()

    def _serve(self) -> None:
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
                server = socket.create_connection(self.target)
            except OSError:  # cut
                return
            with self._lock:
                self._sockets |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            end.close()

    def cut(self) -> None:
        """Drop every connection and refuse new ones."""
        if self._listener.fileno() < 0:  # cut already
            return
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (Linux)
        self._listener.close()
        with self._lock:
            for end in self._sockets:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
            self._sockets.clear()

    def restore(self) -> None:
        """Accept connections again, on the same port."""
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._serve()


@pytest.fixture()
def relayed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Relay, str]]:
    """A relay to the PostgreSQL test server, and the store URL through it."""
    if _SKIP_POSTGRES:
        pytest.skip(_SKIP_POSTGRES)
    monkeypatch.setenv("LRBENCH_CONNECT_TIMEOUT", "2")
    url = sa.make_url(POSTGRES_URL)
    relay = Relay(url.host or "127.0.0.1", url.port or 5432)
    reset_postgres()
    yield relay, url.set(host="127.0.0.1", port=relay.port).render_as_string(False)
    relay.cut()
    reset_postgres()
