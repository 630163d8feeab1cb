"""The suite's one waiting helper: bounded by its budget (and attempts), paced by its backoff."""

from __future__ import annotations

import pytest
from tenacity import retry_if_exception_type

from ossm_conformance.kube.wait import bounded


class NotYet(Exception):
    pass


def attempts_until(retrying, done_at: int | None) -> int:
    """Runs `retrying` over a body that raises NotYet until its `done_at`-th attempt; the number of attempts."""
    tries = 0
    for attempt in retrying:
        with attempt:
            tries += 1
            if done_at is None or tries < done_at:
                raise NotYet(tries)
    return tries


def test_it_stops_retrying_once_the_condition_is_met(naps):
    assert attempts_until(bounded(30, retry_if_exception_type(NotYet)), done_at=3) == 3
    assert len(naps) == 2


def test_a_budget_of_zero_is_one_attempt_and_the_error_is_reraised(naps):
    with pytest.raises(NotYet):
        attempts_until(bounded(0, retry_if_exception_type(NotYet)), done_at=None)
    assert naps == []


def test_the_budget_bounds_the_waiting(naps):
    with pytest.raises(NotYet):
        attempts_until(bounded(20, retry_if_exception_type(NotYet), longest=4), done_at=None)
    assert 0 < sum(naps) <= 20 + 4 + 0.5 and max(naps) <= 4 + 0.5


def test_attempts_bound_it_too(naps):
    with pytest.raises(NotYet):
        attempts_until(bounded(600, retry_if_exception_type(NotYet), attempts=4), done_at=None)
    assert len(naps) == 3


def test_an_error_not_worth_retrying_is_raised_at_once(naps):
    def body():
        for attempt in bounded(30, retry_if_exception_type(NotYet)):
            with attempt:
                raise KeyError("an answer")
    with pytest.raises(KeyError):
        body()
    assert naps == []


def test_the_backoff_doubles_from_first_to_longest_with_bounded_jitter(naps):
    with pytest.raises(NotYet):
        attempts_until(bounded(600, retry_if_exception_type(NotYet), first=1, longest=10, jitter=0.5, attempts=6),
                       done_at=None)
    floors = [1, 2, 4, 8, 10]
    assert [int(n) for n in naps] == floors and all(f <= n <= f + 0.5 for f, n in zip(floors, naps))
