"""The store under faults: a database that goes away and comes back, one that stays away,
and writes whose answer was lost (run again, they must not land twice).

A relay between the store and the PostgreSQL test server plays the outage: cutting it drops
every open connection and refuses new ones, as a server restart does, without stopping the
server the other tests use (`tests/study/test_workers.py` restarts the real one).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from tests.conftest import Relay
from tests.store.test_store import make_study

from lrbench.exceptions import ConfigError, DatabaseUnavailable, StorageError
from lrbench.store import Store, TrialStatus
from lrbench.store._retry import is_transient


def _running_trial(store: Store, worker: str = "w") -> int:
    trial = store.trials(make_study(store).id)[0]
    assert store.claim_trial(trial, worker)
    store.start_trial(trial.id, worker=worker)
    return trial.id


def test_a_server_restart_mid_trial_loses_and_doubles_no_point(
    relayed: tuple[Relay, str],
) -> None:
    relay, url = relayed
    store = Store(url)
    trial_id = _running_trial(store)
    for step in range(1, 6):
        store.add_points(trial_id, step, {"loss": 1.0 / step}, worker="w")
    relay.cut()
    for step in range(6, 11):  # training goes on: the points wait for the server
        store.add_points(trial_id, step, {"loss": 1.0 / step}, worker="w")
    restore = threading.Timer(1.5, relay.restore)
    restore.start()
    store.finish_trial(  # waits for the server, then stores the points with the end
        trial_id,
        TrialStatus.complete,
        metrics={"loss": 0.1},
        cost_steps=10,
        cost_seconds=1.0,
        worker="w",
    )
    assert restore.finished.is_set()  # it waited for the server, and did not give up
    assert [step for step, _, _ in store.points(trial_id)] == list(range(1, 11))
    trial = store.trial(trial_id)
    assert trial is not None and trial.status is TrialStatus.complete


def test_a_database_away_past_the_bound_is_one_error_and_the_store_recovers(
    relayed: tuple[Relay, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    relay, url = relayed
    monkeypatch.setenv("LRBENCH_DB_RETRY", "1")
    store = Store(url)
    trial_id = _running_trial(store)
    relay.cut()
    with pytest.raises(DatabaseUnavailable) as raised:
        store.trial(trial_id)
    message = str(raised.value)
    assert "\n" not in message and "cannot connect to the database" in message
    assert "still after retrying for 1 s, $LRBENCH_DB_RETRY" in message
    assert message.endswith("run the same command again to resume")
    relay.restore()
    store.add_points(trial_id, 1, {"loss": 1.0}, worker="w")
    relay.cut()
    store.add_points(trial_id, 2, {"loss": 0.5}, worker="w")  # waits in memory
    time.sleep(1.2)
    with pytest.raises(DatabaseUnavailable, match="still after retrying for 1 s"):
        store.add_points(trial_id, 3, {"loss": 0.3}, worker="w")
    relay.restore()
    store.add_points(trial_id, 4, {"loss": 0.2}, worker="w")  # with the points that waited
    assert [step for step, _, _ in store.points(trial_id)] == [1, 2, 3, 4]


def test_a_database_never_reached_is_not_waited_for(relayed: tuple[Relay, str]) -> None:
    relay, url = relayed
    relay.cut()
    with pytest.raises(StorageError, match="cannot connect.*refused") as raised:
        Store(url)
    assert "retrying" not in str(raised.value)


def test_writes_run_again_after_their_answer_was_lost_land_once(db_url: str) -> None:
    store = Store(db_url)
    trial = store.trials(make_study(store).id)[0]
    assert store.claim_trial(trial, "w")
    assert store.claim_trial(trial, "w")  # the first try committed: the claim is ours
    assert not store.claim_trial(trial, "other")
    store.start_trial(trial.id, worker="w")
    for value in (0.5, 0.6):  # the same report, sent twice
        store.add_points(trial.id, 3, {"acc": value}, worker="w")
    assert store.points(trial.id) == [(3, "acc", 0.6)]
    for _ in range(2):
        store.finish_trial(
            trial.id,
            TrialStatus.complete,
            metrics={"acc": 0.6},
            cost_steps=3,
            cost_seconds=0.1,
            worker="w",
        )
    finished = store.trial(trial.id)
    assert finished is not None and finished.status is TrialStatus.complete


def _error(orig: BaseException) -> sa.exc.DBAPIError:
    return sa.exc.OperationalError("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    ("orig", "transient"),
    [
        (sqlite3.OperationalError("database is locked"), True),
        (sqlite3.OperationalError("no such table: lrb_trial"), False),
        (sqlite3.OperationalError("database or disk is full"), False),
        (SimpleNamespace(sqlstate=None), True),  # the client's own: server unreachable
        (SimpleNamespace(sqlstate="08006"), True),  # connection failure
        (SimpleNamespace(sqlstate="57P01"), True),  # the server shutting down
        (SimpleNamespace(sqlstate="40001"), True),  # serialization failure
        (SimpleNamespace(sqlstate="42P01"), False),  # undefined table
        (SimpleNamespace(sqlstate="28P01"), False),  # wrong password
    ],
)
def test_only_errors_that_may_pass_are_retried(orig: object, transient: bool) -> None:
    assert is_transient(_error(orig)) is transient  # type: ignore[arg-type]


def test_a_bad_retry_bound_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("LRBENCH_DB_RETRY", "forever")
    with pytest.raises(ConfigError, match=r"\$LRBENCH_DB_RETRY must be a positive number"):
        Store(f"sqlite:///{tmp_path}/x.db")
