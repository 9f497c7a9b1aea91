"""Claims on trials, against SQLite and PostgreSQL: one winner, no write without the claim."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from tests.store.test_store import make_study

from lrbench.exceptions import ClaimLost, StudyExists
from lrbench.store import Store, TrialStatus


def test_of_many_workers_claiming_one_trial_exactly_one_wins(db_url: str) -> None:
    store = Store(db_url)
    trial = store.trials(make_study(store).id)[0]
    stores = [Store(db_url) for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(lambda i: stores[i].claim_trial(trial, f"w{i}"), range(8)))
    assert sum(won) == 1
    claimed = store.trial(trial.id)
    assert claimed is not None and claimed.status is TrialStatus.running
    assert claimed.worker == f"w{won.index(True)}" and claimed.heartbeat_at is not None


def test_a_trial_taken_over_drops_the_old_attempt_and_refuses_its_writes(db_url: str) -> None:
    store = Store(db_url)
    trial = store.trials(make_study(store).id)[0]
    assert store.claim_trial(trial, "old")
    store.start_trial(trial.id, worker="old")
    store.add_points(trial.id, 10, {"acc": 0.5}, worker="old")
    stalled = store.trial(trial.id)  # "old" stops beating; two workers see its claim
    assert stalled is not None and stalled.attempt == trial.attempt + 1
    assert store.claim_trial(stalled, "new")
    assert not store.claim_trial(stalled, "third")
    store.start_trial(trial.id, worker="new")
    assert store.points(trial.id) == []
    with pytest.raises(ClaimLost, match="no longer claimed by worker old"):
        store.add_points(trial.id, 20, {"acc": 0.6}, worker="old")
    with pytest.raises(ClaimLost):
        store.finish_trial(
            trial.id, TrialStatus.complete, metrics={"acc": 0.6}, cost_steps=1,
            cost_seconds=0.1, worker="old",
        )  # fmt: skip
    with pytest.raises(ClaimLost):
        store.start_trial(trial.id, worker="old")
    store.add_points(trial.id, 10, {"acc": 0.7, "loss": 1.0}, worker="new")
    store.finish_trial(
        trial.id, TrialStatus.complete, metrics={"acc": 0.7}, cost_steps=1, cost_seconds=0.1,
        worker="new",
    )  # fmt: skip
    assert sorted(store.points(trial.id)) == [(10, "acc", 0.7), (10, "loss", 1.0)]
    finished = store.trial(trial.id)
    assert finished is not None and finished.status is TrialStatus.complete
    assert finished.attempt == trial.attempt + 2
    assert not store.claim_trial(finished, "late")  # finished: not claimable


def test_released_trials_are_queued_again_and_others_stay_claimed(db_url: str) -> None:
    store = Store(db_url)
    first, second = store.trials(make_study(store).id)[:2]
    assert store.claim_trial(first, "a")
    assert store.claim_trial(second, "b")
    assert store.release_trials("a") == 1
    released, kept = store.trial(first.id), store.trial(second.id)
    assert released is not None and released.status is TrialStatus.queued
    assert released.worker is None
    assert kept is not None and kept.status is TrialStatus.running and kept.worker == "b"


def test_a_heartbeat_refreshes_only_its_own_claims(db_url: str) -> None:
    store = Store(db_url)
    study = make_study(store)
    first, second = store.trials(study.id)[:2]
    store.claim_trial(first, "a")
    store.claim_trial(second, "b")
    before = {t.id: t.heartbeat_at for t in store.trials(study.id)}
    store.beat("a", study.id)
    after = {t.id: t.heartbeat_at for t in store.trials(study.id)}
    assert after[first.id] > before[first.id] and after[second.id] == before[second.id]
    assert store.require_study(study.name).updated_at > study.updated_at


def test_a_trial_whose_workers_kept_dying_is_stored_as_failed_once(db_url: str) -> None:
    store = Store(db_url)
    trial = store.trials(make_study(store).id)[0]
    store.claim_trial(trial, "a")
    store.start_trial(trial.id, worker="a")
    assert store.abandon_trial(trial.id, trial.attempt + 1, "its worker died 3 times")
    assert not store.abandon_trial(trial.id, trial.attempt + 1, "again")
    failed = store.trial(trial.id)
    assert failed is not None and failed.status is TrialStatus.failed
    assert failed.error == "its worker died 3 times"


def test_a_second_study_of_the_same_name_is_refused_as_existing(db_url: str) -> None:
    store = Store(db_url)
    make_study(store, name="twice")
    with pytest.raises(StudyExists, match="'twice' already exists"):
        make_study(Store(db_url), name="twice")
    assert [s.name for s in store.studies()] == ["twice"]
