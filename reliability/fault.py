"""What every fault injector offers the matrix, and the one scheduling helper they share.

A fault kind is installed once around all its runs (`installed`), may route the suite through
another address (`server`), acts while each suite run is in flight (`alongside`, in a thread,
until `stop` is set) and reports what it actually injected (`observed`), so the table shows real
figures rather than intentions.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from lab.kubeapi import Api
from lab.paths import LabPaths


@dataclass
class LabContext:
    paths: LabPaths
    admin: Api          # system:masters: never throttled, used to install and observe faults
    api_url: str
    prometheus_url: str
    workdir: Path


class Fault:
    kind = ""       # first column of the table
    setting = ""    # "rate or duration" column

    @contextmanager
    def installed(self, lab: LabContext) -> Iterator[None]:
        yield

    def server(self) -> str | None:
        """The address the suite must use instead of the API server's, if any."""
        return None

    def alongside(self, stop: threading.Event) -> None:
        """Runs in a thread during one suite run; must return soon after `stop` is set."""

    def observed(self) -> str:
        return ""


def periodic(stop: threading.Event, first: float, period: float, action: Callable[[], None]) -> int:
    """Calls `action` at `first` seconds, then every `period` seconds, until `stop`. The waits are
    Event.wait timeouts (bounded, and cut short by stop). Returns how many times it acted."""
    count = 0
    delay = first
    while not stop.wait(delay):
        action()
        count += 1
        delay = period
    return count
