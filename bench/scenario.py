"""Measure one seeded twin: the floor, the API-state suite (serial and -n N), and the mTLS part.

Each measurement is a fresh process (bench/measure.py: wall time, peak RSS) whose API requests
are counted from the audit log between two offsets (bench/audit.py). Every suite run must pass
with no failure, error or skip: a benchmark of a failing suite measures the wrong thing.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench import audit
from bench.floor import client as floor_client
from lab import control_plane
from lab.paths import LabPaths
from lab.suite_runner import suite_command as lab_suite_command

REPO = Path(__file__).resolve().parent.parent
# The lab's counters tick every second: a short window is evidence enough there (Makefile LAB_SUITE_OPTS).
MTLS_OPTS = ("--mtls-window", "5", "--settle-timeout", "10")
_OUTCOME = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")


class BenchError(RuntimeError):
    """The twin or the suite did not behave: the numbers would mean nothing."""


@dataclass
class Sample:
    seconds: float
    maxrss_kb: int
    requests: audit.Requests
    outcomes: dict = field(default_factory=dict)
    output: str = ""
    limit: str = ""          # the memory limit it ran under, if any (bench/measure.py)
    group_peak_kb: int = 0   # under a limit: the cgroup's peak, the whole process tree at once


@dataclass
class Series:
    """RUNS samples of one measurement; the table shows medians."""
    samples: list[Sample] = field(default_factory=list)

    def median_seconds(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    def median_maxrss_mb(self) -> float:
        return statistics.median(s.maxrss_kb for s in self.samples) / 1024

    def requests(self) -> audit.Requests:
        """The run with the most requests: a target on requests must hold for every run."""
        return max((s.requests for s in self.samples), key=lambda r: r.total)

    def median_probe_seconds(self) -> float:
        return statistics.median(s.requests.probe_seconds for s in self.samples)

    def probe_pods(self) -> int:
        return max(s.requests.probe_pods for s in self.samples)


@dataclass
class Measured:
    label: str
    nodes: int
    tenants: int          # tenants in the profile
    namespaces: int
    seed_seconds: float
    floor: Series
    serial: Series
    parallel: Series
    mtls: Series
    workers: int
    bound: Series         # the ideal pytest suite: the floor's reads, then as many empty tests (mesh-only scale)
    pods: int = 0         # pods in the twin
    mesh_pods: int = 0    # of which in ambient tenants
    served: dict = field(default_factory=dict)   # kind -> {objects, bytes, pages}, from the floor
    limited: Sample | None = None                # one serial run under the CronJob's memory limit


class Twin:
    """Where a seeded lab is and what to point the suite at."""

    def __init__(self, lab_dir: Path, profile: Path):
        self.lab_dir, self.profile = Path(lab_dir), Path(profile)
        self.kubeconfig = self.lab_dir / "kubeconfig"
        self.audit_log = self.lab_dir / "logs" / "audit.log"


def collect_server_garbage(twin: Twin) -> None:
    """A full Go GC of the lab's API server, done before each measured run (kube-apiserver's
    /debug/pprof/heap?gc=1 runs runtime.GC first; the bench's labs serve it, lab/control_plane.py).
    On a real cluster the API server collects on its own nodes; on the twin a collection marks a
    ~3 GB heap (20,000 pods in its watch cache) on the two cores being measured, 2-4 CPU-s landing at
    random in the floor's run or the suite's (measured by hand: the API server's CPU for the same
    reads varied 2.9-7.5 s). Collected first, every run starts from the same heap."""
    api = floor_client(str(twin.kubeconfig))
    try:
        api.call_api("/debug/pprof/heap", "GET", query_params=[("gc", "1")],
                     auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True).data
    finally:
        api.close()


def measure(twin: Twin, command: list[str], what: str, must_pass: bool = True, cwd: Path = REPO,
            memory_limit_mb: int = 0) -> Sample:
    collect_server_garbage(twin)
    with tempfile.TemporaryDirectory(prefix="ossm-bench-") as tmp:
        result = Path(tmp) / "result.json"
        before = audit.mark(twin.audit_log)
        limit = ["--memory-limit-mb", str(memory_limit_mb)] if memory_limit_mb else []
        proc = subprocess.run([sys.executable, "-m", "bench.measure", "--result", str(result), *limit, "--", *command],
                              cwd=cwd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        data = json.loads(result.read_text()) if result.exists() else {}
    output = proc.stdout + proc.stderr
    if data.get("exit_code") != 0:
        raise BenchError(f"{what} exited {data.get('exit_code', proc.returncode)}:\n{_tail(output)}")
    outcomes = _outcomes(output)
    if must_pass and (not outcomes.get("passed") or any(outcomes.get(k) for k in ("failed", "error", "errors", "skipped"))):
        raise BenchError(f"{what}: the suite must pass with no failure, error or skip on the healthy twin, got {outcomes}:\n{_tail(output)}")
    return Sample(data["seconds"], data["maxrss_kb"], audit.since(twin.audit_log, before), outcomes, output,
                  data.get("limit", ""), data.get("group_peak_kb", 0))


# The lab's stand-ins for what runs on a real cluster's nodes (kubelets, ztunnels) and its monitoring.
# On a 300-node twin they share this machine's two cores with what is measured; on a real cluster
# they run elsewhere. The API-state measurements (floor, suite, bound) need only the API server and
# etcd, so these are paused (SIGSTOP) while those are timed, and resumed for the mTLS part.
EMULATORS = ("ztunnel-endpoints", "node-agent", "prometheus", "pushgateway")


@contextmanager
def emulators_paused(twin: Twin):
    procs = control_plane.read_pids(LabPaths(twin.lab_dir))
    paused = [rec["pid"] for name, rec in procs.items() if name in EMULATORS and control_plane.alive(rec)]
    for pid in paused:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in paused:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass


def suite_command(twin: Twin, *extra: str) -> list[str]:
    return lab_suite_command(twin.kubeconfig, "--profile", str(twin.profile), *extra)


def floor_command(twin: Twin) -> list[str]:
    return [sys.executable, "-m", "bench.floor", "--kubeconfig", str(twin.kubeconfig), "--profile", str(twin.profile)]


BOUND_TEST = """\
import gc

import pytest

from bench.floor import client, paths, read_all


@pytest.fixture(scope="session")
def cluster():
    gc.disable()  # as the suite does while it decodes (kube/snapshot.py): the bound must be the best case
    try:
        return read_all(client({kubeconfig!r}), paths({profile!r}))
    finally:
        gc.enable()


@pytest.mark.parametrize("i", range({n}))
def test_nothing(cluster, i):
    assert cluster
"""


def pytest_bound(twin: Twin, tests: int) -> Sample:
    """The fastest any pytest suite with these test ids and these reads can be: the floor's reads
    in one session fixture, then as many empty parametrized tests as the suite ran (same
    interpreter and plugins). What one test id per object costs, whatever the checks do."""
    with tempfile.TemporaryDirectory(prefix="ossm-bench-bound-") as tmp:
        (Path(tmp) / "test_bound.py").write_text(BOUND_TEST.format(
            kubeconfig=str(twin.kubeconfig), profile=str(twin.profile), n=tests))
        return measure(twin, [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_bound.py"],
                       "the ideal pytest suite", cwd=Path(tmp))


def served(sample: Sample) -> dict:
    """What the floor printed: kind -> {objects, bytes, pages} served by the API server."""
    return json.loads(sample.output.strip().splitlines()[-1])["per_kind"]


def limited_run(twin: Twin, memory_limit_mb: int) -> Sample:
    """The API-state suite once under the CronJob's memory limit (deploy/cronjob.yaml): it must
    give the same verdicts as without it (an OOM kill is a non-zero exit, so measure() raises)."""
    with emulators_paused(twin):
        return measure(twin, suite_command(twin, "-m", "not mtls"), f"the API-state suite under {memory_limit_mb} MiB",
                       memory_limit_mb=memory_limit_mb)


def run_all(twin: Twin, runs: int, workers: int, log=print, bound: bool = True) -> dict[str, Series]:
    """Interleaved (floor, serial, bound, -n, mTLS) per round, so drift on a shared machine hits all alike.
    `bound`: also measure the ideal pytest suite (the mesh-only scale's yardstick)."""
    series = {name: Series() for name in ("floor", "serial", "bound", "parallel", "mtls")}
    for i in range(runs):
        with emulators_paused(twin):
            series["floor"].samples.append(measure(twin, floor_command(twin), "the floor script", must_pass=False))
            series["serial"].samples.append(measure(twin, suite_command(twin, "-m", "not mtls"), "the API-state suite"))
            if bound:
                series["bound"].samples.append(pytest_bound(twin, series["serial"].samples[-1].outcomes["passed"]))
            series["parallel"].samples.append(measure(twin, suite_command(twin, "-m", "not mtls", "-n", str(workers)),
                                                      f"the API-state suite with -n {workers}"))
        series["mtls"].samples.append(measure(twin, suite_command(twin, "-m", "mtls", *MTLS_OPTS), "the mTLS part"))
        log(f"  round {i + 1}/{runs}: floor {series['floor'].samples[-1].seconds:.2f}s, "
            f"suite {series['serial'].samples[-1].seconds:.2f}s ({series['serial'].samples[-1].requests.total} req, "
            f"{series['serial'].samples[-1].maxrss_kb // 1024} MB), "
            + (f"pytest bound {series['bound'].samples[-1].seconds:.2f}s, " if bound else "") +
            f"-n {workers} {series['parallel'].samples[-1].seconds:.2f}s ({series['parallel'].samples[-1].requests.total} req), "
            f"mTLS {series['mtls'].samples[-1].seconds:.2f}s (probe phase {series['mtls'].samples[-1].requests.probe_seconds:.2f}s, "
            f"{series['mtls'].samples[-1].requests.probe_pods} probe pods)")
    return series


def _outcomes(output: str) -> dict[str, int]:
    lines = [l for l in output.splitlines() if re.search(r"\d+ (passed|failed|errors?)", l)]
    return {k: int(n) for n, k in _OUTCOME.findall(lines[-1])} if lines else {}


FAILURE_LOG = REPO / "reports" / "bench-failure.log"


def _tail(text: str, lines: int = 25) -> str:
    """The last lines, for the terminal; the whole output goes to reports/bench-failure.log, since the
    cause of a failed run (a could-not-check reason, a traceback) is usually above the summary."""
    FAILURE_LOG.parent.mkdir(parents=True, exist_ok=True)
    FAILURE_LOG.write_text(text)
    return "\n".join(text.splitlines()[-lines:]) + f"\n(whole output: {FAILURE_LOG.relative_to(REPO)})"
