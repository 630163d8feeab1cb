"""The lab's one waiting helper: a fixed pace, never unbounded."""

from __future__ import annotations

import pytest
import tenacity

from lab.wait import polling, until


def test_a_wait_without_a_bound_is_refused():
    with pytest.raises(ValueError):
        polling()


def test_attempts_bound_it_and_the_last_error_is_reraised(naps):
    tries = []
    with pytest.raises(KeyError):
        for attempt in polling(attempts=3, every=0.2):
            with attempt:
                tries.append(1)
                raise KeyError("not yet")
    assert len(tries) == 3 and naps == [0.2, 0.2]


def test_seconds_bound_it(naps):
    with pytest.raises(TimeoutError, match="waited 2 s for the answer"):
        until(lambda: False, 2, "the answer", every=0.5)
    assert 0 < sum(naps) <= 2.5


def test_last_result_returns_what_was_never_accepted(naps):
    assert polling(attempts=2, every=1, retry=tenacity.retry_if_result(lambda r: r != "done"), last_result=True)(
        lambda: "almost") == "almost"
    with pytest.raises(tenacity.RetryError):
        polling(attempts=2, every=1, retry=tenacity.retry_if_result(lambda r: r != "done"))(lambda: "almost")


def test_until_returns_once_the_condition_holds(naps):
    answers = iter([False, False, True])
    until(lambda: next(answers), 5, "the third answer")
    assert len(naps) == 2
