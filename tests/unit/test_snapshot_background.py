"""The snapshot read by a forked child (kube/background.py): the same answers as an in-process
read, each kind available as soon as it arrived, a dead reader an error per missing read, its
log lines in the parent's log, and no reader left behind.

The child runs the real fetch against a stand-in for the client's `open` (as in
test_snapshot_pages.py); against the real API server every lab suite run goes this way.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from ossm_conformance.findings import CouldNotCheck
from ossm_conformance.kube.background import fetch_in_background
from ossm_conformance.kube.snapshot import Read, fetch
from responses import Body

READS = [Read("namespaces"), Read("pods"), Read("roles")]


def _list(kind: str, *names: str) -> bytes:
    items = [{"metadata": {"name": n, "namespace": "t", "uid": n}} for n in names]
    if kind == "namespaces":
        items = [{"metadata": {"name": n, "uid": n}} for n in names]
    return json.dumps({"metadata": {"resourceVersion": "1"}, "items": items}).encode()


class Cluster:
    """Answers each list from `pages`; `on_pods` runs in the reader (the child) before pods answer."""

    def __init__(self, on_pods=None):
        self.on_pods = on_pods
        self.api_client = SimpleNamespace(rest_client=SimpleNamespace(pool_manager=SimpleNamespace(clear=lambda: None)))

    def open(self, path, query=None):
        if path.endswith("/pods"):
            if self.on_pods:
                self.on_pods()
            return Body(_list("pods", "web", "db"))
        if path.endswith("/roles"):
            return Body(_list("roles", "ztunnel"))
        return Body(_list("namespaces", "t"))


def _names(objects):
    return [o["metadata"]["name"] for o in objects]


@pytest.fixture
def reading():
    """Snapshots made here stop their readers at the end, as the plugin's unconfigure does."""
    made = []
    yield lambda api: made.append(fetch_in_background(api, READS, None)) or made[-1]
    for snapshot in made:
        snapshot.stop_reading()


def test_the_background_read_answers_as_the_in_process_one(reading):
    snapshot = reading(Cluster())
    here = fetch(Cluster(), READS)
    assert [(r.read, r.items, r.error) for r in snapshot.results] == [(r.read, r.items, r.error) for r in here.results]
    assert _names(snapshot.list("pods", "t")) == ["web", "db"]


def test_a_kind_that_arrived_is_answered_while_the_pods_are_still_read(reading, tmp_path):
    release = tmp_path / "release"

    def wait_for_release():
        while not release.exists():
            time.sleep(0.01)

    snapshot = reading(Cluster(on_pods=wait_for_release))
    assert _names(snapshot.list("roles")) == ["ztunnel"]       # pods not read yet: roles answer anyway
    assert snapshot.errors(["namespaces", "roles"]) == []
    assert snapshot._incoming is not None and Read("pods") in snapshot._incoming.missing
    release.touch()
    assert _names(snapshot.list("pods")) == ["web", "db"]       # waits for the pods, then answers
    assert snapshot._incoming is None                           # everything arrived: the reader is done


def test_a_reader_killed_mid_read_makes_its_missing_reads_errors_never_empty_lists(reading, tmp_path):
    release = tmp_path / "release"

    def killed():
        while not release.exists():
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would

    snapshot = reading(Cluster(on_pods=killed))
    assert _names(snapshot.list("namespaces")) == ["t"]
    release.touch()
    errors = snapshot.errors(["pods"])
    assert errors == ["list pods cluster-wide: not read: the snapshot reader process ended "
                      "(killed by signal 9 (SIGKILL: out of memory?))"]
    with pytest.raises(CouldNotCheck, match="snapshot reader process ended"):
        snapshot.list("pods", "t")
    assert _names(snapshot.list("namespaces")) == ["t"]         # what did arrive still answers
    assert snapshot._incoming is None                           # nothing more to wait for


def test_the_readers_log_lines_reach_the_parents_log(reading, caplog):
    def warn():
        logging.getLogger("ossm_conformance.kube.snapshot").warning("list pods: the continue token expired")

    with caplog.at_level(logging.INFO):
        snapshot = reading(Cluster(on_pods=warn))
        snapshot.results
    assert ("ossm_conformance.kube.snapshot", logging.WARNING, "list pods: the continue token expired") in caplog.record_tuples


def test_stopping_the_run_stops_a_reader_that_is_still_reading(reading, tmp_path):
    pid_file = tmp_path / "pid"

    def hang():
        Path(pid_file).write_text(str(os.getpid()))
        time.sleep(600)

    snapshot = reading(Cluster(on_pods=hang))
    while not pid_file.exists():
        time.sleep(0.01)
    child = int(pid_file.read_text())
    started = time.monotonic()
    snapshot.stop_reading()
    assert time.monotonic() - started < 6
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)  # gone, and reaped


def test_tests_that_need_the_pods_run_after_the_others():
    from ossm_conformance.plugin.params import needs_the_longest_read

    def item(name):
        return SimpleNamespace(name=f"{name}[apps-team-x]", originalname=name)

    assert not needs_the_longest_read(item("test_workload_identity_rbac_present"))
    assert not needs_the_longest_read(item("test_ambient_namespace_enrolled"))
    assert needs_the_longest_read(item("test_pods_redirected_and_ready"))
    assert needs_the_longest_read(item("test_mtls_edge"))  # no declared check: needs the whole snapshot


def test_a_reader_whose_run_was_killed_outright_dies_with_it(tmp_path):
    """SIGKILL runs no cleanup: the kernel must end the reader (PR_SET_PDEATHSIG), else it would keep
    reading the cluster and hold the run's output open."""
    import subprocess
    import sys
    pid_file = tmp_path / "reader-pid"
    program = f"""
import os, sys, time
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_snapshot_background import Cluster, READS
from ossm_conformance.kube.background import fetch_in_background
def hang():
    open({str(pid_file)!r}, "w").write(str(os.getpid()))
    time.sleep(600)
snapshot = fetch_in_background(Cluster(on_pods=hang), READS, None)
snapshot.list("pods")
"""
    run = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for _ in range(500):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.01)
    reader = int(pid_file.read_text())
    run.kill()
    output, _ = run.communicate(timeout=10)  # EOF: no reader holds the output open
    for _ in range(500):
        try:
            os.kill(reader, 0)
        except ProcessLookupError:
            break
        time.sleep(0.01)
    else:
        pytest.fail(f"the reader {reader} outlived its killed run")
