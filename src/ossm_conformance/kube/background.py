"""The snapshot read by a child process while pytest collects and runs the tests that need only
what has already arrived.

On a real spoke the cluster-wide pod list is most of what the API server serves (275 of 310 MB at
20,000 OpenShift-sized pods, docs/performance.md) and most of the read's wall time; two thirds of
the tests (namespace labels, RBAC, PeerAuthentication, the control plane) never look at pods. So
the pod list is read while those tests run, and the tests that need pods run last (plan.py
LONGEST_READS). The reads run in a forked child, not in a thread: a page arrives as hundreds of
TLS records, and a reader thread must win the interpreter lock back from the busy test loop for
each of them (up to 5 ms each: a 7 MB page took seconds); a process shares no lock.

The child does exactly what `snapshot.fetch` does in-process (`read_each`: same reads, pages,
projection and scope) and sends each read's result as it completes, its log records too, over a
pipe, keeping none: the suite's process is the one that holds the snapshot. The
parent's `Snapshot` takes them in when a question needs them (`Incoming.until`). If the child
dies, every read still missing becomes an error naming why: those checks are *could not check*,
never a pass. The child never outlives the run (`stop`: unconfigure, Ctrl-C, exit).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import asdict
from typing import Callable, Iterator

import msgspec

from .client import Api
from .scope import Scope
from .snapshot import Read, ReadResult, Snapshot, read_each

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def fetch_in_background(api: Api, reads: list[Read], scope: Scope | None) -> Snapshot | None:
    """A snapshot whose reads arrive from a child process; None where fork cannot be trusted
    (off Linux: macOS' system frameworks are not fork-safe), and the caller reads in-process."""
    if sys.platform != "linux":
        return None
    reads = list(dict.fromkeys(reads))
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    started = time.time()
    child = context.Process(target=_read_and_send, args=(api, reads, scope, sending, receiving, os.getpid()),
                            name="ossm-snapshot-reader", daemon=True)
    child.start()
    sending.close()  # ours closed, the child's end is the only writer: its exit is our EOF
    return Snapshot([], taken_at=started, incoming=Incoming(reads, receiving, child))


class Incoming:
    """The parent's end: results in arrival order, decoded when asked for."""

    def __init__(self, reads: list[Read], connection, child):
        self.order = {read: i for i, read in enumerate(reads)}
        self.missing = set(reads)
        self._connection, self._child = connection, child

    @property
    def done(self) -> bool:
        return not self.missing

    def until(self, wanted: Callable[[Read], bool]) -> Iterator[ReadResult]:
        """Results, as they arrive, until no wanted read is missing."""
        while any(wanted(read) for read in self.missing):
            for result in self._receive():
                self.missing.discard(result.read)
                yield result
        if self.done:
            self.stop()

    def _receive(self) -> list[ReadResult]:
        try:
            frame = msgspec.msgpack.decode(self._connection.recv_bytes())
        except (EOFError, OSError):
            return self._lost()
        if "log" in frame:
            name, level, message = frame["log"]
            logging.getLogger(name).log(level, "%s", message)
            return []
        return [ReadResult(Read(**frame["read"]), frame["items"], frame["error"])]

    def _lost(self) -> list[ReadResult]:
        """The child is gone before sending everything: every missing read is an error, with why."""
        self._child.join(5)
        code = self._child.exitcode
        why = (f"killed by signal {-code}" + (" (SIGKILL: out of memory?)" if code == -signal.SIGKILL else "")
               if code is not None and code < 0 else f"exit code {code}")
        return [ReadResult(read, error=f"{read.describe()}: not read: the snapshot reader process ended ({why})")
                for read in sorted(self.missing, key=self.order.__getitem__)]

    def stop(self) -> None:
        """The child is done or no longer wanted: it never outlives the run."""
        self._connection.close()
        if self._child.is_alive():
            self._child.terminate()
        self._child.join(5)
        if self._child.is_alive():
            self._child.kill()
            self._child.join()


def _read_and_send(api: Api, reads: list[Read], scope: Scope | None, connection, parents_end, parent: int) -> None:
    """In the child: the in-process fetch, each result sent as it completes."""
    _die_with(parent)
    parents_end.close()  # else our own copy keeps the pipe open: a dead parent would never be noticed
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us
    # Fresh connections: a forked copy of the parent's pool would share its sockets.
    api.api_client.rest_client.pool_manager.clear()
    lock = threading.Lock()  # results come from this thread, log records from the fetch's threads

    def send(frame: dict) -> None:
        data = msgspec.msgpack.encode(frame)
        with lock:
            connection.send_bytes(data)

    root = logging.getLogger()
    root.handlers = [_Forward(send)]  # pytest's handlers in this copy would keep the records to themselves
    for result in read_each(api, reads, scope=scope):
        send({"read": asdict(result.read), "items": result.items, "error": result.error})
        del result  # sent: only the suite keeps it (the pods would otherwise be held twice)
    connection.close()


def _die_with(parent: int) -> None:
    """A parent killed outright (SIGKILL, or SIGTERM's default action) runs no cleanup: the kernel
    then kills us too (prctl PR_SET_PDEATHSIG), so no reader keeps reading or holds the run's output."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it died before the line above took effect
        os._exit(1)


class _Forward(logging.Handler):
    def __init__(self, send):
        super().__init__(logging.INFO)  # the parent's handlers filter further; DEBUG would flood the pipe
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._send({"log": [record.name, record.levelno, record.getMessage()]})
        except Exception:  # noqa: BLE001 — a log line must never break the reads
            self.handleError(record)
