"""The lab's own processes, by the records `python -m lab up` wrote (pids.json with start times), so
a fault only ever signals a process this lab started, never one that merely reuses its pid."""

from __future__ import annotations

import os
import signal

from lab import control_plane
from lab.paths import LabPaths


class NotRunning(RuntimeError):
    pass


def pid_of(paths: LabPaths, name: str) -> int:
    rec = control_plane.running(paths).get(name)
    if rec is None:
        raise NotRunning(f"the lab in {paths.root} has no running {name} (pids.json)")
    return rec["pid"]


def send(paths: LabPaths, name: str, sig: signal.Signals) -> None:
    os.kill(pid_of(paths, name), sig)
