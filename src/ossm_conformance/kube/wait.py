"""The suite's one way to wait: a bounded tenacity retry, jittered exponential backoff.

Used for API requests (kube/client.py), settling findings (fixtures/conform.py) and the probe
pods (mtls/probes.py). Every wait has a budget in seconds, so a run's length stays bounded
whatever the cluster does; the call site says only what is worth another try and at what pace.
Use it as `for attempt in bounded(...): with attempt: ...`; the last error is re-raised.
"""

from __future__ import annotations

from typing import Callable

from tenacity import Retrying, stop_after_attempt, stop_before_delay, wait_exponential, wait_random


def backoff(first: float = 0.5, longest: float = 5.0, jitter: float = 0.5):
    """first, 2 x first, 4 x first ... up to longest seconds, plus up to `jitter` seconds at random
    (so workers and runs that started together do not retry in step)."""
    return wait_exponential(multiplier=first, min=first, max=longest) + wait_random(0, jitter)


def bounded(budget: float, retry, *, first: float = 0.5, longest: float = 5.0, jitter: float = 0.5,
            attempts: int | None = None, wait: Callable | None = None, before_sleep: Callable | None = None) -> Retrying:
    """Retries while `retry` (a tenacity retry condition) holds and no attempt would start after
    `budget` seconds (0: one attempt), nor past `attempts` attempts when given."""
    stop = stop_before_delay(budget) if attempts is None else stop_before_delay(budget) | stop_after_attempt(attempts)
    return Retrying(stop=stop, wait=wait or backoff(first, longest, jitter), retry=retry, reraise=True,
                    before_sleep=before_sleep)
