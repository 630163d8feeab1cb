"""Refused connections: kube-apiserver stopped (SIGTERM, as a rolling restart does) and started
again with exactly the same command line, mid-run.

While it is down the port refuses connections and in-flight requests are cut; the suite must
retry until it is back. The new process is recorded in the lab's pids.json (control_plane's own
spawn), so `python -m lab down` still stops it.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

from lab import control_plane as cp
from lab.wait import until

from .fault import Fault, LabContext, periodic
from .processes import pid_of, send

FIRST = 2.0     # seconds after the suite starts: during preflight and the snapshot
PERIOD = 10.0   # a second restart lands on the probe pods' lifecycle
STOP_WAIT = 30.0
READY_WAIT = 60.0


class ApiserverRestart(Fault):
    kind = "kube-apiserver restart"
    setting = f"SIGTERM + same flags at t={FIRST:g} s, then every {PERIOD:g} s"

    def __init__(self):
        self.lab: LabContext | None = None
        self.downtimes: list[float] = []

    def installed(self, lab: LabContext):
        self.lab = lab
        return super().installed(lab)

    def alongside(self, stop: threading.Event) -> None:
        periodic(stop, FIRST, PERIOD, self.restart)

    def restart(self) -> None:
        paths = self.lab.paths
        pid = pid_of(paths, "kube-apiserver")
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").decode().split("\0")
        started = time.monotonic()
        send(paths, "kube-apiserver", signal.SIGTERM)
        until(STOP_WAIT, lambda: cp.start_time(pid) is None, "kube-apiserver to exit")
        procs = cp.read_pids(paths)
        proc = cp._spawn(paths, procs, "kube-apiserver", argv, self.lab.api_url)
        cp._wait("kube-apiserver", proc, paths.logs / "kube-apiserver.log", READY_WAIT,
                 cp.apiserver_probe(paths, self.lab.api_url))
        self.downtimes.append(time.monotonic() - started)

    def observed(self) -> str:
        if not self.downtimes:
            return "no restart"
        return f"{len(self.downtimes)} restarts, down {min(self.downtimes):.1f}–{max(self.downtimes):.1f} s"


