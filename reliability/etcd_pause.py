"""Real API timeouts: etcd frozen with SIGSTOP for a few seconds, then thawed with SIGCONT.

While etcd is stopped, every read that reaches it hangs inside the apiserver; with the suite's
--request-timeout shorter than the pause, the suite sees real read timeouts and must retry them.
The pause repeats through the whole run, so it lands on the snapshot, the settle re-reads and the
probe pods' lifecycle alike. SIGCONT is sent in every case (finally), or the lab would stay frozen.
"""

from __future__ import annotations

import signal
import threading

from .fault import Fault, LabContext, periodic
from .processes import send

FIRST = 1.5     # seconds after the suite starts: pytest is up and about to preflight
PAUSE = 4.0     # seconds etcd stays stopped, longer than the suite's --request-timeout in the matrix
PERIOD = 9.0    # seconds from one pause to the next


class EtcdPause(Fault):
    kind = "etcd pause (SIGSTOP/SIGCONT)"
    setting = f"{PAUSE:g} s every {PERIOD:g} s from t={FIRST:g} s"

    def __init__(self):
        self.lab: LabContext | None = None
        self.pauses = 0

    def installed(self, lab: LabContext):
        self.lab = lab
        return super().installed(lab)

    def alongside(self, stop: threading.Event) -> None:
        self.pauses += periodic(stop, FIRST, PERIOD - PAUSE, self._pause)

    def _pause(self) -> None:
        send(self.lab.paths, "etcd", signal.SIGSTOP)
        try:
            threading.Event().wait(PAUSE)   # bounded: a frozen etcd must not outlive the pause
        finally:
            send(self.lab.paths, "etcd", signal.SIGCONT)

    def observed(self) -> str:
        return f"{self.pauses} pauses of {PAUSE:g} s"
