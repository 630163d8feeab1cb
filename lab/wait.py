"""The lab's one way to wait: poll at a fixed pace, bounded by seconds or attempts (tenacity).

The lab waits on local processes and its own API server, which answer within milliseconds, so a
fixed short pace is right here (the suite's own waits back off: ossm_conformance/kube/wait.py).
Use it as `for attempt in polling(...): with attempt: ...`, or call it on a function; the last
error is re-raised (a result never accepted raises tenacity.RetryError, unless last_result).
"""

from __future__ import annotations

import tenacity


def polling(seconds: float | None = None, *, every: float = 0.2, retry=None, attempts: int | None = None,
            last_result: bool = False) -> tenacity.Retrying:
    """Retries every `every` seconds while `retry` holds (default: the attempt raised), for at
    most `seconds` and/or `attempts`. last_result: when neither is left, return the last result."""
    if seconds is None and attempts is None:
        raise ValueError("a wait needs a bound: seconds or attempts")
    stops = ([tenacity.stop_after_delay(seconds)] if seconds is not None else []) + \
            ([tenacity.stop_after_attempt(attempts)] if attempts is not None else [])
    stop = stops[0] if len(stops) == 1 else stops[0] | stops[1]
    options = {"retry_error_callback": lambda state: state.outcome.result()} if last_result else {}
    return tenacity.Retrying(stop=stop, wait=tenacity.wait_fixed(every), retry=retry or tenacity.retry_if_exception_type(),
                             reraise=True, **options)


def until(condition, seconds: float, what: str, every: float = 0.1) -> None:
    """Waits until condition() is true; TimeoutError naming `what` after `seconds`."""
    try:
        for attempt in polling(seconds, every=every, retry=tenacity.retry_if_exception_type(_NotYet)):
            with attempt:
                if not condition():
                    raise _NotYet
    except _NotYet:
        raise TimeoutError(f"waited {seconds:g} s for {what}") from None


class _NotYet(Exception):
    pass
