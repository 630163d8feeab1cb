"""Every unit test holds the code it runs to the snapshot's projection (tests/unit/field_access.py)."""

import time

import pytest
import tenacity.nap

import field_access


@pytest.fixture(autouse=True)
def _projection_covers_what_was_read():
    field_access.reset()
    yield
    field_access.assert_projection_covers()


@pytest.fixture
def naps(monkeypatch):
    """The waits tenacity would sleep, recorded instead of slept, on a clock they advance (so the
    retry budget, measured with time.monotonic, is seen to run out)."""
    slept: list[float] = []
    clock = [time.monotonic()]

    def nap(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(tenacity.nap.time, "sleep", nap)
    monkeypatch.setattr(tenacity.nap.time, "monotonic", lambda: clock[0])
    return slept
